/* nb_render.cu -- the CUDA engine's kernels: one thread per pixel, the physics of
   nb_physics.h (the very header the C engine is built from) through nb_tile.h (the per-pixel
   body the host also runs in tests).

   Built at run time by CuPy (NVRTC), through nbgpu/engine_cuda.py, with:
     -DNB_SINGLE=0 --fmad=false   double precision, nanoBragg's arithmetic (no fused multiply-add)
     -DNB_SINGLE=1                single precision (see nb_physics.h for what stays in double)
   and -I pointing at the folder holding nb_problem.h, nb_physics.h and nb_tile.h. */
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_tile.h"

/* render a tile of rows; *earliest gets the smallest pixel index that switched interpolation off */
extern "C" __global__ void nb_render_pixels(const nb_problem *p, int row0, int nrows, long long first_pixel,
                                            long long interp_until, long long only_after, float *image,
                                            double *omega, unsigned long long *earliest)
{
    long long local = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (local >= (long long)nrows * p->fpixels) return;
    if (nb_tile_pixel(p, row0, local, first_pixel, interp_until, only_after, image, omega))
        atomicMin(earliest, (unsigned long long)(row0 * (long long)p->fpixels + local));
}

/* the solid angle of each row, summed in pixel order (deterministic, unlike atomics) */
extern "C" __global__ void nb_row_sums(const double *omega, int fpixels, int nrows, double *row_sums)
{
    int row = blockIdx.x * blockDim.x + threadIdx.x;
    if (row >= nrows) return;
    double sum = 0.0;
    for (int f = 0; f < fpixels; ++f) sum += omega[(long long)row * fpixels + f];
    row_sums[row] = sum;
}

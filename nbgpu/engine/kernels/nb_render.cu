/* nb_render.cu -- the CUDA engine's kernels: the physics of nb_physics.h (the very header the C
   engine is built from) through nb_tile.h (the per-pixel body the host also runs in tests).

   Built at run time by CuPy (NVRTC), through nbgpu/engine/cuda.py, once per variant: the
   features a problem uses (NB_VARIANT, NB_V_*; see nb_physics.h) and the precision, always with
   the GPU's arithmetic (NB_KERNEL_ARITHMETIC: the exact offset lattice factor)
     -DNB_SINGLE=0 --fmad=false   double precision, no fused multiply-add
     -DNB_SINGLE=1 --fmad=true    single precision (the fast mode)
   and the headers' text pasted in place of the #include lines (so that CuPy's cache, keyed on
   the source and options, sees every change to them). */
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_tile.h"

/* control words shared with the host while a launch runs */
#define NB_CONTROL_DONE 0      /* pixels processed so far (all threads together) */
#define NB_CONTROL_CANCEL 1    /* set by the host: stop */

/* the problem being rendered: every thread reads the same fields */
extern "C" {
__constant__ nb_problem nb_problem_on_device;
}

/* render a tile of rows, one thread per pixel (the launch has a thread for every pixel: see
   launch_grid in engine/cuda_kernels.py); *earliest gets the smallest pixel index that switched
   interpolation off.  Each pixel first reads the cancel word (one L2 load), so a cancel stops
   the launch within one pixel's time.  (A grid-stride loop instead held 6 to 16 registers more.) */
extern "C" __global__ void nb_render_pixels(int row0, int nrows, long long first_pixel, long long interp_until,
                                            long long only_after, float *image, double *omega,
                                            unsigned long long *earliest, unsigned long long *control)
{
    const nb_problem *p = &nb_problem_on_device;
    const long long local = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (local >= (long long)nrows * p->fpixels || ((volatile unsigned long long *)control)[NB_CONTROL_CANCEL])
        return;
    if (nb_tile_pixel(p, row0, local, first_pixel, interp_until, only_after, image, omega))
        atomicMin(earliest, (unsigned long long)(row0 * (long long)p->fpixels + local));
    const unsigned active = __activemask();
    if ((int)(threadIdx.x & 31) == __ffs(active) - 1)
        atomicAdd(&control[NB_CONTROL_DONE], (unsigned long long)__popc(active));
}

/* the solid angle of each row, its pixels added in order as the C engine adds them: blocks of
   32 x 8 threads read tiles of 32 rows x 32 pixels together (coalesced), then one thread per row
   adds its row's 32 values */
extern "C" __global__ void nb_row_sums(const double *omega, int fpixels, int nrows, double *row_sums)
{
    __shared__ double tile[32][33];
    const int row0 = blockIdx.x * 32, lane = threadIdx.x, warp = threadIdx.y;
    double sum = 0.0;
    int f0, r, i;
    for (f0 = 0; f0 < fpixels; f0 += 32) {
        for (r = warp; r < 32; r += blockDim.y) {
            const int row = row0 + r, f = f0 + lane;
            tile[r][lane] = (row < nrows && f < fpixels) ? omega[(long long)row * fpixels + f] : 0.0;
        }
        __syncthreads();
        if (warp == 0) {
            const int n = fpixels - f0 < 32 ? fpixels - f0 : 32;
            for (i = 0; i < n; ++i) sum += tile[lane][i];
        }
        __syncthreads();
    }
    if (warp == 0 && row0 + lane < nrows) row_sums[row0 + lane] = sum;
}

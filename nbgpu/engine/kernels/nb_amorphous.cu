/* nb_amorphous.cu -- nonBragg's render on a GPU: one thread per rendered pixel of a block of
   rows, the same per-pixel physics as the C engine (nb_amorphous_physics.h).

   Only for a problem whose pixels are independent: a strictly increasing table (p->monotonic,
   the search starting at its stol's bucket) -- the C engine renders the others in pixel order.
   The problem struct and every array it points to are in device memory.  Each sub-pixel's
   solid angle goes to `omegas` (oversample^2 per pixel, in pixel order) for the host to add in
   nonBragg's order.  Build with --fmad=false (and IEEE division and square root, CUDA's default):
   then products, quotients and roots are nonBragg's to the bit; sin/cos/atan2 (curved detector,
   Kahn factor) are CUDA's own and may differ in the last bits. */
#include "nb_amorphous_problem.h"
#include "nb_amorphous_physics.h"

extern "C" __global__ void nba_render_pixels(const nba_problem *p, int s_begin, int rows, int f0, int width,
                                             float *image, double *omegas)
{
    const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (long)rows * width) return;
    nba_kernel_pixel(p, t, s_begin, f0, width, image, omegas);
}

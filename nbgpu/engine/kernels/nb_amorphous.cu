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
    const int s = s_begin + (int)(t / width), f = f0 + (int)(t % width);
    const int subs = p->oversample * p->oversample;
    long first = 0;
    if (p->polar_axes > 1) {
        int rf0, rf1, rs0, rs1;
        nba_region(p, &rf0, &rf1, &rs0, &rs1);
        first = ((long)(s - rs0) * (rf1 - rf0 + 1) + (f - rf0)) * subs * p->sources;
    }
    nba_last last;
    last.stol = last.omega = last.F = 0.0;
    last.polar = 1.0;
    last.pos[0] = last.pos[1] = last.pos[2] = 0.0;
    last.nearest = 1;
    const double Ibg = nba_pixel(p, f, s, first, omegas + t * subs, &last);
    const long j = (long)s * p->fpixels + f;
    image[j] += Ibg * p->r_e_sqr * p->fluence * p->molecules / p->steps;
    if (p->fmap) image[j] = (float)last.F;
}

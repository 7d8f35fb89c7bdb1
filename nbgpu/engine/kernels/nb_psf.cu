/* nb_psf.cu -- noisify's point-spread function on a GPU: one thread per output pixel gathers
   the source pixels that reach it, in noisify's order (nb_psf_gather.h, also run on the host by
   csrc/nb_psf.c's nb_psf_gather_host).  Build with --fmad=false: each term's product and sum are
   then rounded as the C engine rounds them, and the image is the C engine's to the bit. */
#include "nb_psf_gather.h"

extern "C" __global__ void nb_psf_gather(const float *photons, const int *radius, const int *row_reach,
                                         const double *kernel, int kernel_radius, int reach, int xpixels,
                                         int ypixels, double each, float *out)
{
    const long j = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= (long)xpixels * ypixels) return;
    out[j] = nbp_gather_pixel(photons, radius, row_reach, kernel, kernel_radius, reach, xpixels, ypixels, each, j);
}

/* nb_side_work.h -- the noise loop with other work beside it (not a cffi header).

   The draws are one chain of dependent operations: the core has issue slots to spare while
   they wait.  nb_noise_photons_beside is nb_noise_photons calling side(context) once a pixel
   (with calibration noise alone), between the draws, for work that does not depend on them,
   such as spreading the pixels of rows drawn before (nb_psf.c): it runs in those slots. */
#ifndef NB_SIDE_WORK_H
#define NB_SIDE_WORK_H

typedef void (*nb_side_work)(void *context);

double nb_noise_photons_beside(nb_rng *r, const float *expected, float *counts, long n, double flicker,
                               double calibration, long *seed, long *calib_seed, nb_side_work side, void *context);

#endif

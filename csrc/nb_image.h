/* nb_image.h -- what nanoBragg does with the float image after rendering (plain declarations:
   also cffi's cdef).  Done in C because its float rounding and order of summation are part
   of the output. */

typedef struct nb_stats {
    double max_I, max_I_x, max_I_y;   /* brightest pixel and its last sub-pixel position (m) */
    double mean, rms, rmsd;
    long rendered;                    /* pixels that were rendered (ROI, unmasked) */
} nb_stats;

void nb_image_stats(const nb_problem *p, const float *image, nb_stats *out);

/* the SMV integer image, floor(value*int_scale + adc + 0.5) clamped to 0..65535, and (unless
   pgm is NULL) the PGM bytes, value*pgm_scale truncated and capped at 255, over the ROI */
void nb_convert_image(const nb_problem *p, const float *image, double int_scale, double adc,
                      unsigned short *ints, double pgm_scale, unsigned char *pgm);

/* Poisson noise image over the ROI in row-major order; returns the photon count */
double nb_noise_image(nb_rng *r, long *seed, const nb_problem *p, const float *image, double adc,
                      unsigned short *out, int *overloads);

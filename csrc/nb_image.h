/* nb_image.h -- what nanoBragg does with the float image after rendering (plain declarations:
   also cffi's cdef).  Done in C because its float rounding and order of summation are part
   of the output. */

typedef struct nb_stats {
    double max_I, max_I_x, max_I_y;   /* brightest pixel and its last sub-pixel position (m) */
    double mean, rms, rmsd;
    long rendered;                    /* pixels that were rendered (ROI, unmasked) */
} nb_stats;

void nb_image_stats(const nb_problem *p, const float *image, nb_stats *out);

/* SMV integer image: floor(value*scale + adc + 0.5) clamped to 0..65535 over the ROI */
void nb_int_image(const nb_problem *p, const float *image, double scale, double adc, unsigned short *out);

/* PGM bytes: value*scale truncated, capped at 255, over the ROI */
void nb_pgm_image(const nb_problem *p, const float *image, double scale, unsigned char *out);

/* Poisson noise image over the ROI in row-major order; returns the photon count */
double nb_noise_image(nb_rng *r, long *seed, const nb_problem *p, const float *image, double adc,
                      unsigned short *out, int *overloads);

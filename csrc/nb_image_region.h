/* nb_image_region.h -- the loops over an image region that nanoBragg's (nb_image.c) and
   nonBragg's (nb_amorphous_image.c) statistics and conversions share, defined in nb_image.c.
   Internal: not part of the cdef.  A region is columns f0..f1 and rows s0..s1, inclusive, of an
   image fpixels wide; every loop goes row-major, so the serial sums round as the programs'. */

typedef struct nb_region {
    int fpixels, f0, f1, s0, s1;
} nb_region;

typedef struct nb_sums {
    double max_I;                     /* the brightest value, 0 when none is above 0 */
    long max_at;                      /* its index, -1 when none */
    double sum, sumsqr;               /* of v and of (float)(v*v), in row order */
    long n;                           /* the pixels summed */
} nb_sums;

/* the sums over the region, leaving out pixels whose mask byte is 0 (mask NULL: none) */
void nb_region_sums(nb_region g, const float *image, const unsigned char *mask, nb_sums *out);

/* where the programs say the brightest pixel is: its last sub-pixel's centre (m); 0 0 if none */
void nb_brightest_position(long at, int fpixels, int oversample, double subpixel_size, double *x, double *y);

/* sqrt(sum((v - mean)^2) / (n - 1)) over every pixel of the region, n at least 2; each value
   read `offset` pixels on (nonBragg reads the next pixel's: offset 1) */
double nb_region_rmsd(nb_region g, const float *image, double mean, int offset);

/* the SMV integers and (unless pgm is NULL) the PGM bytes of the region, one parallel pass */
void nb_region_convert(nb_region g, const float *image, double int_scale, double adc, unsigned short *ints,
                       double pgm_scale, unsigned char *pgm);

/* Poisson noise over the region in row order (one generator); returns the photon count */
double nb_region_noise(nb_region g, nb_rng *r, long *seed, const float *image, double adc, unsigned short *out,
                       int *overloads);

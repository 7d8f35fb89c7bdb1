/* nb_noise.h -- noisify's per-pixel work (plain declarations: also cffi's cdef).

   The noise draws use nb_rng's generators with one nb_rng state for every seed of the run, as
   noisify's static variables are shared: one shuffle table, one Box-Muller spare, one poidev
   cache.  Integer conversions follow x86-64: a double goes to a 32-bit word through a 64-bit
   truncation and to a 16-bit word through a 32-bit one (an out-of-range value gives 0). */

/* noiseless ADU: photons*gain+adc, clamped at 2^31-1 then 65535, into both word sizes; on
   `threads` threads (0: OpenMP's default; 1 while the noise draws hold a core) */
void nb_noiseless_adu(const float *photons, long n, double gain, double adc,
                      unsigned short *out16, unsigned int *out32, int threads);

/* counts[i]: a Poisson count of expected[i] (counts may be expected) after a flicker factor
   (seed) when flicker > 0 and a calibration factor (calib_seed) when calibration > 0, drawn in
   pixel order; returns the sum of the counts */
double nb_noise_photons(nb_rng *r, const float *expected, float *counts, long n, double flicker,
                        double calibration, long *seed, long *calib_seed);

/* noisy ADU with readout noise (seed); counts the overloads of word size `bits` (16 or 32,
   none otherwise) into *overloads; returns the sum of the photons (0 without readout noise and
   sum_photons 0: the caller has it already, from the draws) */
double nb_noisy_adu(nb_rng *r, const float *photons, long n, double gain, double adc, double readout,
                    long *seed, int bits, unsigned short *out16, unsigned int *out32, int *overloads, int sum_photons);

/* point-spread function kernel (2R+1)^2, index (R+dy)*(2R+1)+R+dx; type 1 fiber, 2 gauss */
void nb_psf_kernel(double *kernel, int radius, int type, double fwhm_pixels);

/* noisify's spreading of `in` (xpixels*ypixels) into `out` (zeroed, same size) with a kernel
   of radius kernel_radius; user_radius != 0 is used for every pixel, else each pixel's own.
   Returns 0, -2 when out of memory, or -1 with *bad set to the first pixel whose radius is not a
   number, overflows an int or exceeds the kernel's.  *lost: the photons beyond the radii,
   already spread evenly over `out`. */
int nb_psf_apply(const float *in, float *out, int xpixels, int ypixels, int type, double fwhm_pixels,
                 int user_radius, int kernel_radius, double *lost, long *bad);

/* nb_noise_photons (expected -> photons) with the point-spread function applied to each row as soon as it is drawn
   (between the draws on one thread, on a second thread when there is one): `out` (zeroed)
   receives the spread image, the lost photons added back.  user_radius != 0 is every pixel's
   radius, else each pixel's own; *reach: the largest radius used (the caller checks it against
   the kernel radius noisify takes from the maximum).  Returns 0, -2 when out of memory, or -1
   with *bad the first pixel with no automatic radius; *noise_sum: the sum of the counts; *lost:
   the photons beyond the radii.  With out16 (not NULL; no readout noise): the noise image's
   words of `out` as nb_noisy_adu makes them, *overloads, and *image_sum, the sum of `out`. */
int nb_noise_psf(nb_rng *r, const float *expected, float *photons, float *out, int xpixels, int ypixels, double flicker,
                 double calibration, long *seed, long *calib_seed, int type, double fwhm_pixels,
                 int user_radius, double *noise_sum, double *lost, int *reach, long *bad, double gain, double adc,
                 int bits, unsigned short *out16, unsigned int *out32, int *overloads, double *image_sum);

/* the radius noisify sizes its kernel with from the image maximum (before its clamp to the
   image); 0, or -1 when it is not a number or overflows an int */
int nb_psf_auto_radius(double max_photons, int type, double fwhm_pixels, int *radius);

/* photons[i] = (float)(factor * in[i]); *max_value: the largest value above 0 (0 if none);
   counts of negative and of non-finite values; photons may be NULL (statistics only) */
void nb_photon_image(const float *in, long n, double factor, float *photons, double *max_value,
                     long *negatives, long *nonfinite);

/* the indices of the first `count` negative values, in order */
void nb_negative_pixels(const float *in, long n, long *indices, long count);

/* PGM bytes: min(word, 255), on `threads` threads as nb_noiseless_adu */
void nb_pgm_pixels(const unsigned short *words, long n, unsigned char *out, int threads);

/* each pixel's PSF radius (0 for a pixel that spreads nothing), each row's largest, the lost
   photons' sum in pixel order and the largest radius, as nb_psf_apply takes them: for the GPU's
   gather (nb_psf_gather.h).  0; -1 with *bad the first pixel whose radius is not a number or
   exceeds `limit`; -2 out of memory */
int nb_psf_radii(const float *in, int xpixels, int ypixels, int type, double fwhm_pixels, int user_radius, int limit,
                 int *radius, int *row_reach, double *lost, int *reach, long *bad);

/* the CUDA kernel nb_psf_gather run on the host (every output pixel through nb_psf_gather.h) */
void nb_psf_gather_host(const float *photons, const int *radius, const int *row_reach, const double *kernel,
                        int kernel_radius, int reach, int xpixels, int ypixels, double each, float *out);

/* nb_noise_photons (expected -> counts, xpixels*ypixels) and, without readout noise, the noise
   image's words (nb_noisy_adu's) made from each row as soon as it is drawn, on the same thread;
   returns the sum of the counts in pixel order */
double nb_noise_words(nb_rng *r, const float *expected, float *counts, int xpixels, int ypixels, double flicker,
                      double calibration, long *seed, long *calib_seed, double gain, double adc, int bits,
                      unsigned short *out16, unsigned int *out32, int *overloads);

/* the claims nb_noise_photons' bounds rest on (csrc/nb_draw_bounds.h), over the float bit
   patterns first, first+step, ... below last: which 0, for every float rsq in (0, 1), the table's
   bounds hold gaussdev's factor (float)sqrt(-2 log(rsq)/rsq); which 1, for every float x in
   [0, 12), the polynomial's bounds hold (float)exp(-x), and the next float's value is no larger.
   Returns the number of floats where a claim fails (bench/draws_proof.py: every float). */
long nb_draw_bounds_check(unsigned int first, unsigned int last, unsigned int step, int which);

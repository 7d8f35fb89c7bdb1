/* nb_amorphous.h -- nonBragg's render: the diffuse scattering of an amorphous sample from a
   table of F against sin(theta)/lambda (plain declarations: also cffi's cdef).

   The problem (nba_problem: nbgpu/engine/kernels/nb_amorphous_problem.h) is filled by
   nbgpu/engine/amorphous.py from the nonBragg setup; the per-pixel physics is
   nbgpu/engine/kernels/nb_amorphous_physics.h.  Rows are rendered in blocks, so
   that the caller can print the progress meter between them; the solid-angle sum and the
   table index (`nearest`) carry over from one block to the next, in pixel order. */


/* render rows [s_begin, s_end) into image (fpixels x spixels floats, zero before); scratch
   holds fpixels*oversample^2 doubles per row of the block.  Returns 0, or 1 when the region
   is empty. */
int nba_render_rows(nba_problem *p, int s_begin, int s_end, float *image, double *scratch);

/* nb_amorphous.cu's launch over rows [s_begin, s_begin + rows) x columns [f0, f0 + width), run
   on the host (the CUDA engine's emulation without a GPU); omegas: oversample^2 per pixel */
void nba_render_pixels_host(const nba_problem *p, int s_begin, int rows, int f0, int width, float *image,
                            double *omegas);

/* whether a problem renders on the vector fast path (same bits, regrouped) */
int nba_fast_path(const nba_problem *p);

/* what nonBragg prints of one pixel with -printout: the last evaluation's stol (1/m), the
   pixel position (m), polarization and solid angle; evaluation: the index of the pixel's
   first evaluation in the render's order */
void nba_trace_pixel(const nba_problem *p, int fpixel, int spixel, long evaluation, double *out);

typedef struct nba_stats {
    double max_I, max_I_x, max_I_y;
    double sum, sumsqr;               /* over the rendered pixels, in order */
    long rendered;
} nba_stats;

void nba_image_stats(const nba_problem *p, const float *image, nba_stats *out);

/* nonBragg's rmsd: each region pixel's *following* value (image has one extra 0 at the end) */
double nba_rmsd(const nba_problem *p, const float *image, double mean);

void nba_convert(const nba_problem *p, const float *image, double int_scale, double adc,
                 unsigned short *ints, double pgm_scale, unsigned char *pgm);

/* Poisson noise over the region in row order; returns the photons drawn */
double nba_noise(const nba_problem *p, nb_rng *r, long *seed, const float *image, double adc,
                 unsigned short *out, int *overloads);

/* the -img profile: each bin's mean and rms deviation of F (float arithmetic), and its count,
   for bins 2..stols-3, with the bins laid out in one buffer as nonBragg lays them out
   (counts: stols entries) */
/* fill bucket_start (p->buckets entries) from p->stol_of, p->bucket_lo and p->bucket_scale: for
   each bucket, the last table index at or below its left edge (between 1 and stols-3) */
void nba_fill_buckets(const nba_problem *p, int *bucket_start);

/* fill den (4 per entry of the padded table, stols + tail entries) */
void nba_polint_denominators(const double *xa, int entries, double *den);

void nba_profile(const nba_problem *p, const unsigned int *counts, float *avg, float *rmsd);

/* nb_rows.h -- the row renderers behind nb_render_image (internal to the C engine).

   A row renderer renders the rendered pixels (ROI, unmasked) of one detector row in
   nanoBragg's order, starting from the pixel state *st, and returns the fast index of the
   pixel that switched interpolation off (st then holds that evaluation's indices), or -1.
   image is the whole detector; *omega_row receives the row's solid angle (per-pixel sums
   added in pixel order).  It returns early, leaving the row incomplete, once *cancel is set.

   nb_cpu_*.c build the double-precision renderer of nb_lanes.h once per CPU level; the
   single-precision one is plain nb_pixel calls (nb_engine_single.c). */

typedef int (*nb_row_fn)(const nb_problem *p, int spixel, long first_pixel, int math, nb_pixel_state *st,
                         float *image, double *omega_row, const int *cancel);

int nb_row_base(const nb_problem *p, int spixel, long first_pixel, int math, nb_pixel_state *st,
                float *image, double *omega_row, const int *cancel);
int nb_row_avx2(const nb_problem *p, int spixel, long first_pixel, int math, nb_pixel_state *st,
                float *image, double *omega_row, const int *cancel);
int nb_row_avx512(const nb_problem *p, int spixel, long first_pixel, int math, nb_pixel_state *st,
                  float *image, double *omega_row, const int *cancel);
int nb_row_single(const nb_problem *p, int spixel, long first_pixel, int math, nb_pixel_state *st,
                  float *image, double *omega_row, const int *cancel);

/* CPU levels beyond the compiler's default need GCC's target pragmas (GCC 11 for x86-64-v3/v4) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && !defined(NB_NO_CPU_LEVELS)
#define NB_HAVE_CPU_LEVELS 1
#else
#define NB_HAVE_CPU_LEVELS 0
#endif

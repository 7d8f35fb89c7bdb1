/* nb_engine.h -- the C engine's entry points (plain declarations: also cffi's cdef). */

/* status codes returned to Python; the C core never exits */
#define NB_OK 0
#define NB_BAD_ARGUMENT 1
#define NB_NO_MEMORY 2

/* state carried from one call of nb_render_rows to the next (row blocks, in order) */
typedef struct nb_run_state {
    int first_sweep;     /* in/out: 1 until the run's first phi sweep has been evaluated */
    long first_pixel;    /* out: the pixel that evaluated it (slow * fpixels + fast), or -1 */
    int interpolate;     /* in/out: the global tricubic switch */
    int switched_off;    /* out: set when interpolation was switched off ... */
    long off_pixel;      /* ... at this pixel (slow * fpixels + fast) ... */
    double off_h, off_k, off_l;   /* ... by this evaluation */
    int off_h0, off_k0, off_l0;
} nb_run_state;

/* render rows [row0, row1) into image (fpixels*spixels floats, zero outside what is rendered);
   omega_rows[row] receives the row's solid-angle sum */
int nb_render_rows(const nb_problem *p, int row0, int row1, float *image, double *omega_rows,
                   nb_run_state *rs);

/* recompute one pixel from the given state, filling tr with its last values */
int nb_trace_pixel(const nb_problem *p, int fpixel, int spixel, nb_pixel_state *st, nb_trace *tr);

/* the same two in single precision (nb_engine_single.c) */
int nb_render_rows_single(const nb_problem *p, int row0, int row1, float *image, double *omega_rows,
                          nb_run_state *rs);
int nb_trace_pixel_single(const nb_problem *p, int fpixel, int spixel, nb_pixel_state *st, nb_trace *tr);

/* threads OpenMP will use, or 0 when the engine was built without OpenMP */
int nb_openmp_threads(void);

/* the pixel of rows [row0, row1) that evaluates the run's first phi sweep (usually the first
   rendered one; later if -dmin culls every source of the earlier ones), or -1 */
long nb_first_sweep_pixel(const nb_problem *p, int row0, int row1);

/* the CUDA kernel nb_render_pixels (nbgpu/kernels/nb_render.cu) run on the host, for tests */
int nb_render_tile(const nb_problem *p, int row0, int nrows, long long first_pixel, long long interp_until,
                   long long only_after, float *image, double *omega, unsigned long long *earliest);
int nb_render_tile_single(const nb_problem *p, int row0, int nrows, long long first_pixel,
                          long long interp_until, long long only_after, float *image, double *omega,
                          unsigned long long *earliest);

/* nb_engine.h -- the C engine's entry points (plain declarations: also cffi's cdef). */

/* status codes returned to Python; the C core never exits */
#define NB_OK 0
#define NB_BAD_ARGUMENT 1
#define NB_NO_MEMORY 2

/* how the double-precision image is computed: every variant gives nanoBragg's image, the
   "libm" ones bit for bit; "vector" ones take sin, cos and exp of the lattice factor from
   glibc's vector math library (libmvec), a few ulp away from libm's */
#define NB_MATH_LIBM 0
#define NB_MATH_VECTOR 1

/* CPU code paths, best first; nb_cpu_level() says which this machine runs */
#define NB_CPU_BASE 0       /* the compiler's default target */
#define NB_CPU_AVX2 3       /* x86-64-v3 */
#define NB_CPU_AVX512 4     /* x86-64-v4 */

/* One render of a whole image: what the caller sets, what it may read while the render runs
   (from another thread), and what the render reports. */
typedef struct nb_render_state {
    /* set by the caller before the render */
    int single;          /* 1: the single-precision engine (nb_engine_single.c) */
    int math;            /* NB_MATH_LIBM or NB_MATH_VECTOR (double precision only) */
    int cpu;             /* highest NB_CPU_* level to use; -1: the best this CPU has */
    int interpolate;     /* the global tricubic switch at the start */
    /* set by the caller at any time: stop at the next batch of pixels */
    int cancel;
    /* progress, updated while the render runs: every rendered pixel before the `done`-th one
       (in nanoBragg's order) has its final value; once off_known is set, the switch-off of
       interpolation is final and off_done rendered pixels come before it */
    long done;
    int off_known;
    long off_done;
    /* reported at the end */
    int cancelled;       /* the render stopped early: the image is incomplete */
    long first_pixel;    /* the pixel (slow * fpixels + fast) that evaluated the first phi sweep, or -1 */
    int switched_off;    /* interpolation was switched off ... */
    long off_pixel;      /* ... at this pixel ... */
    nb_switch_off off;   /* ... by this evaluation */
    double omega_sum;    /* solid angle of every sub-pixel and layer: per pixel, per row, then rows, in order */
    int cpu_used;        /* the NB_CPU_* level that rendered */
} nb_render_state;

/* the derived fields of p (the end of nb_problem.h), from the others: kahn_frames' 9 doubles
   per source into `frames`, then the rest into p */
void nb_kahn_frames(const nb_problem *p, double *frames);
void nb_derive(nb_problem *p);
void nb_derive_detector(nb_problem *p);     /* the part of nb_derive that depends on where the panel is */

/* panel `panel` of a multi-panel problem as a one-panel problem (its rows, mask and geometry);
   a one-panel problem is copied as it is */
void nb_panel_view(const nb_problem *p, int panel, nb_problem *view);

/* render every pixel of the detector (zero outside what is rendered) in one parallel region;
   the image is nanoBragg's one-thread image whatever the thread count */
int nb_render_image(const nb_problem *p, float *image, nb_render_state *rs);

/* rendered pixels (ROI, unmasked): where nanoBragg's progress counter ends, and its value
   when it reaches `pixel` (slow * fpixels + fast) */
long nb_rendered_count(const nb_problem *p);
int nb_is_rendered(const nb_problem *p, int fpixel, int spixel);
long nb_rendered_before(const nb_problem *p, long pixel);

/* recompute one pixel from the given state, filling tr with its last values: nanoBragg's
   arithmetic (the C engine), and the GPU's in double and in single precision */
int nb_trace_pixel(const nb_problem *p, int fpixel, int spixel, nb_pixel_state *st, nb_trace *tr);
int nb_trace_pixel_kernel(const nb_problem *p, int fpixel, int spixel, nb_pixel_state *st, nb_trace *tr);
int nb_trace_pixel_single(const nb_problem *p, int fpixel, int spixel, nb_pixel_state *st, nb_trace *tr);

/* threads OpenMP will use, or 0 when the engine was built without OpenMP */
int nb_openmp_threads(void);

/* the best NB_CPU_* level this machine and build support, and whether the build has vector math */
int nb_cpu_level(void);
int nb_vector_math_built(void);

/* the pixel of rows [row0, row1) that evaluates the run's first phi sweep (usually the first
   rendered one; later if -dmin culls every source of the earlier ones), or -1 */
long nb_first_sweep_pixel(const nb_problem *p, int row0, int row1);

/* the CUDA kernel nb_render_pixels (nbgpu/engine/kernels/nb_render.cu) run on the host, for tests */
int nb_render_tile(const nb_problem *p, int row0, int nrows, long long first_pixel, long long interp_until,
                   long long only_after, float *image, double *omega, unsigned long long *earliest);
int nb_render_tile_single(const nb_problem *p, int row0, int nrows, long long first_pixel,
                          long long interp_until, long long only_after, float *image, double *omega,
                          unsigned long long *earliest);

/* nb_amorphous_problem.h -- nonBragg's render problem, as the C engine (csrc/nb_amorphous.c) and
   a CUDA kernel (nb_amorphous.cu) read it.  Plain declarations, no includes: also cffi's cdef,
   so the layout Python fills (nbgpu/engine/amorphous.py) is the one the compilers see. */

typedef struct nba_problem {
    int fpixels, spixels;
    int xmin, xmax, ymin, ymax;      /* the region as nonBragg keeps it (inclusive; may pass the edge) */
    int oversample;
    double pixel_size, subpixel_size;
    double fdet[3], sdet[3], odet[3], pix0[3], beam[3];
    double distance, close_distance;
    int curved, point_pixel, nopolar, fmap;
    double kahn;                      /* Kahn polarization factor */
    int polar_axes;                   /* how many vectors polar_axis holds (at least 1) */
    const double *polar_axis;         /* the E-vector as each evaluation sees it: nonBragg renormalizes it
                                         at every call, so evaluation k uses entry min(k, polar_axes-1) */
    int sources;
    const double *incident;           /* 3 per source: the unit incident direction */
    const double *incident_polar;     /* 3 per source: the same renormalized, as the polarization sees it */
    const double *source_lambda;      /* m */
    const double *source_I;
    int stols;                        /* entries of the padded table */
    const double *stol_of;            /* sin(theta)/lambda in 1/m, padded with -1e99 -1e98 ... 1e98 1e99 */
    const double *F_of;
    const double *polint_den;         /* 4 per window start: the interpolation's denominators */
    int monotonic;                    /* stol_of strictly increasing: the search may start anywhere */
    int buckets;                      /* with monotonic: where to start the search for a stol, */
    const int *bucket_start;          /* bucket_start[(stol - bucket_lo) * bucket_scale], clamped */
    double bucket_lo, bucket_scale;
    int threads;                      /* 0: OpenMP's default */
    double r_e_sqr, fluence, molecules, steps;
    /* -img: the input image converted back to F, pixel by pixel */
    const float *img;                 /* NULL without -img */
    int ignores;
    const unsigned short *ignore;     /* pixel values left out of the profile */
    double adc, gain;
    float *F_image;                   /* out: F of each rendered pixel */
    int *bin_of;                      /* out: its table bin (0: invalid; -1: not rendered) */
    /* carried in pixel order from one block of rows to the next */
    int nearest;
    double omega_sum;
} nba_problem;

/* nb_engine.c -- the C engine: an OpenMP loop over detector rows calling nb_pixel().

   The result is the image nanoBragg renders with ONE thread, whatever the thread count here.
   nanoBragg carries two pieces of state from pixel to pixel, and both are reproduced:
   - the phi = 0 carry-over: only the run's very first phi sweep sees the unrotated lattice,
     so rows are rendered serially until that sweep has happened;
   - the global interpolation switch: the first out-of-range evaluation in row-major order
     turns it off for every later pixel.  Rows run in parallel with interpolation on; once the
     earliest switch-off is known, rows after it that were started with interpolation on are
     rendered again with it off. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_tile.h"
#include "nb_engine.h"

/* nb_engine_single.c builds this file again with NB_SINGLE and "_single" entry points */
#ifndef NB_ENGINE_NAME
#define NB_ENGINE_NAME(name) name
#endif

static int pixel_rendered(const nb_problem *p, int fpixel, int spixel)
{
    if (fpixel < p->roi_xmin || fpixel > p->roi_xmax || spixel < p->roi_ymin || spixel > p->roi_ymax)
        return 0;
    return p->mask == NULL || p->mask[(long)spixel * p->fpixels + fpixel] != 0;
}

/* render one row in order; returns the fast index of the pixel that switched interpolation
   off, or -1; *first_at gets the pixel that evaluated the first phi sweep, if any */
static int render_row(const nb_problem *p, int spixel, float *image, double *omega_row,
                      nb_pixel_state *st, int *first_at)
{
    int fpixel, switched_at = -1;
    double omega = 0.0;
    for (fpixel = 0; fpixel < p->fpixels; ++fpixel) {
        long idx = (long)spixel * p->fpixels + fpixel;
        if (!pixel_rendered(p, fpixel, spixel)) continue;
        int was_on = st->interpolate, was_first = st->first_sweep;
        image[idx] = (float)(0.0 + nb_pixel(p, fpixel, spixel, st, &omega, NULL));
        if (was_on && !st->interpolate && switched_at < 0) switched_at = fpixel;
        if (was_first && !st->first_sweep) *first_at = fpixel;
    }
    *omega_row = omega;
    return switched_at;
}

static void note_switch_off(nb_run_state *rs, const nb_pixel_state *st, long pixel)
{
    rs->interpolate = 0;
    rs->switched_off = 1;
    rs->off_pixel = pixel;
    rs->off_h = st->off_h; rs->off_k = st->off_k; rs->off_l = st->off_l;
    rs->off_h0 = st->off_h0; rs->off_k0 = st->off_k0; rs->off_l0 = st->off_l0;
}

#if !(defined(NB_SINGLE) && NB_SINGLE)
int nb_openmp_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 0;
#endif
}
#endif

int NB_ENGINE_NAME(nb_render_rows)(const nb_problem *p, int row0, int row1, float *image, double *omega_rows,
                   nb_run_state *rs)
{
    int row = row0;
    if (row0 < 0 || row1 > p->spixels || row0 > row1) return NB_BAD_ARGUMENT;

    /* serial until the first phi sweep has happened (usually the first rendered pixel) */
    while (row < row1 && rs->first_sweep) {
        nb_pixel_state st;
        memset(&st, 0, sizeof st);
        st.first_sweep = 1;
        st.interpolate = rs->interpolate;
        int first_at = -1;
        int at = render_row(p, row, image, &omega_rows[row], &st, &first_at);
        rs->first_sweep = st.first_sweep;
        if (first_at >= 0) rs->first_pixel = (long)row * p->fpixels + first_at;
        if (at >= 0) note_switch_off(rs, &st, (long)row * p->fpixels + at);
        ++row;
    }
    if (row >= row1) return NB_OK;

    const int first = row, nrows = row1 - row;
    if (!rs->interpolate) {
        int r;
        #pragma omp parallel for schedule(dynamic, 1)
        for (r = first; r < row1; ++r) {
            nb_pixel_state st;
            int unused;
            memset(&st, 0, sizeof st);
            render_row(p, r, image, &omega_rows[r], &st, &unused);
        }
        return NB_OK;
    }

    unsigned char *started_on = (unsigned char *)calloc((size_t)nrows, 1);
    if (started_on == NULL) return NB_NO_MEMORY;
    long earliest = -1;            /* pixel index of the earliest switch-off found so far */
    nb_pixel_state earliest_st;
    memset(&earliest_st, 0, sizeof earliest_st);
    int r;
    #pragma omp parallel for schedule(dynamic, 1)
    for (r = first; r < row1; ++r) {
        long known;
        #pragma omp atomic read
        known = earliest;
        nb_pixel_state st;
        int unused;
        memset(&st, 0, sizeof st);
        /* a row wholly after a known switch-off is rendered without interpolation */
        st.interpolate = (known < 0 || (long)r * p->fpixels < known);
        started_on[r - first] = (unsigned char)st.interpolate;
        int at = render_row(p, r, image, &omega_rows[r], &st, &unused);
        if (at >= 0) {
            long pixel = (long)r * p->fpixels + at;
            #pragma omp critical(nb_switch_off)
            {
                if (earliest < 0 || pixel < earliest) {
                    earliest_st = st;
                    #pragma omp atomic write
                    earliest = pixel;
                }
            }
        }
    }
    if (earliest >= 0) {
        const int switch_row = (int)(earliest / p->fpixels);
        note_switch_off(rs, &earliest_st, earliest);
        #pragma omp parallel for schedule(dynamic, 1)
        for (r = switch_row + 1; r < row1; ++r) {
            if (!started_on[r - first]) continue;
            nb_pixel_state st;
            int unused;
            memset(&st, 0, sizeof st);
            render_row(p, r, image, &omega_rows[r], &st, &unused);
        }
    }
    free(started_on);
    return NB_OK;
}

#if !(defined(NB_SINGLE) && NB_SINGLE)
long nb_first_sweep_pixel(const nb_problem *p, int row0, int row1)
{
    int f, s;
    if (row0 < 0 || row1 > p->spixels) return -1;
    for (s = row0; s < row1; ++s) {
        for (f = 0; f < p->fpixels; ++f) {
            if (!pixel_rendered(p, f, s)) continue;
            nb_pixel_state st;
            double omega = 0.0;
            memset(&st, 0, sizeof st);
            st.first_sweep = 1;
            nb_pixel(p, f, s, &st, &omega, NULL);
            if (!st.first_sweep) return (long)s * p->fpixels + f;
        }
    }
    return -1;
}
#endif

int NB_ENGINE_NAME(nb_trace_pixel)(const nb_problem *p, int fpixel, int spixel, nb_pixel_state *st, nb_trace *tr)
{
    double omega = 0.0;
    if (fpixel < 0 || fpixel >= p->fpixels || spixel < 0 || spixel >= p->spixels) return NB_BAD_ARGUMENT;
    memset(tr, 0, sizeof *tr);
    nb_pixel(p, fpixel, spixel, st, &omega, tr);
    return NB_OK;
}

/* the CUDA kernel nb_render_pixels, run on the host (tests of the CUDA engine's logic) */
int NB_ENGINE_NAME(nb_render_tile)(const nb_problem *p, int row0, int nrows, long long first_pixel,
                                   long long interp_until, long long only_after, float *image,
                                   double *omega, unsigned long long *earliest)
{
    long long local, count = (long long)nrows * p->fpixels;
    if (row0 < 0 || nrows < 0 || row0 + nrows > p->spixels) return NB_BAD_ARGUMENT;
    #pragma omp parallel for schedule(dynamic, 64)
    for (local = 0; local < count; ++local) {
        if (nb_tile_pixel(p, row0, local, first_pixel, interp_until, only_after, image, omega)) {
            unsigned long long pixel = (unsigned long long)(row0 * (long long)p->fpixels + local);
            #pragma omp critical(nb_tile_earliest)
            if (pixel < *earliest) *earliest = pixel;
        }
    }
    return NB_OK;
}

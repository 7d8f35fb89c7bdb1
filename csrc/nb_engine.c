/* nb_engine.c -- the C engine: the whole image in one OpenMP parallel region over detector rows.

   The result is the image nanoBragg renders with ONE thread, whatever the thread count here.
   nanoBragg carries two pieces of state from pixel to pixel, and both are reproduced:
   - the phi = 0 carry-over: only the run's very first phi sweep sees the unrotated lattice;
     the pixel that evaluates it is found first (nb_first_sweep_pixel) and rendered with it;
   - the global interpolation switch: the first out-of-range evaluation in row-major order
     turns it off for every later pixel.  Rows run in parallel with interpolation on until a
     switch-off is known; once the earliest one is final, the rows after it that were started
     with interpolation on are rendered again with it off, in the same parallel region.
   Progress is published as the count of rendered pixels, in nanoBragg's order, before which
   every pixel is final; the front end prints nanoBragg's meter from it while the render runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_engine.h"
#include "nb_rows.h"

int nb_openmp_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 0;
#endif
}

int nb_vector_math_built(void)
{
#if NB_HAVE_CPU_LEVELS && defined(NB_HAVE_LIBMVEC) && NB_HAVE_LIBMVEC
    return 1;
#else
    return 0;
#endif
}

int nb_cpu_level(void)
{
#if NB_HAVE_CPU_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return NB_CPU_AVX512;
    if (__builtin_cpu_supports("x86-64-v3")) return NB_CPU_AVX2;
#endif
    return NB_CPU_BASE;
}

/* the row renderer of this render; *level gets the CPU level it was built for */
static nb_row_fn pick_row(const nb_render_state *rs, int *level)
{
    int best = nb_cpu_level();
    if (rs->cpu >= 0 && rs->cpu < best) best = rs->cpu;
    *level = NB_CPU_BASE;
    if (rs->single) return nb_row_single;
#if NB_HAVE_CPU_LEVELS
    if (best >= NB_CPU_AVX512) { *level = NB_CPU_AVX512; return nb_row_avx512; }
    if (best >= NB_CPU_AVX2) { *level = NB_CPU_AVX2; return nb_row_avx2; }
#endif
    return nb_row_base;
}

/* rendered pixels in row s */
static long row_rendered(const nb_problem *p, int s)
{
    long count = 0;
    int f, first, last, s0, s1;
    if (s < p->roi_ymin || s > p->roi_ymax) return 0;
    if (p->mask == NULL) {
        nb_roi_limits(p, &first, &last, &s0, &s1);
        return last >= first ? last - first + 1 : 0;
    }
    for (f = 0; f < p->fpixels; ++f) count += nb_pixel_rendered(p, f, s);
    return count;
}

int nb_is_rendered(const nb_problem *p, int fpixel, int spixel)
{
    return nb_pixel_rendered(p, fpixel, spixel);
}

long nb_rendered_count(const nb_problem *p)
{
    return nb_rendered_before(p, (long)p->fpixels * p->spixels);
}

long nb_rendered_before(const nb_problem *p, long pixel)
{
    long count = 0;
    int s, f;
    if (p->fpixels <= 0) return 0;
    const int row = (int)(pixel / p->fpixels), column = (int)(pixel % p->fpixels);
    for (s = 0; s < row && s < p->spixels; ++s) count += row_rendered(p, s);
    if (row < p->spixels)
        for (f = 0; f < column; ++f) count += nb_pixel_rendered(p, f, row);
    return count;
}

/* what the rows share while they are rendered in parallel.  Rows are the stacked image's: with
   several panels, row r is row r - i * panel_rows of panel i, rendered as the one-panel problem
   views[i] with its own pixel-to-pixel state (first phi sweep, interpolation switch-off), so that
   each panel is the image of a one-panel run. */
typedef struct render_run {
    const nb_problem *p;
    const nb_problem *views;      /* one per panel (p itself for one panel) */
    int rows_per_panel;           /* rows of each panel (all rows for one panel) */
    nb_render_state *rs;
    nb_row_fn row;
    float *image;
    long *first_pixel;            /* per panel, in the panel's own pixels */
    int row_end;
    long *before;                 /* rendered pixels in the rows before each row */
    double *row_omega;
    unsigned char *done;          /* the row has been rendered (perhaps to be rendered again) */
    unsigned char *started_on;    /* ... with interpolation on */
    int next_final;               /* every row before this one is final */
    long *earliest;               /* per panel: its earliest switch-off so far (stacked pixel index), or -1 */
    nb_pixel_state *earliest_state;
    long first_off;               /* the earliest switch-off of all panels, or -1, and its state */
    nb_pixel_state first_off_state;
} render_run;

static int panel_of(const render_run *run, int r)
{
    return r / run->rows_per_panel;
}

/* row r was started with interpolation on after the earliest switch-off of its panel: it is rendered again */
static int must_redo(const render_run *run, int r)
{
    const long earliest = run->earliest[panel_of(run, r)];
    return run->started_on[r] && earliest >= 0 && earliest < (long)r * run->p->fpixels;
}

/* publish progress: move past the rows that are final (inside the critical section) */
static void advance(render_run *run)
{
    const nb_problem *p = run->p;
    nb_render_state *rs = run->rs;
    while (run->next_final < run->row_end && run->done[run->next_final]) {
        if (must_redo(run, run->next_final))
            break;
        ++run->next_final;
    }
    if (!rs->off_known && run->first_off >= 0 && (long)run->next_final * p->fpixels > run->first_off) {
        /* the switch-off is final: report it with nanoBragg's counter at that pixel */
        long count = nb_rendered_before(p, run->first_off);
        rs->switched_off = 1;
        rs->off_pixel = run->first_off;
        rs->off = run->first_off_state.off;
        __atomic_store_n(&rs->off_done, count, __ATOMIC_RELAXED);
        __atomic_store_n(&rs->off_known, 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&rs->done, run->before[run->next_final], __ATOMIC_RELEASE);
}

/* render row r from its first pixel, with interpolation on or off, and record it */
static void render_row(render_run *run, int r, int interpolate)
{
    const nb_problem *p = run->p;
    const int panel = panel_of(run, r), local = r - panel * run->rows_per_panel;
    nb_pixel_state st;
    memset(&st, 0, sizeof st);
    st.interpolate = interpolate;
    int at = run->row(&run->views[panel], local, run->first_pixel[panel], run->rs->math, &st,
                      run->image + (size_t)panel * run->rows_per_panel * p->fpixels, &run->row_omega[r],
                      &run->rs->cancel);
    if (__atomic_load_n(&run->rs->cancel, __ATOMIC_RELAXED)) return;
    #pragma omp critical(nb_render_progress)
    {
        if (at >= 0) {
            long pixel = (long)r * p->fpixels + at;
            if (run->earliest[panel] < 0 || pixel < run->earliest[panel]) {
                run->earliest_state[panel] = st;
                __atomic_store_n(&run->earliest[panel], pixel, __ATOMIC_RELAXED);
            }
            if (run->first_off < 0 || pixel < run->first_off) {
                run->first_off = pixel;
                run->first_off_state = st;
            }
        }
        run->started_on[r] = (unsigned char)interpolate;
        run->done[r] = 1;
        advance(run);
    }
}

void nb_panel_view(const nb_problem *p, int panel, nb_problem *view)
{
    int i;
    *view = *p;
    view->npanels = 0;
    view->panels = NULL;
    if (p->npanels <= 0) return;
    const nb_panel *g = &p->panels[panel];
    view->spixels = p->panel_rows;
    view->roi_ymin = 0;
    view->roi_ymax = p->panel_rows - 1;
    if (p->mask) view->mask = p->mask + (size_t)panel * p->panel_rows * p->fpixels;
    for (i = 0; i < 3; ++i) {
        view->pix0[i] = g->pix0[i]; view->fdet[i] = g->fdet[i];
        view->sdet[i] = g->sdet[i]; view->odet[i] = g->odet[i];
    }
    view->distance = g->distance;
    view->close_distance = g->close_distance;
    nb_derive_detector(view);
}

static void free_run(render_run *run, nb_problem *views)
{
    free(run->before); free(run->row_omega); free(run->done); free(run->started_on);
    free(run->first_pixel); free(run->earliest); free(run->earliest_state); free(views);
}

int nb_render_image(const nb_problem *p, float *image, nb_render_state *rs)
{
    render_run run;
    nb_problem *views = NULL;
    int r, i, level, f0, f1, row_begin, row_last;
    if (p->fpixels < 0 || p->spixels < 0) return NB_BAD_ARGUMENT;
    if (p->npanels > 0 && (p->panel_rows <= 0 || (long)p->npanels * p->panel_rows != p->spixels))
        return NB_BAD_ARGUMENT;
    const int panels = p->npanels > 0 ? p->npanels : 1;
    nb_roi_limits(p, &f0, &f1, &row_begin, &row_last);
    const int row_end = row_last + 1;

    memset(&run, 0, sizeof run);
    run.p = p;
    run.rs = rs;
    run.row = pick_row(rs, &level);
    run.image = image;
    run.row_end = row_end > row_begin ? row_end : row_begin;
    run.next_final = row_begin;
    run.first_off = -1;
    run.rows_per_panel = p->npanels > 0 ? p->panel_rows : (p->spixels > 0 ? p->spixels : 1);
    run.before = (long *)calloc((size_t)p->spixels + 1, sizeof(long));
    run.row_omega = (double *)calloc((size_t)p->spixels + 1, sizeof(double));
    run.done = (unsigned char *)calloc((size_t)p->spixels + 1, 1);
    run.started_on = (unsigned char *)calloc((size_t)p->spixels + 1, 1);
    run.first_pixel = (long *)calloc((size_t)panels, sizeof(long));
    run.earliest = (long *)calloc((size_t)panels, sizeof(long));
    run.earliest_state = (nb_pixel_state *)calloc((size_t)panels, sizeof(nb_pixel_state));
    if (p->npanels > 0) views = (nb_problem *)calloc((size_t)panels, sizeof(nb_problem));
    if (!run.before || !run.row_omega || !run.done || !run.started_on || !run.first_pixel || !run.earliest ||
        !run.earliest_state || (p->npanels > 0 && !views)) {
        free_run(&run, views);
        return NB_NO_MEMORY;
    }
    for (r = 0; r < p->spixels; ++r) run.before[r + 1] = run.before[r] + row_rendered(p, r);

    rs->cpu_used = level;
    rs->done = 0;
    rs->off_known = 0;
    rs->switched_off = 0;
    rs->off_pixel = -1;
    if (views == NULL) {
        run.views = p;
        run.first_pixel[0] = nb_first_sweep_pixel(p, row_begin, run.row_end);
    } else {
        for (i = 0; i < panels; ++i) {
            int v0, v1, vb, vl;
            nb_panel_view(p, i, &views[i]);
            nb_roi_limits(&views[i], &v0, &v1, &vb, &vl);
            run.first_pixel[i] = nb_first_sweep_pixel(&views[i], vb, vl + 1 > vb ? vl + 1 : vb);
        }
        run.views = views;
    }
    for (i = 0; i < panels; ++i) run.earliest[i] = -1;
    rs->first_pixel = run.first_pixel[0];
    memset(image, 0, sizeof(float) * (size_t)p->fpixels * (size_t)p->spixels);

    #pragma omp parallel private(r)
    {
        #pragma omp for schedule(dynamic, 1)
        for (r = row_begin; r < run.row_end; ++r) {
            if (__atomic_load_n(&rs->cancel, __ATOMIC_RELAXED)) continue;
            long known = __atomic_load_n(&run.earliest[panel_of(&run, r)], __ATOMIC_RELAXED);
            render_row(&run, r, rs->interpolate && (known < 0 || (long)r * p->fpixels < known));
        }
        /* each panel's earliest switch-off is final here: render again what was started before it was known */
        #pragma omp for schedule(dynamic, 1)
        for (r = row_begin; r < run.row_end; ++r) {
            if (__atomic_load_n(&rs->cancel, __ATOMIC_RELAXED)) continue;
            if (must_redo(&run, r))
                render_row(&run, r, 0);
        }
    }

    rs->cancelled = __atomic_load_n(&rs->cancel, __ATOMIC_RELAXED) != 0;
    rs->omega_sum = 0.0;
    for (r = row_begin; r < run.row_end; ++r) rs->omega_sum += run.row_omega[r];
    free_run(&run, views);
    return NB_OK;
}

void nb_kahn_frames(const nb_problem *p, double *frames)
{
    double axis[3];
    int source, i;
    nb_unitize(p->polar_vector, axis);
    for (source = 0; source < p->nsources; ++source) {
        double *incident = frames + 9 * source, *B = incident + 3, *E = incident + 6;
        for (i = 0; i < 3; ++i) incident[i] = -p->source_dir[3 * source + i];
        nb_unitize(incident, incident);
        nb_cross(axis, incident, B);
        nb_unitize(B, B);
        nb_cross(incident, B, E);
        nb_unitize(E, E);
    }
}

void nb_derive_detector(nb_problem *p)
{
    int i;
    for (i = 0; i < 3; ++i) p->towards[i] = p->distance * p->beam[i];
}

void nb_derive(nb_problem *p)
{
    int i;
    nb_derive_detector(p);
    p->k_stride = p->l_range + 1;
    p->h_stride = (p->k_range + 1) * p->k_stride;
    p->hkl_min[0] = p->h_min; p->hkl_min[1] = p->k_min; p->hkl_min[2] = p->l_min;
    p->hkl_range[0] = p->h_range; p->hkl_range[1] = p->k_range; p->hkl_range[2] = p->l_range;
    p->Na_f = (float)p->Na; p->Nb_f = (float)p->Nb; p->Nc_f = (float)p->Nc; p->fudge_f = (float)p->fudge;
    for (i = 0; i < 3; ++i) {
        p->a_star_f[i] = (float)p->a_star[i];
        p->b_star_f[i] = (float)p->b_star[i];
        p->c_star_f[i] = (float)p->c_star[i];
    }
}

long nb_first_sweep_pixel(const nb_problem *p, int row0, int row1)
{
    int f, s;
    if (row0 < 0 || row1 > p->spixels) return -1;
    for (s = row0; s < row1; ++s) {
        for (f = 0; f < p->fpixels; ++f) {
            if (!nb_pixel_rendered(p, f, s)) continue;
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

#define NB_TRACE_NAME nb_trace_pixel
#include "nb_entries.h"

/* nb_amorphous.c -- nonBragg's render driver (nb_amorphous_image.c: the rest).

   A block of rows is rendered in one OpenMP region when the table is strictly increasing
   (then where the table search starts cannot change where it ends, so each row may start its
   own); a table that is not (quirk: shortwater.stol) is rendered in pixel order on one thread,
   the index carried from pixel to pixel as nonBragg carries it.  Each sub-pixel's solid angle
   is kept in `scratch` and added in nonBragg's order after the block, so the printed sum is
   the same whatever the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_rng.h"
#include "nb_amorphous_problem.h"
#include "nb_amorphous.h"
#include "nb_amorphous_physics.h"

/* index of the first evaluation of a rendered pixel, in nonBragg's order */
static long nba_first_evaluation(const nba_problem *p, int f, int s)
{
    int f0, f1, s0, s1;
    nba_region(p, &f0, &f1, &s0, &s1);
    long width = f1 - f0 + 1;
    long rendered = (long)(s - s0) * width + (f - f0);
    return rendered * p->oversample * p->oversample * p->sources;
}

/* the -img part of a pixel: its F from the input image, and its bin */
static void nba_back_convert(const nba_problem *p, long j, const nba_last *last)
{
    int k, invalid = 0;
    for (k = 0; k < p->ignores; ++k)
        if (p->img[j] == p->ignore[k]) invalid = 1;
    float deviate = (float)((p->img[j] - p->adc) / p->gain);
    float sign = 1.0f;
    if (deviate < 0.0f) sign = -1.0f;
    deviate = fabsf(deviate);
    p->F_image[j] = (float)(sign * sqrt(deviate / last->polar / last->omega / p->fluence / p->r_e_sqr
                                        / p->molecules * p->steps));
    int bin = 0;
    if (!invalid) {
        bin = last->nearest;
        if (last->stol > (p->stol_of[bin] + p->stol_of[bin + 1]) / 2.0) ++bin;
    }
    p->bin_of[j] = bin;
}

static void nba_row(const nba_problem *p, int s, int f0, int f1, float *image, double *omegas, int *nearest)
{
    const int per_pixel = p->oversample * p->oversample;
    nba_last last;
    int f;
    memset(&last, 0, sizeof last);
    last.polar = 1.0;
    last.nearest = *nearest;
    for (f = f0; f <= f1; ++f) {
        long j = (long)s * p->fpixels + f;
        long first = p->polar_axes > 1 ? nba_first_evaluation(p, f, s) : 0;
        double Ibg = nba_pixel(p, f, s, first, omegas + (long)(f - f0) * per_pixel, &last);
        image[j] += Ibg * p->r_e_sqr * p->fluence * p->molecules / p->steps;
        if (p->fmap) image[j] = (float)last.F;
        if (p->img) nba_back_convert(p, j, &last);
    }
    *nearest = last.nearest;
}


/* ---- the fast path: a flat detector, a strictly increasing table, an E-vector that stays
   put, no -img or -Fmap.  The same operations in the same order as nba_pixel, regrouped: per
   row, the sub-pixel geometry, scattering and polarization of every evaluation as vector code
   (lanes are pixels of the row), the table index walked per evaluation, the interpolation as
   vector code again, then each pixel's sum in nonBragg's order.  IEEE division, square root,
   products and sums give the same bits in a vector lane as in a scalar register. */

int nba_fast_path(const nba_problem *p)
{
    return p->monotonic && !p->curved && p->polar_axes == 1 && !p->img && !p->fmap;
}

typedef struct nba_work {
    double *omega, *dx, *dy, *dz;     /* per sub-pixel (sub-pixel major, then pixel) */
    double *stol, *polar, *F;         /* per evaluation (source, sub-pixel, pixel) */
    int *index;                       /* per evaluation: the table index */
    double *sum;                      /* per pixel: its sum */
} nba_work;

static int nba_work_alloc(nba_work *w, long width, long subs, long sources)
{
    const long evals = width * subs * sources;
    w->omega = malloc(sizeof(double) * (width * subs * 4 + width));
    w->stol = malloc(sizeof(double) * evals * 3);
    w->index = malloc(sizeof(int) * evals);
    if (!w->omega || !w->stol || !w->index) {
        free(w->omega); free(w->stol); free(w->index);
        return 1;
    }
    w->dx = w->omega + width * subs;
    w->dy = w->dx + width * subs;
    w->dz = w->dy + width * subs;
    w->sum = w->dz + width * subs;
    w->polar = w->stol + evals;
    w->F = w->polar + evals;
    return 0;
}

static void nba_work_free(nba_work *w)
{
    free(w->omega); free(w->stol); free(w->index);
}

__attribute__((target_clones("avx2", "default")))
static void nba_fast_geometry(const nba_problem *restrict p, int s, int f0, int width, nba_work *restrict w)
{
    const int os = p->oversample, subs = os * os;
    const double ss = p->subpixel_size, pp = p->pixel_size * p->pixel_size, cd = p->close_distance;
    const double Odet = 0 * 0.0;
    const int kahn = p->kahn != 0.0;
    const double o0 = Odet * p->odet[0], o1 = Odet * p->odet[1], o2 = Odet * p->odet[2];
    int sub, q, i;
    for (sub = 0; sub < subs; ++sub) {
        const int subS = sub / os, subF = sub % os;
        const double Sdet = ss * (s * os + subS) + ss / 2.0;
        const double a0 = Sdet * p->sdet[0], a1 = Sdet * p->sdet[1], a2 = Sdet * p->sdet[2];
        double *restrict om = w->omega + (long)sub * width, *restrict dx = w->dx + (long)sub * width;
        double *restrict dy = w->dy + (long)sub * width, *restrict dz = w->dz + (long)sub * width;
        for (i = 0; i < width; ++i) {
            const double Fdet = ss * ((f0 + i) * os + subF) + ss / 2.0;
            const double x = Fdet * p->fdet[0] + a0 + o0 + p->pix0[0];
            const double y = Fdet * p->fdet[1] + a1 + o1 + p->pix0[1];
            const double z = Fdet * p->fdet[2] + a2 + o2 + p->pix0[2];
            const double mag = sqrt(x * x + y * y + z * z);
            const int some = mag != 0.0;
            dx[i] = some ? x / mag : 0.0;
            dy[i] = some ? y / mag : 0.0;
            dz[i] = some ? z / mag : 0.0;
            om[i] = p->point_pixel ? 1.0 / mag / mag : pp / mag / mag * cd / mag;
        }
        for (q = 0; q < p->sources; ++q) {
            const double *inc = p->incident + 3 * q, *inc2 = p->incident_polar + 3 * q;
            const double lambda = p->source_lambda[q];
            const long at = ((long)q * subs + sub) * width;
            double *restrict st = w->stol + at, *restrict po = w->polar + at;
            const double i0 = inc[0], i1 = inc[1], i2 = inc[2], j0 = inc2[0], j1 = inc2[1], j2 = inc2[2];
            for (i = 0; i < width; ++i) {
                const double sx = (dx[i] - i0) / lambda, sy = (dy[i] - i1) / lambda, sz = (dz[i] - i2) / lambda;
                st[i] = 0.5 * sqrt(sx * sx + sy * sy + sz * sz);
            }
            if (p->nopolar) {
                for (i = 0; i < width; ++i) po[i] = 1.0;
                continue;
            }
            for (i = 0; i < width; ++i) {
                const double mag = sqrt(dx[i] * dx[i] + dy[i] * dy[i] + dz[i] * dz[i]);
                const int some = mag != 0.0;
                const double ux = some ? dx[i] / mag : 0.0, uy = some ? dy[i] / mag : 0.0;
                const double uz = some ? dz[i] / mag : 0.0;
                const double c2 = j0 * ux + j1 * uy + j2 * uz;
                dx[i] = ux; dy[i] = uy; dz[i] = uz;
                po[i] = kahn ? c2 : 0.5 * (1.0 + c2 * c2);       /* without a Kahn factor its term is 0 */
            }
            if (kahn) {
                /* the frame of the E-vector for this source, as every call computes it */
                double B[3], E[3];
                nba_cross(p->polar_axis, inc2, B);
                nba_unitize(B, B);
                nba_cross(inc2, B, E);
                nba_unitize(E, E);
                for (i = 0; i < width; ++i) {
                    const double c2 = po[i], c2sqr = c2 * c2, s2sqr = 1 - c2sqr;
                    const double psi = -atan2(dx[i] * B[0] + dy[i] * B[1] + dz[i] * B[2],
                                              dx[i] * E[0] + dy[i] * E[1] + dz[i] * E[2]);
                    po[i] = 0.5 * (1.0 + c2sqr - p->kahn * cos(2 * psi) * s2sqr);
                }
            }
        }
    }
}

/* the interpolation of every evaluation of a row, its window found by the table walk */
__attribute__((target_clones("avx2", "default")))
static void nba_fast_interpolate(long evals, const int *restrict index, const double *restrict stol,
                                 const double *restrict xa, const double *restrict ya, const double *restrict den,
                                 double *restrict F)
{
    long e;
    for (e = 0; e < evals; ++e) {
        const long j = index[e] - 1;
        const double x = stol[e];
        const double d0 = x - xa[j], d1 = x - xa[j + 1], d2 = x - xa[j + 2], d3 = x - xa[j + 3];
        F[e] = d1 * d2 * d3 * ya[j] / den[4 * j] + d0 * d2 * d3 * ya[j + 1] / den[4 * j + 1]
               + d0 * d1 * d3 * ya[j + 2] / den[4 * j + 2] + d0 * d1 * d2 * ya[j + 3] / den[4 * j + 3];
    }
}

/* each pixel's sum over its sub-pixels, then sources, in that order (lanes are pixels), scaled
   into the row of the image */
__attribute__((target_clones("avx2", "default")))
static void nba_fast_sum(const nba_problem *restrict p, int width, int subs, const nba_work *restrict w,
                         float *restrict row)
{
    const double scale_r = p->r_e_sqr, scale_f = p->fluence, scale_m = p->molecules, steps = p->steps;
    double *restrict Ibg = w->sum;
    int i, sub, q;
    for (i = 0; i < width; ++i) Ibg[i] = 0.0;
    for (sub = 0; sub < subs; ++sub) {
        const double *restrict omega = w->omega + (long)sub * width;
        for (q = 0; q < p->sources; ++q) {
            const long at = ((long)q * subs + sub) * width;
            const double *restrict F = w->F + at, *restrict polar = w->polar + at;
            const double I = p->source_I[q];
            for (i = 0; i < width; ++i) {
                const double sign = F[i] < 0.0 ? -1.0 : 1.0;      /* nonBragg's float +-1 */
                Ibg[i] += sign * F[i] * F[i] * polar[i] * omega[i] * I * 1.0;
            }
        }
    }
    for (i = 0; i < width; ++i) row[i] += Ibg[i] * scale_r * scale_f * scale_m / steps;
}

static void nba_row_fast(const nba_problem *p, int s, int f0, int f1, float *image, double *omegas, nba_work *w)
{
    const int width = f1 - f0 + 1, subs = p->oversample * p->oversample, sources = p->sources;
    const long evals = (long)width * subs * sources;
    long e;
    int i, sub, nearest = 0;
    nba_fast_geometry(p, s, f0, width, w);
    {
        const nba_problem table = *p;         /* a copy the index stores cannot alias */
        for (e = 0; e < evals; ++e) {
            nba_walk(&table, w->stol[e], &nearest);
            w->index[e] = nearest;
        }
    }
    nba_fast_interpolate(evals, w->index, w->stol, p->stol_of, p->F_of, p->polint_den, w->F);
    for (i = 0; i < width; ++i)
        for (sub = 0; sub < subs; ++sub) omegas[(long)i * subs + sub] = w->omega[(long)sub * width + i];
    nba_fast_sum(p, width, subs, w, image + (long)s * p->fpixels + f0);
}

int nba_render_rows(nba_problem *p, int s_begin, int s_end, float *image, double *scratch)
{
    int f0, f1, s0, s1, s;
    nba_region(p, &f0, &f1, &s0, &s1);
    if (s_begin < s0) s_begin = s0;
    if (s_end > s1 + 1) s_end = s1 + 1;
    if (f1 < f0 || s_end <= s_begin) return 1;
    const long row_omegas = (long)(f1 - f0 + 1) * p->oversample * p->oversample;
    if (p->monotonic) {
        int threads = p->threads, failed = 0;
        const int fast = nba_fast_path(p);
#ifdef _OPENMP
        if (threads <= 0) threads = omp_get_max_threads();
#else
        threads = 1;
#endif
        #pragma omp parallel num_threads(threads) reduction(|:failed)
        {
            nba_work work;
            int own = fast && !nba_work_alloc(&work, f1 - f0 + 1, (long)p->oversample * p->oversample, p->sources);
            #pragma omp for schedule(dynamic, 1)
            for (s = s_begin; s < s_end; ++s) {
                double *omegas = scratch + (long)(s - s_begin) * row_omegas;
                if (own) {
                    nba_row_fast(p, s, f0, f1, image, omegas, &work);
                } else {
                    int nearest = 0;
                    nba_row(p, s, f0, f1, image, omegas, &nearest);
                }
            }
            if (own) nba_work_free(&work);
        }
        (void)failed;
    } else {
        for (s = s_begin; s < s_end; ++s)
            nba_row(p, s, f0, f1, image, scratch + (long)(s - s_begin) * row_omegas, &p->nearest);
    }
    long i, n = (long)(s_end - s_begin) * row_omegas;
    double sum = p->omega_sum;
    for (i = 0; i < n; ++i) sum += scratch[i];
    p->omega_sum = sum;
    return 0;
}

void nba_trace_pixel(const nba_problem *p, int fpixel, int spixel, long evaluation, double *out)
{
    nba_last last;
    double *omegas = malloc(sizeof(double) * p->oversample * p->oversample);
    memset(&last, 0, sizeof last);
    last.polar = 1.0;
    last.nearest = p->nearest;
    nba_pixel(p, fpixel, spixel, evaluation, omegas, &last);
    free(omegas);
    out[0] = last.stol;
    out[1] = last.pos[0]; out[2] = last.pos[1]; out[3] = last.pos[2];
    out[4] = last.polar;
    out[5] = last.omega;
}

/* the CUDA kernel's launch on the host (nb_amorphous.cu's body, one pixel at a time): the CUDA
   engine's emulation where there is no GPU */
void nba_render_pixels_host(const nba_problem *p, int s_begin, int rows, int f0, int width, float *image,
                            double *omegas)
{
    long t;
    for (t = 0; t < (long)rows * width; ++t)
        nba_kernel_pixel(p, t, s_begin, f0, width, image, omegas);
}

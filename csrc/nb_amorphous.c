/* nb_amorphous.c -- nonBragg's render driver, statistics, conversions, noise and -img profile.

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
#include "nb_amorphous.h"
#include "nb_amorphous_physics.h"

/* the rendered columns of a row and the rendered rows, inclusive (empty: last < first) */
static void nba_region(const nba_problem *p, int *f0, int *f1, int *s0, int *s1)
{
    *f0 = p->xmin < 0 ? 0 : p->xmin;
    *f1 = p->xmax > p->fpixels - 1 ? p->fpixels - 1 : p->xmax;
    *s0 = p->ymin < 0 ? 0 : p->ymin;
    *s1 = p->ymax > p->spixels - 1 ? p->spixels - 1 : p->ymax;
}

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

int nba_render_rows(nba_problem *p, int s_begin, int s_end, float *image, double *scratch)
{
    int f0, f1, s0, s1, s;
    nba_region(p, &f0, &f1, &s0, &s1);
    if (s_begin < s0) s_begin = s0;
    if (s_end > s1 + 1) s_end = s1 + 1;
    if (f1 < f0 || s_end <= s_begin) return 1;
    const long row_omegas = (long)(f1 - f0 + 1) * p->oversample * p->oversample;
    if (p->monotonic) {
        int threads = p->threads;
#ifdef _OPENMP
        if (threads <= 0) threads = omp_get_max_threads();
#else
        threads = 1;
#endif
        #pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (s = s_begin; s < s_end; ++s) {
            int nearest = 0;
            nba_row(p, s, f0, f1, image, scratch + (long)(s - s_begin) * row_omegas, &nearest);
        }
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

void nba_image_stats(const nba_problem *p, const float *image, nba_stats *out)
{
    int f0, f1, s0, s1, f, s;
    double max_I = 0.0, sum = 0.0, sumsqr = 0.0;
    long n = 0, at = -1;
    nba_region(p, &f0, &f1, &s0, &s1);
    for (s = s0; s <= s1; ++s) {
        for (f = f0; f <= f1; ++f) {
            float v = image[(long)s * p->fpixels + f];
            if (v > max_I) {
                max_I = v;
                at = (long)s * p->fpixels + f;
            }
            sum += v;
            sumsqr += (float)(v * v);
            ++n;
        }
    }
    out->max_I = max_I;
    out->max_I_x = out->max_I_y = 0.0;
    if (at >= 0) {
        const int last = p->oversample - 1;
        out->max_I_x = p->subpixel_size * ((at % p->fpixels) * p->oversample + last) + p->subpixel_size / 2.0;
        out->max_I_y = p->subpixel_size * ((at / p->fpixels) * p->oversample + last) + p->subpixel_size / 2.0;
    }
    out->sum = sum;
    out->sumsqr = sumsqr;
    out->rendered = n;
}

double nba_rmsd(const nba_problem *p, const float *image, double mean)
{
    int f0, f1, s0, s1, f, s;
    double sumsqr = 0.0;
    long n = 0;
    nba_region(p, &f0, &f1, &s0, &s1);
    for (s = s0; s <= s1; ++s) {
        for (f = f0; f <= f1; ++f) {
            double d = image[(long)s * p->fpixels + f + 1] - mean;
            sumsqr += d * d;
            ++n;
        }
    }
    if (n <= 1) n = 2;
    return sqrt(sumsqr / (n - 1));
}

/* a real narrowed to a small unsigned type as x86 does it: through a 32-bit int, whose
   "indefinite" value (NaN, out of range) has zero low bits */
static unsigned int nba_low_bits(double x)
{
    return (unsigned int)nb_int(x);
}

void nba_convert(const nba_problem *p, const float *image, double int_scale, double adc,
                 unsigned short *ints, double pgm_scale, unsigned char *pgm)
{
    int f0, f1, s0, s1, s;
    nba_region(p, &f0, &f1, &s0, &s1);
    #pragma omp parallel for schedule(static)
    for (s = s0; s <= s1; ++s) {
        int f;
        for (f = f0; f <= f1; ++f) {
            long j = (long)s * p->fpixels + f;
            double x = image[j] * int_scale + adc;
            if (x > 65535.0) x = 65535.0;
            if (x < 0.0) x = 0.0;
            float rounded = floorf((float)(x + 0.5));
            ints[j] = (unsigned short)(rounded == rounded ? (unsigned int)(int)rounded : 0u);
            double y = image[j] * pgm_scale;
            if (y > 255.0) y = 255.0;
            pgm[j] = (unsigned char)nba_low_bits(y);
        }
    }
}

double nba_noise(const nba_problem *p, nb_rng *r, long *seed, const float *image, double adc,
                 unsigned short *out, int *overloads)
{
    int f0, f1, s0, s1, f, s;
    double photons = 0.0;
    nba_region(p, &f0, &f1, &s0, &s1);
    *overloads = 0;
    for (s = s0; s <= s1; ++s) {
        for (f = f0; f <= f1; ++f) {
            long j = (long)s * p->fpixels + f;
            double x = nb_poidev(r, image[j], seed);
            photons += x;
            x += adc;
            if (x > 65535.0) {
                x = 65535.0;
                ++*overloads;
            }
            out[j] = (unsigned short)nba_low_bits(x);
        }
    }
    return photons;
}

void nba_profile(const nba_problem *p, const unsigned int *counts, float *avg, float *rmsd)
{
    const long pixels = (long)p->fpixels * p->spixels;
    const int stols = p->stols;
    float *buffer = calloc(2 * pixels + 10 * (long)stols, sizeof(float));
    long *start = calloc(stols, sizeof(long));
    long j;
    int bin;
    /* each bin gets room for twice its count plus two, after one leading slot */
    start[0] = 1;
    for (bin = 1; bin < stols - 1; ++bin) start[bin] = start[bin - 1] + 2 * (long)counts[bin - 1] + 2;
    /* every pixel in order, the unrendered ones (bin -1) with bin 0's: F 0, and more of them
       than bin 0 has room for run on into the next bins, as nonBragg's do */
    for (j = 0; j < pixels; ++j) {
        int b = p->bin_of[j] < 0 ? 0 : p->bin_of[j];
        buffer[start[b]++] = p->bin_of[j] < 0 ? 0.0f : p->F_image[j];
    }
    for (bin = 2; bin < stols - 2; ++bin) {
        const float *arr = buffer + start[bin] - counts[bin];
        unsigned int points = counts[bin], i;
        float sum = 0.0f, sumd = 0.0f, mean;
        avg[bin] = rmsd[bin] = 0.0f;       /* never computed for an empty bin: 0 in nonBragg's build */
        if (points == 0) continue;
        for (i = 0; i < points; ++i) sum += arr[i];
        mean = sum / points;
        for (i = 0; i < points; ++i) {
            float deviate = (float)fabs(arr[i] - mean);
            sumd += deviate * deviate;
        }
        avg[bin] = mean;
        rmsd[bin] = (float)sqrt(sumd / points);
    }
    free(buffer);
    free(start);
}

void nba_polint_denominators(const double *xa, int entries, double *den)
{
    int w;
    for (w = 0; w + 3 < entries; ++w) {
        const double *x = xa + w;
        den[4 * w + 0] = (x[0] - x[1]) * (x[0] - x[2]) * (x[0] - x[3]);
        den[4 * w + 1] = (x[1] - x[0]) * (x[1] - x[2]) * (x[1] - x[3]);
        den[4 * w + 2] = (x[2] - x[0]) * (x[2] - x[1]) * (x[2] - x[3]);
        den[4 * w + 3] = (x[3] - x[0]) * (x[3] - x[1]) * (x[3] - x[2]);
    }
    for (; w < entries; ++w) den[4 * w] = den[4 * w + 1] = den[4 * w + 2] = den[4 * w + 3] = NAN;
}

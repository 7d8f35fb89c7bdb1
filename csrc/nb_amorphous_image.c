/* nb_amorphous_image.c -- what nonBragg does outside its render: statistics (serial sums in its
   order and float rounding), the SMV and PGM conversions, the Poisson noise (in row order: one
   generator), the -img profile (its bins laid out as nonBragg lays them out), and the tables
   the render reads (interpolation denominators, search buckets). */
#include <math.h>
#include <stdlib.h>
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_rng.h"
#include "nb_amorphous_problem.h"
#include "nb_amorphous.h"
#include "nb_amorphous_physics.h"

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

void nba_fill_buckets(const nba_problem *p, int *bucket_start)
{
    int b, i = 1;
    for (b = 0; b < p->buckets; ++b) {
        const double edge = p->bucket_lo + b / p->bucket_scale;
        while (i < p->stols - 3 && p->stol_of[i + 1] <= edge) ++i;
        bucket_start[b] = i;
    }
}

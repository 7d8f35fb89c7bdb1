/* nb_amorphous_image.c -- what nonBragg does outside its render: statistics (serial sums in its
   order and float rounding), the SMV and PGM conversions, the Poisson noise (in row order: one
   generator), all four nanoBragg's loops over nonBragg's region (nb_image_region.h); the -img
   profile (its bins laid out as nonBragg lays them out), and the tables the render reads
   (interpolation denominators, search buckets). */
#include <math.h>
#include <stdlib.h>
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_rng.h"
#include "nb_amorphous_problem.h"
#include "nb_amorphous.h"
#include "nb_amorphous_physics.h"
#include "nb_image_region.h"

/* nonBragg's region: its ROI as it clips it */
static nb_region region(const nba_problem *p)
{
    nb_region g = {.fpixels = p->fpixels};
    nba_region(p, &g.f0, &g.f1, &g.s0, &g.s1);
    return g;
}

void nba_image_stats(const nba_problem *p, const float *image, nba_stats *out)
{
    nb_sums t;
    nb_region_sums(region(p), image, 0, &t);
    out->max_I = t.max_I;
    nb_brightest_position(t.max_at, p->fpixels, p->oversample, p->subpixel_size, &out->max_I_x, &out->max_I_y);
    out->sum = t.sum;
    out->sumsqr = t.sumsqr;
    out->rendered = t.n;
}

/* nonBragg's rmsd reads each pixel's next neighbour (the image has one more float for it) */
double nba_rmsd(const nba_problem *p, const float *image, double mean)
{
    return nb_region_rmsd(region(p), image, mean, 1);
}

void nba_convert(const nba_problem *p, const float *image, double int_scale, double adc,
                 unsigned short *ints, double pgm_scale, unsigned char *pgm)
{
    nb_region_convert(region(p), image, int_scale, adc, ints, pgm_scale, pgm);
}

double nba_noise(const nba_problem *p, nb_rng *r, long *seed, const float *image, double adc,
                 unsigned short *out, int *overloads)
{
    return nb_region_noise(region(p), r, seed, image, adc, out, overloads);
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

/* nb_image.c -- statistics and integer conversions of the float image, in nanoBragg's order
   and rounding.  The sums are serial row-major chains, as nanoBragg's one-thread loop adds
   them (their rounding is part of the printed statistics and of the PGM scale); the integer
   images, one value per pixel, are converted in one parallel pass.  The loops over the region
   are shared with nonBragg's (nb_image_region.h); nanoBragg's ROI and mask choose the region. */
#include <math.h>
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_rng.h"
#include "nb_image.h"
#include "nb_image_region.h"

/* (int) conversion then the low bits, as x86 narrows a real to a small unsigned type;
   NaN and out-of-range values become 0x80000000 first, so their low bits are 0 */
static unsigned int low_bits(double x)
{
    return (unsigned int)nb_int(x);
}

void nb_region_sums(nb_region g, const float *image, const unsigned char *mask, nb_sums *out)
{
    double sum = 0.0, sumsqr = 0.0, max_I = 0.0;
    long n = 0, max_at = -1;
    int f, s;
    for (s = g.s0; s <= g.s1; ++s) {
        const float *row = image + (long)s * g.fpixels;
        const unsigned char *row_mask = mask ? mask + (long)s * g.fpixels : 0;
        for (f = g.f0; f <= g.f1; ++f) {
            if (row_mask && row_mask[f] == 0) continue;
            float v = row[f];
            if (v > max_I) {
                max_I = v;
                max_at = (long)s * g.fpixels + f;
            }
            sum += v;
            sumsqr += (float)(v * v);
            ++n;
        }
    }
    out->max_I = max_I;
    out->max_at = max_at;
    out->sum = sum;
    out->sumsqr = sumsqr;
    out->n = n;
}

void nb_brightest_position(long at, int fpixels, int oversample, double subpixel_size, double *x, double *y)
{
    *x = *y = 0.0;
    if (at >= 0) {
        const int last = oversample - 1;
        *x = subpixel_size * ((at % fpixels) * (long)oversample + last) + subpixel_size / 2.0;
        *y = subpixel_size * ((at / fpixels) * (long)oversample + last) + subpixel_size / 2.0;
    }
}

double nb_region_rmsd(nb_region g, const float *image, double mean, int offset)
{
    double sumsqr = 0.0;
    long n = 0;
    int f, s;
    for (s = g.s0; s <= g.s1; ++s) {
        const float *row = image + (long)s * g.fpixels + offset;
        for (f = g.f0; f <= g.f1; ++f) {
            double d = row[f] - mean;
            sumsqr += d * d;
            ++n;
        }
    }
    if (n <= 1) n = 2;
    return sqrt(sumsqr / (n - 1));
}

void nb_region_convert(nb_region g, const float *image, double int_scale, double adc, unsigned short *ints,
                       double pgm_scale, unsigned char *pgm)
{
    int s;
    #pragma omp parallel for schedule(static)
    for (s = g.s0; s <= g.s1; ++s) {
        const long start = (long)s * g.fpixels;
        int f;
        for (f = g.f0; f <= g.f1; ++f) {
            double x = image[start + f] * int_scale + adc;
            if (x > 65535.0) x = 65535.0;
            if (x < 0.0) x = 0.0;
            /* floorf(x + 0.5) of x in [0, 65535] is its truncation; NaN gives 0, as low_bits does */
            float rounded = (float)(x + 0.5);
            ints[start + f] = (unsigned short)(rounded == rounded ? (unsigned int)(int)rounded : 0u);
        }
        if (pgm) {
            for (f = g.f0; f <= g.f1; ++f) {
                double x = image[start + f] * pgm_scale;
                if (x > 255.0) x = 255.0;
                pgm[start + f] = (unsigned char)low_bits(x);
            }
        }
    }
}

double nb_region_noise(nb_region g, nb_rng *r, long *seed, const float *image, double adc, unsigned short *out,
                       int *overloads)
{
    double photons = 0.0;
    int f, s;
    *overloads = 0;
    for (s = g.s0; s <= g.s1; ++s) {
        for (f = g.f0; f <= g.f1; ++f) {
            long idx = (long)s * g.fpixels + f;
            double x = nb_poidev(r, image[idx], seed);
            photons += x;
            x += adc;
            if (x > 65535.0) {
                x = 65535.0;
                ++*overloads;
            }
            out[idx] = (unsigned short)low_bits(x);
        }
    }
    return photons;
}

static nb_region roi(const nb_problem *p)
{
    nb_region g = {.fpixels = p->fpixels};
    nb_roi_limits(p, &g.f0, &g.f1, &g.s0, &g.s1);
    return g;
}

void nb_image_stats(const nb_problem *p, const float *image, nb_stats *out)
{
    const nb_region g = roi(p);
    nb_sums t;
    nb_region_sums(g, image, p->mask, &t);
    out->rendered = t.n;
    out->max_I = t.max_I;
    nb_brightest_position(t.max_at, p->fpixels, p->oversample, p->subpixel_size, &out->max_I_x, &out->max_I_y);
    long n = t.n;
    if (n <= 0) n = 1;
    double mean = t.sum / n;
    if (n <= 1) n = 2;
    out->mean = mean;
    out->rms = sqrt(t.sumsqr / (n - 1));
    /* rmsd counts every ROI pixel, masked ones as their value 0 */
    out->rmsd = nb_region_rmsd(g, image, mean, 0);
}

void nb_convert_image(const nb_problem *p, const float *image, double int_scale, double adc,
                      unsigned short *ints, double pgm_scale, unsigned char *pgm)
{
    nb_region_convert(roi(p), image, int_scale, adc, ints, pgm_scale, pgm);
}

double nb_noise_image(nb_rng *r, long *seed, const nb_problem *p, const float *image, double adc,
                      unsigned short *out, int *overloads)
{
    return nb_region_noise(roi(p), r, seed, image, adc, out, overloads);
}

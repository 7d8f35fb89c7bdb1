/* nb_image.c -- statistics and integer conversions of the float image, in nanoBragg's order
   and rounding.  The sums are serial row-major chains, as nanoBragg's one-thread loop adds
   them (their rounding is part of the printed statistics and of the PGM scale); the integer
   images, one value per pixel, are converted in one parallel pass. */
#include <math.h>
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_rng.h"
#include "nb_image.h"

/* (int) conversion then the low bits, as x86 narrows a real to a small unsigned type;
   NaN and out-of-range values become 0x80000000 first, so their low bits are 0 */
static unsigned int low_bits(double x)
{
    return (unsigned int)nb_int(x);
}

void nb_image_stats(const nb_problem *p, const float *image, nb_stats *out)
{
    double sum = 0.0, sumsqr = 0.0, max_I = 0.0, sumsqr_dev = 0.0;
    long n = 0, n_roi = 0, max_at = -1;
    int f, s, f0, f1, s0, s1;
    nb_roi_limits(p, &f0, &f1, &s0, &s1);
    for (s = s0; s <= s1; ++s) {
        const float *row = image + (long)s * p->fpixels;
        const unsigned char *mask = p->mask ? p->mask + (long)s * p->fpixels : 0;
        for (f = f0; f <= f1; ++f) {
            if (mask && mask[f] == 0) continue;
            float v = row[f];
            if (v > max_I) {
                max_I = v;
                max_at = (long)s * p->fpixels + f;
            }
            sum += v;
            sumsqr += (float)(v * v);
            ++n;
        }
    }
    out->rendered = n;
    out->max_I = max_I;
    out->max_I_x = out->max_I_y = 0.0;
    if (max_at >= 0) {
        /* the position nanoBragg reports: the brightest pixel's last sub-pixel */
        const int last = p->oversample - 1;
        out->max_I_x = p->subpixel_size * ((max_at % p->fpixels) * (long)p->oversample + last) + p->subpixel_size / 2.0;
        out->max_I_y = p->subpixel_size * ((max_at / p->fpixels) * (long)p->oversample + last) + p->subpixel_size / 2.0;
    }
    if (n <= 0) n = 1;
    double mean = sum / n;
    if (n <= 1) n = 2;
    out->mean = mean;
    out->rms = sqrt(sumsqr / (n - 1));
    /* rmsd counts every ROI pixel, masked ones as their value 0 */
    for (s = s0; s <= s1; ++s) {
        const float *row = image + (long)s * p->fpixels;
        for (f = f0; f <= f1; ++f) {
            double d = row[f] - mean;
            sumsqr_dev += d * d;
        }
        n_roi += f1 >= f0 ? f1 - f0 + 1 : 0;
    }
    if (n_roi <= 1) n_roi = 2;
    out->rmsd = sqrt(sumsqr_dev / (n_roi - 1));
}

void nb_convert_image(const nb_problem *p, const float *image, double int_scale, double adc,
                      unsigned short *ints, double pgm_scale, unsigned char *pgm)
{
    int s, f0, f1, s0, s1;
    nb_roi_limits(p, &f0, &f1, &s0, &s1);
    #pragma omp parallel for schedule(static)
    for (s = s0; s <= s1; ++s) {
        const long start = (long)s * p->fpixels;
        int f;
        for (f = f0; f <= f1; ++f) {
            double x = image[start + f] * int_scale + adc;
            if (x > 65535.0) x = 65535.0;
            if (x < 0.0) x = 0.0;
            /* floorf(x + 0.5) of x in [0, 65535] is its truncation; NaN gives 0, as low_bits does */
            float rounded = (float)(x + 0.5);
            ints[start + f] = (unsigned short)(rounded == rounded ? (unsigned int)(int)rounded : 0u);
        }
        if (pgm) {
            for (f = f0; f <= f1; ++f) {
                double x = image[start + f] * pgm_scale;
                if (x > 255.0) x = 255.0;
                pgm[start + f] = (unsigned char)low_bits(x);
            }
        }
    }
}

double nb_noise_image(nb_rng *r, long *seed, const nb_problem *p, const float *image, double adc,
                      unsigned short *out, int *overloads)
{
    double photons = 0.0;
    int f, s, f0, f1, s0, s1;
    nb_roi_limits(p, &f0, &f1, &s0, &s1);
    *overloads = 0;
    for (s = s0; s <= s1; ++s) {
        for (f = f0; f <= f1; ++f) {
            long idx = (long)s * p->fpixels + f;
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

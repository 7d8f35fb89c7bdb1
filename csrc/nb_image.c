/* nb_image.c -- statistics and integer conversions of the float image, in nanoBragg's order
   and rounding (single-thread reference: plain row-major sums). */
#include <math.h>
#include "nb_problem.h"
#include "nb_rng.h"
#include "nb_image.h"

static int in_roi(const nb_problem *p, int f, int s)
{
    return f >= p->roi_xmin && f <= p->roi_xmax && s >= p->roi_ymin && s <= p->roi_ymax;
}

/* (int) conversion then the low bits, as x86 narrows a real to a small unsigned type;
   NaN and out-of-range values become 0x80000000 first, so their low bits are 0 */
static unsigned int low_bits(double x)
{
    int i = (x >= -2147483648.0 && x < 2147483648.0) ? (int)x : (-2147483647 - 1);
    return (unsigned int)i;
}

void nb_image_stats(const nb_problem *p, const float *image, nb_stats *out)
{
    double sum = 0.0, sumsqr = 0.0, max_I = 0.0, max_x = 0.0, max_y = 0.0;
    long n = 0, n_roi = 0;
    int f, s;
    const int last = p->oversample - 1;
    for (s = 0; s < p->spixels; ++s) {
        for (f = 0; f < p->fpixels; ++f) {
            long idx = (long)s * p->fpixels + f;
            if (!in_roi(p, f, s) || (p->mask && p->mask[idx] == 0)) continue;
            float v = image[idx];
            if (v > max_I) {
                max_I = v;
                max_x = p->subpixel_size * ((long)f * p->oversample + last) + p->subpixel_size / 2.0;
                max_y = p->subpixel_size * ((long)s * p->oversample + last) + p->subpixel_size / 2.0;
            }
            sum += v;
            sumsqr += (float)(v * v);
            ++n;
        }
    }
    out->rendered = n;
    out->max_I = max_I; out->max_I_x = max_x; out->max_I_y = max_y;
    if (n <= 0) n = 1;
    double mean = sum / n;
    if (n <= 1) n = 2;
    out->mean = mean;
    out->rms = sqrt(sumsqr / (n - 1));
    /* rmsd counts every ROI pixel, masked ones as their value 0 */
    double sumsqr_dev = 0.0;
    for (s = 0; s < p->spixels; ++s) {
        for (f = 0; f < p->fpixels; ++f) {
            if (!in_roi(p, f, s)) continue;
            double d = image[(long)s * p->fpixels + f] - mean;
            sumsqr_dev += d * d;
            ++n_roi;
        }
    }
    if (n_roi <= 1) n_roi = 2;
    out->rmsd = sqrt(sumsqr_dev / (n_roi - 1));
}

void nb_int_image(const nb_problem *p, const float *image, double scale, double adc, unsigned short *out)
{
    int f, s;
    for (s = 0; s < p->spixels; ++s) {
        for (f = 0; f < p->fpixels; ++f) {
            long idx = (long)s * p->fpixels + f;
            if (!in_roi(p, f, s)) continue;
            double x = image[idx] * scale + adc;
            if (x > 65535.0) x = 65535.0;
            if (x < 0.0) x = 0.0;
            out[idx] = (unsigned short)low_bits(floorf((float)(x + 0.5)));
        }
    }
}

void nb_pgm_image(const nb_problem *p, const float *image, double scale, unsigned char *out)
{
    int f, s;
    for (s = 0; s < p->spixels; ++s) {
        for (f = 0; f < p->fpixels; ++f) {
            long idx = (long)s * p->fpixels + f;
            if (!in_roi(p, f, s)) continue;
            double x = image[idx] * scale;
            if (x > 255.0) x = 255.0;
            out[idx] = (unsigned char)low_bits(x);
        }
    }
}

double nb_noise_image(nb_rng *r, long *seed, const nb_problem *p, const float *image, double adc,
                      unsigned short *out, int *overloads)
{
    double photons = 0.0;
    int f, s;
    *overloads = 0;
    for (s = 0; s < p->spixels; ++s) {
        for (f = 0; f < p->fpixels; ++f) {
            long idx = (long)s * p->fpixels + f;
            if (!in_roi(p, f, s)) continue;
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

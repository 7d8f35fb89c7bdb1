/* nb_noise.c -- noisify's noise and point-spread function, bit for bit with its float and
   double roundings (build without -ffast-math and with -ffp-contract=off).

   The noise loops draw in pixel order from one nb_rng state (noisify's generators share their
   static state between seeds), so they run on one thread.  The point-spread function is
   parallel where the sums cannot change: each thread owns a band of output rows and adds the
   contributions to them in noisify's order (source pixel, then dx, then dy). */
#include <math.h>
#include <stdlib.h>
#include "nb_rng.h"
#include "nb_noise.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define NOISE_PI 3.14159265358979323846
#define FIBER_G_PER_FWHM 0.652383013252053     /* g of the fiber function for a fwhm of 1 */
#define PHOTON_LOSS_FACTOR 10.0                 /* the automatic radius keeps sqrt(I)/10 */
#define PSF_FIBER 1

/* x86-64's conversions of an out-of-range double: the 64-bit (for 32-bit words) or 32-bit
   (for 16-bit words) truncation gives the "integer indefinite" value, whose low bits are 0 */
static unsigned int word32(double adu)
{
    if (!(adu >= -9223372036854775808.0 && adu < 9223372036854775808.0)) return 0u;
    return (unsigned int)(long long)adu;
}

static unsigned short word16(double adu)
{
    if (!(adu > -2147483649.0 && adu < 2147483648.0)) return 0u;
    return (unsigned short)(unsigned int)(int)adu;
}

void nb_noiseless_adu(const float *photons, long n, double gain, double adc,
                      unsigned short *out16, unsigned int *out32)
{
    long i;
#pragma omp parallel for schedule(static)
    for (i = 0; i < n; ++i) {
        double adu = photons[i] * gain + adc;
        if (adu > 2147483647.0) adu = 2147483647.0;
        if (adu > 65535.0) adu = 65535.0;
        out32[i] = word32(adu);
        out16[i] = word16(adu);
    }
}

double nb_noise_photons(nb_rng *r, float *photons, long n, double flicker, double calibration,
                        long *seed, long *calib_seed)
{
    double sum = 0.0;
    long i;
    for (i = 0; i < n; ++i) {
        double expected = photons[i];
        if (flicker > 0.0) expected *= (1.0 + flicker * nb_gaussdev(r, seed));
        if (calibration > 0.0) expected *= (1.0 + calibration * nb_gaussdev(r, calib_seed));
        photons[i] = nb_poidev(r, (float)expected, seed);
        sum += photons[i];
    }
    return sum;
}

double nb_noisy_adu(nb_rng *r, const float *photons, long n, double gain, double adc, double readout,
                    long *seed, int bits, unsigned short *out16, unsigned int *out32, int *overloads)
{
    double sum = 0.0;
    int over = 0;
    long i;
    for (i = 0; i < n; ++i) {
        double adu;
        sum += photons[i];
        adu = photons[i] * gain + adc;
        if (readout > 0.0) adu += readout * nb_gaussdev(r, seed);
        if (adu > 2147483647.0) {
            adu = 2147483647.0;
            if (bits == 32) ++over;
        }
        out32[i] = word32(adu);
        if (adu > 65535.0) {
            adu = 65535.0;
            if (bits == 16) ++over;
        }
        out16[i] = word16(adu);
    }
    *overloads = over;
    return sum;
}

/* the Gaussian of unit fwhm and unit volume, integrated from the origin to (x, y) */
static double gauss_corner(double x, double y)
{
    return 0.125 * (erf(2 * x * sqrt(log(2))) * erf(y * sqrt(log(16))) * sqrt(log(16) / log(2)));
}

/* the fiber function g/(2 pi (g^2+r^2)^1.5), integrated from the origin to (x, y) */
static double fiber_corner(double x, double y, double g)
{
    return atan((x * y) / (g * sqrt(g * g + x * x + y * y))) / 2.0 / NOISE_PI;
}

static double psf_pixel(int type, double dx, double dy, double fwhm_pixels)
{
    if (type == PSF_FIBER) {
        double g = fwhm_pixels * FIBER_G_PER_FWHM, half = 1.0 / 2.;
        return fiber_corner(dx + half, dy + half, g) - fiber_corner(dx + half, dy - half, g)
             - fiber_corner(dx - half, dy + half, g) + fiber_corner(dx - half, dy - half, g);
    } else {
        /* in units of the fwhm: the pixel is 1/fwhm wide */
        double x = dx / fwhm_pixels, y = dy / fwhm_pixels, half = (1.0 / fwhm_pixels) / 2.;
        return gauss_corner(x + half, y + half) - gauss_corner(x + half, y - half)
             - gauss_corner(x - half, y + half) + gauss_corner(x - half, y - half);
    }
}

void nb_psf_kernel(double *kernel, int radius, int type, double fwhm_pixels)
{
    long size = 2L * radius + 1;
    long row;
#pragma omp parallel for schedule(dynamic, 4)
    for (row = 0; row < size; ++row) {
        int dy = (int)row - radius, dx;
        for (dx = -radius; dx <= radius; ++dx) {
            double rsq = dx * dx + dy * dy;
            double *k = kernel + row * size + (radius + dx);
            *k = (rsq > (double)radius * radius) ? 0.0 : psf_pixel(type, dx, dy, fwhm_pixels);
        }
    }
}

/* a pixel's radius and lost photons; 0, or -1 when the automatic radius is no int */
static int pixel_radius(float value, int type, double fwhm_pixels, int user_radius, int maxwidth,
                        int *radius, double *lost)
{
    double g = fwhm_pixels * FIBER_G_PER_FWHM;
    int r;
    if (user_radius != 0) {
        r = user_radius;
    } else {
        double lost_guess = sqrt(value) / PHOTON_LOSS_FACTOR, wanted;
        if (type == PSF_FIBER)
            wanted = 1 + ceil(g * (value / lost_guess));
        else
            wanted = 1 + ceil(sqrt(-log(lost_guess / value) / log(16)) * fwhm_pixels);
        if (!(wanted > -2147483649.0 && wanted < 2147483648.0)) return -1;
        r = (int)wanted;
    }
    if (r == 0) r = 1;
    if (r > maxwidth) r = maxwidth;
    if (type == PSF_FIBER) {
        int rr = (int)((unsigned int)r * (unsigned int)r);
        *lost = value * g / sqrt(g * g + rr);
    } else {
        double rsq = r;
        rsq = rsq / fwhm_pixels;
        rsq = rsq * rsq;
        *lost = value * exp(-log(16) * rsq);
    }
    *radius = r;
    return 0;
}

static int isqrt_floor(long long v)
{
    long long h = (long long)sqrt((double)v);
    while (h > 0 && h * h > v) --h;
    while ((h + 1) * (h + 1) <= v) ++h;
    return (int)h;
}

/* add the contributions of every source pixel to the output rows [row0, row1), in order */
static void spread_band(const float *in, float *out, int xpixels, int ypixels, const int *radius,
                        const double *kernel_t, int kernel_radius, int reach, int row0, int row1)
{
    long size = 2L * kernel_radius + 1;
    int first = row0 - reach - 1, last = row1 - 1 + reach, y0;
    if (first < 0) first = 0;
    if (last > ypixels - 1) last = ypixels - 1;
    for (y0 = first; y0 <= last; ++y0) {
        int x0;
        for (x0 = 0; x0 < xpixels; ++x0) {
            long i = (long)y0 * xpixels + x0;
            double value = in[i];
            int r = radius[i], dx;
            if (!(in[i] > 0.0)) continue;
            for (dx = -r; dx <= r; ++dx) {
                int x = x0 + dx, h, lo, hi, y;
                const double *column;
                if (x < 0 || x > xpixels) continue;
                h = isqrt_floor((long long)r * r - (long long)dx * dx);
                lo = y0 - h;
                hi = y0 + h;
                /* output row of (x, y): y, or y+1 at x == xpixels (the next row's first pixel) */
                if (x < xpixels) {
                    if (lo < row0) lo = row0;
                    if (hi > row1 - 1) hi = row1 - 1;
                } else {
                    if (lo < row0 - 1) lo = row0 - 1;
                    if (hi > row1 - 2) hi = row1 - 2;
                }
                if (lo < 0) lo = 0;
                column = kernel_t + (long)(kernel_radius + dx) * size + kernel_radius;
                for (y = lo; y <= hi; ++y) {
                    double k = column[y - y0];
                    long j;
                    if (k == 0.0) continue;
                    j = (long)y * xpixels + x;
                    out[j] = (float)(out[j] + value * k);
                }
            }
        }
    }
}

int nb_psf_apply(const float *in, float *out, int xpixels, int ypixels, int type, double fwhm_pixels,
                 int user_radius, const double *kernel, int kernel_radius, double *lost, long *bad)
{
    long pixels = (long)xpixels * ypixels, size = 2L * kernel_radius + 1, i, first_bad = pixels;
    int maxwidth = xpixels > ypixels ? xpixels : ypixels, reach = 0;
    int *radius = malloc(sizeof(int) * (size_t)pixels);
    double *lost_of = malloc(sizeof(double) * (size_t)pixels);
    double *kernel_t = malloc(sizeof(double) * (size_t)(size * size));
    double total = 0.0, each;
    if (radius == NULL || lost_of == NULL || kernel_t == NULL) {
        free(radius); free(lost_of); free(kernel_t);
        *bad = -1;
        return -2;
    }
    /* the kernel by columns (dx), so that the inner loop (dy) reads it in order */
#pragma omp parallel for schedule(static)
    for (i = 0; i < size; ++i) {
        long j;
        for (j = 0; j < size; ++j) kernel_t[i * size + j] = kernel[j * size + i];
    }
#pragma omp parallel for schedule(static) reduction(min:first_bad) reduction(max:reach)
    for (i = 0; i < pixels; ++i) {
        radius[i] = 0;
        lost_of[i] = 0.0;
        if (!(in[i] > 0.0)) continue;
        if (pixel_radius(in[i], type, fwhm_pixels, user_radius, maxwidth, &radius[i], &lost_of[i]) != 0
            || radius[i] > kernel_radius) {
            if (i < first_bad) first_bad = i;
            continue;
        }
        if (radius[i] > reach) reach = radius[i];
    }
    if (first_bad < pixels) {
        free(radius); free(lost_of); free(kernel_t);
        *bad = first_bad;
        return -1;
    }
    for (i = 0; i < pixels; ++i)
        if (in[i] > 0.0) total += lost_of[i];
#pragma omp parallel
    {
        int threads = 1, me = 0;
#ifdef _OPENMP
        threads = omp_get_num_threads();
        me = omp_get_thread_num();
#endif
        spread_band(in, out, xpixels, ypixels, radius, kernel_t, kernel_radius, reach,
                    (int)((long)ypixels * me / threads), (int)((long)ypixels * (me + 1) / threads));
    }
    each = total / pixels;
#pragma omp parallel for schedule(static)
    for (i = 0; i < pixels; ++i) out[i] = (float)(out[i] + each);
    free(radius); free(lost_of); free(kernel_t);
    *lost = total;
    *bad = -1;
    return 0;
}

int nb_psf_auto_radius(double max_photons, int type, double fwhm_pixels, int *radius)
{
    double lost_guess = sqrt(max_photons) / PHOTON_LOSS_FACTOR, wanted;
    if (type == PSF_FIBER)
        wanted = 1 + ceil(fwhm_pixels * FIBER_G_PER_FWHM * (max_photons / lost_guess));
    else
        wanted = 1 + ceil(sqrt(-log(lost_guess / max_photons) / log(4) / 2) * fwhm_pixels);
    if (!(wanted > -2147483649.0 && wanted < 2147483648.0)) return -1;
    *radius = (int)wanted;
    return 0;
}

void nb_photon_image(const float *in, long n, double factor, float *photons, double *max_value,
                     long *negatives, long *nonfinite)
{
    double top = 0.0;
    long i, below = 0, odd = 0;
#pragma omp parallel for schedule(static) reduction(max:top) reduction(+:below, odd)
    for (i = 0; i < n; ++i) {
        double value = in[i];
        if (top < value) top = value;
        if (value < 0.0) ++below;
        if (!isfinite(value)) ++odd;
        if (photons != NULL) photons[i] = (float)(factor * value);
    }
    *max_value = top;
    *negatives = below;
    *nonfinite = odd;
}

void nb_negative_pixels(const float *in, long n, long *indices, long count)
{
    long i, found = 0;
    for (i = 0; i < n && found < count; ++i)
        if (in[i] < 0.0f) indices[found++] = i;
}

void nb_pgm_pixels(const unsigned short *words, long n, unsigned char *out)
{
    long i;
#pragma omp parallel for schedule(static)
    for (i = 0; i < n; ++i) out[i] = (unsigned char)(words[i] > 255 ? 255 : words[i]);
}

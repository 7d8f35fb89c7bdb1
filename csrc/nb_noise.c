/* nb_noise.c -- noisify's noise and integer conversions, bit for bit with its float and double
   roundings (build without -ffast-math and with -ffp-contract=off).  The point-spread function
   is nb_psf.c.

   The noise loops draw in pixel order from one nb_rng state (noisify's generators share their
   static state between seeds), so they run on one thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_rng.h"
#include "nb_draws.h"
#include "nb_noise.h"
#ifdef _OPENMP
#include <omp.h>
#endif


static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

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
                      unsigned short *out16, unsigned int *out32, int threads)
{
    long i;
    if (threads < 1) threads = default_threads();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (i = 0; i < n; ++i) {
        double adu = photons[i] * gain + adc;
        if (adu > 2147483647.0) adu = 2147483647.0;
        if (adu > 65535.0) adu = 65535.0;
        out32[i] = word32(adu);
        out16[i] = word16(adu);
    }
}

double nb_noise_photons(nb_rng *r, const float *expected, float *counts, long n, double flicker,
                        double calibration, long *seed, long *calib_seed)
{
    /* the state in locals, which nothing else can point at: the compiler keeps the seeds and
       the shuffle's iy in registers instead of storing and reloading them at every draw */
    nb_rng state = *r;
    long draws = *seed, calib = *calib_seed;
    double sum = 0.0;
    long i;
    for (i = 0; i < n; ++i) {
        double mean = expected[i];
        if (flicker > 0.0) mean *= (1.0 + flicker * draw_gaussdev(&state, &draws));
        if (calibration > 0.0) mean *= (1.0 + calibration * draw_gaussdev(&state, &calib));
        counts[i] = draw_poidev(&state, (float)mean, &draws);
        sum += counts[i];
    }
    *r = state;
    *seed = draws;
    *calib_seed = calib;
    return sum;
}

/* one noisy pixel's words; returns 1 when it overloads a word of `bits` */
static int noisy_words(double adu, int bits, unsigned short *out16, unsigned int *out32)
{
    int over = 0;
    if (adu > 2147483647.0) {
        adu = 2147483647.0;
        over = bits == 32;
    }
    *out32 = word32(adu);
    if (adu > 65535.0) {
        adu = 65535.0;
        over |= bits == 16;
    }
    *out16 = word16(adu);
    return over;
}

double nb_noisy_adu(nb_rng *r, const float *photons, long n, double gain, double adc, double readout,
                    long *seed, int bits, unsigned short *out16, unsigned int *out32, int *overloads, int sum_photons)
{
    double sum = 0.0;
    int over = 0;
    long i;
    if (readout > 0.0) {        /* one draw a pixel, in order */
        for (i = 0; i < n; ++i) {
            sum += photons[i];
            over += noisy_words(photons[i] * gain + adc + readout * draw_gaussdev(r, seed), bits, out16 + i,
                                out32 + i);
        }
    } else {                    /* no draws: the words in parallel, the sum in order */
#pragma omp parallel for schedule(static) reduction(+:over)
        for (i = 0; i < n; ++i) over += noisy_words(photons[i] * gain + adc, bits, out16 + i, out32 + i);
        if (sum_photons)
            for (i = 0; i < n; ++i) sum += photons[i];
    }
    *overloads = over;
    return sum;
}

double nb_noise_words(nb_rng *r, const float *expected, float *counts, int xpixels, int ypixels, double flicker,
                   double calibration, long *seed, long *calib_seed, double gain, double adc, int bits,
                   unsigned short *out16, unsigned int *out32, int *overloads)
{
    long drawn = 0;
    double sum = 0.0;
    int team = 1, over = 0;
#ifdef _OPENMP
    team = omp_get_max_threads() > 1 ? 2 : 1;
#endif
#pragma omp parallel num_threads(team)
    {
        int threads = 1, me = 0;
#ifdef _OPENMP
        threads = omp_get_num_threads();
        me = omp_get_thread_num();
#endif
        if (me == 0) {
            int y;
            for (y = 0; y < ypixels; ++y) {
                long row = (long)y * xpixels;
                nb_noise_photons(r, expected + row, counts + row, xpixels, flicker, calibration, seed, calib_seed);
                __atomic_store_n(&drawn, row + xpixels, __ATOMIC_RELEASE);
            }
        }
        if (me == threads - 1) {      /* the second thread, or the only one after its draws */
            long i = 0, end = (long)xpixels * ypixels;
            while (i < end) {
                long ready = __atomic_load_n(&drawn, __ATOMIC_ACQUIRE);
                if (ready == i) {
                    struct timespec pause = {0, 50000};
                    nanosleep(&pause, NULL);
                    continue;
                }
                for (; i < ready; ++i) {        /* the sum in pixel order, one chain as noisify's */
                    sum += counts[i];
                    over += noisy_words(counts[i] * gain + adc, bits, out16 + i, out32 + i);
                }
            }
        }
    }
    *overloads = over;
    return sum;
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

void nb_pgm_pixels(const unsigned short *words, long n, unsigned char *out, int threads)
{
    long i;
    if (threads < 1) threads = default_threads();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (i = 0; i < n; ++i) out[i] = (unsigned char)(words[i] > 255 ? 255 : words[i]);
}

/* nb_noise.c -- noisify's noise and integer conversions, bit for bit with its float and double
   roundings (build without -ffast-math and with -ffp-contract=off).  The point-spread function
   is nb_psf.c.

   The noise loops draw in pixel order from one nb_rng state (noisify's generators share their
   static state between seeds), so they run on one thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <stdint.h>
#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_rng.h"
#include "nb_draws.h"
#include "nb_noise.h"
#include "nb_draw_bounds.h"
#include "nb_side_work.h"
#include "nb_words.h"
#if defined(__SSE2__)
#include <immintrin.h>
#endif
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

/* noisify's draws with calibration noise and no flicker, once the seeds are running.  The
   product loop ends at the first product t <= g = (float)exp(-xm), xm from the pixel's
   calibration deviate; instead of waiting on the exact chain (log, division, square root,
   exp: about 120 cycles that every pixel's loop exit would wait for) the loop compares t with
   bounds on g carried through the same float and double operations from bounds on gaussdev's
   factor (nb_draw_bounds.h): each operation is monotone, so the bounds hold, and where t falls
   between them the exact g decides.  The exact factor is computed only where it is needed (a
   product between the bounds, a mean out of the bounds' range, the spare left at the end), so
   the draws and every count are noisify's.  gaussdev's pairs alternate with its spares, so the
   pixels go two by two: the pair's second deviate, then its spare. */

/* the smaller and the larger of two floats that are not NaN, without a branch: which is the
   smaller goes with a deviate's sign, a coin toss the branch predictor would miss half the time */
static inline void in_order(float a, float b, float *low, float *high)
{
#if defined(__SSE2__)
    __m128 x = _mm_set_ss(a), y = _mm_set_ss(b);
    *low = _mm_cvtss_f32(_mm_min_ss(x, y));
    *high = _mm_cvtss_f32(_mm_max_ss(x, y));
#else
    *low = a < b ? a : b;
    *high = a < b ? b : a;
#endif
}

/* noisify's calibrated mean (its photons0, a double) as poidev takes it */
static inline float mean_of(float expected, double calibration, float deviate)
{
    double mean = expected;
    mean *= (1.0 + calibration * deviate);
    return (float)mean;
}

/* bounds on g = (float)exp(-xm) for the mean made with the deviate v * gauss_factor(rsq), which
   lies between v * fac_low and v * fac_high; 0 when the mean may be out of the product branch
   (NaN, infinite, >= 12, negative): the caller takes noisify's exact path */
typedef struct g_bounds {
    double low, high;
} g_bounds;

static inline __attribute__((always_inline)) int bound_g(float expected, double calibration, float v,
                                                         float fac_low, float fac_high, g_bounds *g)
{
    float xm_a = mean_of(expected, calibration, v * fac_low), xm_b = mean_of(expected, calibration, v * fac_high);
    float xm_low, xm_high;
    if (!(xm_a >= 0.0f && xm_a < 12.0f && xm_b >= 0.0f && xm_b < 12.0f)) return 0;
    in_order(xm_a, xm_b, &xm_low, &xm_high);
    g->low = exp_low(xm_high);          /* g(xm_high) <= g(xm) <= g(xm_low) */
    g->high = exp_high(xm_low);
    return 1;
}

/* poidev of that mean (in the product branch), deciding with the bounds */
static inline __attribute__((always_inline)) float bounded_poidev(nb_rng *state, long *draws, float expected,
                                                                  double calibration, float v, float rsq,
                                                                  const g_bounds *g)
{
    float t = 1.0f, em = -1;
    do {
        ++em;
        t *= ran1_at(state, draws, 1);
    } while (t > g->high ||
             (t > g->low && t > (float)exp(-mean_of(expected, calibration, v * gauss_factor(rsq)))));
    return em;
}

/* one pixel's draws: flicker (seed), calibration (calib_seed), Poisson (seed) */
static inline __attribute__((always_inline)) float pixel_draws(nb_rng *state, float expected, double flicker,
                                                               double calibration, long *draws, long *calib,
                                                               const int running)
{
    double mean = expected;
    if (flicker > 0.0) mean *= (1.0 + flicker * gaussdev_at(state, draws, running));
    if (calibration > 0.0) mean *= (1.0 + calibration * gaussdev_at(state, calib, running));
    return poidev_at(state, (float)mean, draws, running);
}

static inline __attribute__((always_inline)) long calibrated_pairs(nb_rng *state, const float *expected, float *counts,
                                                                  long n, double calibration, long *draws,
                                                                  long *calib, double *sum, nb_side_work side,
                                                                  void *context)
{
    long i = 0;
    draw_bounds_ready();
    while (i + 1 < n) {
        float v1, v2, rsq, fac_low, fac_high;
        g_bounds first, second;
        int first_valid, second_valid;
        if (state->gauss_has_spare) {
            /* a spare in the state (left by poidev's Gaussian branch, which shares it): one
               pixel the exact way, which takes it */
            counts[i] = pixel_draws(state, expected[i], 0.0, calibration, draws, calib, 1);
            *sum += counts[i++];
            continue;
        }
        if (side != NULL) side(context);
        do {
            v1 = (float)(2.0 * ran1_at(state, calib, 1) - 1.0);
            v2 = (float)(2.0 * ran1_at(state, calib, 1) - 1.0);
            rsq = v1 * v1 + v2 * v2;
        } while (rsq >= 1.0 || rsq == 0);
        fac_bounds(rsq, &fac_low, &fac_high);
        /* both pixels' bounds before either loop: the first loop's mispredicted exit then does
           not throw the second's away */
        first_valid = bound_g(expected[i], calibration, v2, fac_low, fac_high, &first);
        second_valid = bound_g(expected[i + 1], calibration, v1, fac_low, fac_high, &second);
        if (!first_valid) {
            /* noisify's exact path, with the spare in the state: poidev's Gaussian branch
               (a mean above 1e6) takes it */
            float fac = gauss_factor(rsq);
            state->gauss_spare = v1 * fac;
            state->gauss_has_spare = 1;
            counts[i] = poidev_at(state, mean_of(expected[i], calibration, v2 * fac), draws, 1);
            *sum += counts[i++];
            continue;
        }
        counts[i] = bounded_poidev(state, draws, expected[i], calibration, v2, rsq, &first);
        if (side != NULL) side(context);
        if (second_valid)
            counts[i + 1] = bounded_poidev(state, draws, expected[i + 1], calibration, v1, rsq, &second);
        else
            counts[i + 1] = poidev_at(state, mean_of(expected[i + 1], calibration, v1 * gauss_factor(rsq)), draws, 1);
        *sum += counts[i];
        *sum += counts[i + 1];
        i += 2;
    }
    return i;
}

static inline __attribute__((always_inline)) double noise_photons(nb_rng *r, const float *expected, float *counts,
                                                                  long n, double flicker, double calibration,
                                                                  long *seed, long *calib_seed, nb_side_work side,
                                                                  void *context)
{
    /* the state in locals, which nothing else can point at: the compiler keeps the seeds and
       the shuffle's iy in registers instead of storing and reloading them at every draw */
    nb_rng state = *r;
    long draws = *seed, calib = *calib_seed;
    double sum = 0.0;
    long i = 0;
    /* ran1's reload test until every seed in use has drawn (and so is positive) */
    for (; i < n && (draws <= 0 || (calibration > 0.0 && calib <= 0) || state.iy == 0); ++i) {
        counts[i] = pixel_draws(&state, expected[i], flicker, calibration, &draws, &calib, 0);
        sum += counts[i];
    }
    if (calibration > 0.0 && !(flicker > 0.0))
        i += calibrated_pairs(&state, expected + i, counts + i, n - i, calibration, &draws, &calib, &sum, side,
                              context);
    for (; i < n; ++i) {
        counts[i] = pixel_draws(&state, expected[i], flicker, calibration, &draws, &calib, 1);
        sum += counts[i];
    }
    *r = state;
    *seed = draws;
    *calib_seed = calib;
    return sum;
}

double nb_noise_photons(nb_rng *r, const float *expected, float *counts, long n, double flicker,
                        double calibration, long *seed, long *calib_seed)
{
    return noise_photons(r, expected, counts, n, flicker, calibration, seed, calib_seed, NULL, NULL);
}

double nb_noise_photons_beside(nb_rng *r, const float *expected, float *counts, long n, double flicker,
                               double calibration, long *seed, long *calib_seed, nb_side_work side, void *context)
{
    return noise_photons(r, expected, counts, n, flicker, calibration, seed, calib_seed, side, context);
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
    /* each row's words as soon as it is drawn, while it is in the cache, on the draws' thread:
       about 2 ns a pixel, less than a second thread's hand-over costs on a busy machine */
    double sum = 0.0;
    int over = 0, y;
    for (y = 0; y < ypixels; ++y) {
        long row = (long)y * xpixels, i;
        nb_noise_photons(r, expected + row, counts + row, xpixels, flicker, calibration, seed, calib_seed);
        for (i = row; i < row + xpixels; ++i) {         /* the sum in pixel order, one chain as noisify's */
            sum += counts[i];
            over += noisy_words(counts[i] * gain + adc, bits, out16 + i, out32 + i);
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

long nb_draw_bounds_check(unsigned int first, unsigned int last, unsigned int step, int which)
{
    long failures = 0, k, count;
    if (step == 0) step = 1;
    count = last > first ? ((long)last - first + step - 1) / step : 0;
    draw_bounds_ready();
#pragma omp parallel for schedule(dynamic, 65536) reduction(+:failures)
    for (k = 0; k < count; ++k) {
        uint32_t bits = first + (uint32_t)(k * step);
        float x = float_of_bits(bits);
        if (which == 0) {
            float low, high, fac;
            if (!(x > 0.0f && x < 1.0f)) continue;
            fac_bounds(x, &low, &high);
            fac = gauss_factor(x);
            failures += !(low <= fac && fac <= high);
        } else {
            float g, next;
            if (!(x >= 0.0f && x < 12.0f)) continue;
            g = (float)exp(-x);
            next = (float)exp(-nextafterf(x, 12.0f));
            failures += !(exp_low(x) <= g && g <= exp_high(x) && next <= g);
        }
    }
    return failures;
}

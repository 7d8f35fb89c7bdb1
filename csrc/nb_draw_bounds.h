/* nb_draw_bounds.h -- cheap, proven bounds on the two values that decide how many uniforms
   poidev's product loop takes when noisify adds calibration noise:
     fac = (float)sqrt(-2 log(rsq) / rsq)   (gaussdev, from a float rsq in (0, 1))
     g   = (float)exp(-xm)                  (poidev, from a float xm in [0, 12))
   The exact values cost a chain of log, division, square root and exp (about 120 cycles) that
   every pixel's loop exit waits for; the bounds cost a table load and a short polynomial, so
   the loop can decide with them and compute the exact value only where a product falls between
   the bounds (see nb_noise.c).  The decision is then noisify's own, provided that
     fac_low(rsq) <= fac <= fac_high(rsq) for every float rsq in (0, 1), and
     exp_low(x) <= g(x) <= exp_high(x) and g non-increasing for every float x in [0, 12),
   with this C library's log, sqrt and exp: nb_draw_bounds_check tests exactly these, every
   float at once in bench/draws_proof.py (results in docs/noisify.md), a sample in
   tests/test_rng.py.  Include after <math.h>, <string.h> and <pthread.h>. */
#ifndef NB_DRAW_BOUNDS_H
#define NB_DRAW_BOUNDS_H

#include <stdint.h>

#define FAC_SHIFT 17                                  /* bucket: 2^17 floats, 1/64 of a binade */
#define FAC_HALF_BUCKETS (0x3F000000u >> FAC_SHIFT)   /* rsq below 0.5, by rsq's bits */
#define FAC_BUCKETS (2 * FAC_HALF_BUCKETS + 1)        /* then 1 - rsq in (0, 0.5], by its bits */
#define EXP_BOUND_SLACK 1e-6                          /* > the polynomial's 2.2e-7 + g's rounding */

static float fac_table[FAC_BUCKETS][2];               /* [bucket] = {low, high} */
static double exp2_neg[32];                           /* 2^(-j/32) */
static pthread_once_t bounds_once = PTHREAD_ONCE_INIT;

static inline float float_of_bits(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static inline uint32_t bits_of_float(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* gaussdev's factor, exactly as it rounds */
static inline float gauss_factor(float rsq)
{
    return (float)sqrt(-2.0 * log(rsq) / rsq);
}

/* the float nearest 1 - d on the side `up` (d a float >= 2^-24: 1 - d is exact in double) */
static float one_minus(float d, int up)
{
    double exact = 1.0 - (double)d;
    float near = (float)exact;
    if (up && (double)near < exact) near = nextafterf(near, 2.0f);
    if (!up && (double)near > exact) near = nextafterf(near, 0.0f);
    return near;
}

static void build_bounds(void)
{
    uint32_t b;
    int j;
    /* rsq < 0.5: fac falls as rsq grows, so a bucket's values lie between fac at its first
       float and fac at the next bucket's first */
    for (b = 0; b < FAC_HALF_BUCKETS; ++b) {
        fac_table[b][0] = gauss_factor(float_of_bits((b + 1) << FAC_SHIFT));
        fac_table[b][1] = gauss_factor(float_of_bits(b ? b << FAC_SHIFT : 1));   /* finite: rsq > 0 */
    }
    /* rsq >= 0.5 by d = 1 - rsq (exact in float): fac grows with d; d's bucket [d0, d1) holds
       rsq in (1 - d1, 1 - d0], so between fac at the floats just outside those ends */
    for (b = 0; b <= FAC_HALF_BUCKETS; ++b) {
        float d0 = float_of_bits(b << FAC_SHIFT), d1 = float_of_bits((b + 1) << FAC_SHIFT);
        float *entry = fac_table[FAC_HALF_BUCKETS + b];
        if (d0 < 0x1p-24f) {            /* no float rsq below 1 is this close to it */
            entry[0] = 0.0f;
            entry[1] = 0.0f;
            continue;
        }
        entry[0] = gauss_factor(one_minus(d0, 1));
        entry[1] = gauss_factor(d1 > 0.5f ? 0.5f : one_minus(d1, 0));
    }
    for (j = 0; j < 32; ++j) exp2_neg[j] = exp2(-j / 32.0);
}

static inline void draw_bounds_ready(void)
{
    pthread_once(&bounds_once, build_bounds);
}

/* low <= gauss_factor(rsq) <= high, for rsq in (0, 1) */
static inline void fac_bounds(float rsq, float *low, float *high)
{
    uint32_t below = bits_of_float(rsq) >> FAC_SHIFT;
    uint32_t above = FAC_HALF_BUCKETS + (bits_of_float(1.0f - rsq) >> FAC_SHIFT);
    const float *entry = fac_table[rsq < 0.5f ? below : above];
    *low = entry[0];
    *high = entry[1];
}

/* about exp(-x) for x in [0, 12), within 2.2e-7: 2^-(k/32) from the table and the exponent,
   times a quadratic for exp(-s), |s| <= ln2/64 */
static inline double exp_neg_near(float x)
{
    const double shifter = 0x1.8p52;
    double y = (double)x * (32.0 / 0.69314718055994530942);
    double whole = (y + shifter) - shifter;          /* y rounded to an integer */
    long k = (long)whole;
    double s = (y - whole) * (0.69314718055994530942 / 32.0);
    double power = exp2_neg[k & 31], poly = 1.0 - s + 0.5 * (s * s);
    uint64_t bits;
    memcpy(&bits, &power, sizeof bits);
    bits -= (uint64_t)(k >> 5) << 52;                /* times 2^-(k/32 whole) */
    memcpy(&power, &bits, sizeof power);
    return power * poly;
}

static inline double exp_low(float x)
{
    return exp_neg_near(x) * (1.0 - EXP_BOUND_SLACK);
}

static inline double exp_high(float x)
{
    return exp_neg_near(x) * (1.0 + EXP_BOUND_SLACK);
}

#endif

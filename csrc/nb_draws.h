/* nb_draws.h -- nanoBragg's (and noisify's) generators, bit for bit: Park-Miller with a
   Bays-Durham shuffle (Numerical Recipes' ran1), the polar Box-Muller gaussdev and the poidev
   Poisson generator, as static inline functions: nb_rng.c exports them (nb_ran1, nb_gaussdev,
   nb_poidev) and the noise loops (nb_noise.c, nb_psf.c) inline them.  Their float rounding is
   part of the sequences, so float stays float here.  Build without -ffast-math and with
   -ffp-contract=off.  Include after <math.h>, <string.h>, nb_physics.h (NB_PI) and nb_rng.h.
   Not a cffi header (it holds code). */
#ifndef NB_DRAWS_H
#define NB_DRAWS_H

#define RAN1_IA 16807L
#define RAN1_IM 2147483647L
#define RAN1_IQ 127773L
#define RAN1_IR 2836L
#define RAN1_NTAB 32
#define RAN1_NDIV (1 + (RAN1_IM - 1) / RAN1_NTAB)
#define RAN1_RNMX (1.0 - 1.2e-7)

/* one Lehmer step, seed*16807 mod (2^31-1) by Schrage's method */
static long lehmer(long seed)
{
    long k = seed / RAN1_IQ;
    seed = RAN1_IA * (seed - k * RAN1_IQ) - RAN1_IR * k;
    return seed < 0 ? seed + RAN1_IM : seed;
}

/* lehmer() for a seed in [0, 2^31-1), as every seed after the table's (re)load is: the product
   reduced modulo the Mersenne prime 2^31-1 by folding (the same value, fewer operations) */
static inline long lehmer_step(long seed)
{
    unsigned long long x = (unsigned long long)seed * RAN1_IA;
    x = (x & RAN1_IM) + (x >> 31);
    return (long)(x >= (unsigned long long)RAN1_IM ? x - RAN1_IM : x);
}

/* (float)RAN1_RNMX, ran1's largest deviate.  Every iy whose deviate exceeds RAN1_RNMX (iy >=
   2147483328) gives a deviate >= this float, and every other iy one below it (the deviate is
   monotone in iy; tests/test_rng.py checks both sides of the boundary, bench/draws_proof.c
   every iy), so ran1's clamp is min(deviate, RAN1_TOP): one minss, no branch. */
#define RAN1_TOP 0.99999988079071044921875f

/* ran1, inlined everywhere; `running` (a constant at each call) says the caller knows the seed
   is positive and the table loaded (true after a seed's first draw: Lehmer values are never
   <= 0), which drops the reload test from the noise loops' draws */
static inline __attribute__((always_inline)) float ran1_at(nb_rng *r, long *seed, const int running)
{
    if (!running && (*seed <= 0 || r->iy == 0)) {
        /* (re)load the shuffle table; a non-positive seed restarts, 0 becomes 1 */
        int j;
        *seed = (-(*seed) < 1) ? 1 : -(*seed);
        for (j = RAN1_NTAB + 7; j >= 0; --j) {
            *seed = lehmer(*seed);
            if (j < RAN1_NTAB) r->iv[j] = *seed;
        }
        r->iy = r->iv[0];
    }
    *seed = lehmer_step(*seed);
    int slot = (int)((unsigned long)r->iy / RAN1_NDIV) & (RAN1_NTAB - 1);
    r->iy = r->iv[slot];
    r->iv[slot] = *seed;
    float deviate = (float)((1.0 / RAN1_IM) * r->iy);
    return deviate < RAN1_TOP ? deviate : RAN1_TOP;
}

static inline float draw_ran1(nb_rng *r, long *seed)
{
    return ran1_at(r, seed, 0);
}

static inline __attribute__((always_inline)) float gaussdev_at(nb_rng *r, long *seed, const int running)
{
    float v1, v2, rsq, fac;
    if (r->gauss_has_spare) {
        r->gauss_has_spare = 0;
        return r->gauss_spare;
    }
    do {
        v1 = (float)(2.0 * ran1_at(r, seed, running) - 1.0);
        v2 = (float)(2.0 * ran1_at(r, seed, running) - 1.0);
        rsq = v1 * v1 + v2 * v2;
    } while (rsq >= 1.0 || rsq == 0);
    fac = (float)sqrt(-2.0 * log(rsq) / rsq);
    r->gauss_spare = v1 * fac;
    r->gauss_has_spare = 1;
    return v2 * fac;
}

static inline float draw_gaussdev(nb_rng *r, long *seed)
{
    return gaussdev_at(r, seed, 0);
}

/* ln(Gamma(xx)) by Lanczos' series, as nanoBragg rounds it (float in, float out) */
static float gammln(float xx)
{
    static const double coefficient[6] = {76.18009172947146, -86.50532032941677, 24.01409824083091,
                                          -1.231739572450155, 0.1208650973866179e-2, -0.5395239384953e-5};
    double x = xx, y = xx;
    double tmp = x + 5.5;
    double series = 1.000000000190015;
    int j;
    tmp -= (x + 0.5) * log(tmp);
    for (j = 0; j < 6; ++j) series += coefficient[j] / ++y;
    return (float)(-tmp + log(2.5066282746310005 * series / x));
}

/* gammln(em + 1) for a whole em >= 0, remembered: poidev's rejection loop asks for the same few
   thousand values over and over (noisify: once or twice a pixel).  Each entry is the float's
   bits with bit 32 set once known, read and written atomically, so threads may share it. */
#define GAMMLN_REMEMBERED 65536
static unsigned long long gammln_whole_cache[GAMMLN_REMEMBERED];

static float gammln_whole(float em)
{
    unsigned long long entry;
    unsigned int bits;
    float value;
    int k;
    if (!(em >= 0.0f && em < (float)GAMMLN_REMEMBERED)) return gammln((float)(em + 1.0));
    k = (int)em;
    entry = __atomic_load_n(&gammln_whole_cache[k], __ATOMIC_RELAXED);
    if (entry >> 32) {
        bits = (unsigned int)entry;
        memcpy(&value, &bits, sizeof value);
        return value;
    }
    value = gammln((float)(em + 1.0));
    memcpy(&bits, &value, sizeof bits);
    __atomic_store_n(&gammln_whole_cache[k], (1ULL << 32) | bits, __ATOMIC_RELAXED);
    return value;
}

static inline __attribute__((always_inline)) float poidev_at(nb_rng *r, float xm, long *seed, const int running)
{
    float em, t, y;
    if (xm > 1.0e6)
        return (float)(xm + sqrt(xm) * gaussdev_at(r, seed, running));
    if (xm < 12.0) {
        /* multiply uniform deviates until the product drops below exp(-xm) */
        if (xm != r->poi_oldm) {
            r->poi_oldm = xm;
            r->poi_g = (float)exp(-xm);
        }
        em = -1;
        t = 1.0f;
        do {
            ++em;
            t *= ran1_at(r, seed, running);
        } while (t > r->poi_g);
        return em;
    }
    /* rejection method against a Lorentzian */
    if (xm != r->poi_oldm) {
        r->poi_oldm = xm;
        r->poi_sq = (float)sqrt(2.0 * xm);
        r->poi_alxm = (float)log(xm);
        r->poi_g = xm * r->poi_alxm - gammln((float)(xm + 1.0));
    }
    do {
        do {
            y = (float)tan(NB_PI * ran1_at(r, seed, running));
            em = r->poi_sq * y + xm;
        } while (em < 0.0);
        em = (float)floor(em);
        t = (float)(0.9 * (1.0 + y * y) * exp(em * r->poi_alxm - gammln_whole(em) - r->poi_g));
    } while (ran1_at(r, seed, running) > t);
    return em;
}

static inline float draw_poidev(nb_rng *r, float xm, long *seed)
{
    return poidev_at(r, xm, seed, 0);
}

#endif

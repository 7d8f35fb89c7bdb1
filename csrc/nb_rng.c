/* nb_rng.c -- nanoBragg's generators, bit for bit: Park-Miller with a Bays-Durham shuffle
   (Numerical Recipes' ran1), the polar Box-Muller gaussdev and the poidev Poisson generator.
   Their float rounding is part of the sequences, so float stays float here.  Build without
   -ffast-math and with -ffp-contract=off. */
#include <math.h>
#include <string.h>
#include "nb_problem.h"
#include "nb_physics.h"        /* NB_PI */
#include "nb_rng.h"

#define RAN1_IA 16807L
#define RAN1_IM 2147483647L
#define RAN1_IQ 127773L
#define RAN1_IR 2836L
#define RAN1_NTAB 32
#define RAN1_NDIV (1 + (RAN1_IM - 1) / RAN1_NTAB)
#define RAN1_RNMX (1.0 - 1.2e-7)

void nb_rng_init(nb_rng *r)
{
    int j;
    r->iy = 0;
    for (j = 0; j < RAN1_NTAB; ++j) r->iv[j] = 0;
    r->gauss_has_spare = 0;
    r->gauss_spare = 0.0f;
    r->poi_oldm = -1.0f;
    r->poi_g = r->poi_sq = r->poi_alxm = 0.0f;
}

/* one Lehmer step, seed*16807 mod (2^31-1) by Schrage's method */
static long lehmer(long seed)
{
    long k = seed / RAN1_IQ;
    seed = RAN1_IA * (seed - k * RAN1_IQ) - RAN1_IR * k;
    return seed < 0 ? seed + RAN1_IM : seed;
}

float nb_ran1(nb_rng *r, long *seed)
{
    if (*seed <= 0 || r->iy == 0) {
        /* (re)load the shuffle table; a non-positive seed restarts, 0 becomes 1 */
        int j;
        *seed = (-(*seed) < 1) ? 1 : -(*seed);
        for (j = RAN1_NTAB + 7; j >= 0; --j) {
            *seed = lehmer(*seed);
            if (j < RAN1_NTAB) r->iv[j] = *seed;
        }
        r->iy = r->iv[0];
    }
    *seed = lehmer(*seed);
    int slot = (int)(r->iy / RAN1_NDIV) & (RAN1_NTAB - 1);
    r->iy = r->iv[slot];
    r->iv[slot] = *seed;
    float deviate = (float)((1.0 / RAN1_IM) * r->iy);
    return (deviate > RAN1_RNMX) ? (float)RAN1_RNMX : deviate;
}

float nb_gaussdev(nb_rng *r, long *seed)
{
    float v1, v2, rsq, fac;
    if (r->gauss_has_spare) {
        r->gauss_has_spare = 0;
        return r->gauss_spare;
    }
    do {
        v1 = (float)(2.0 * nb_ran1(r, seed) - 1.0);
        v2 = (float)(2.0 * nb_ran1(r, seed) - 1.0);
        rsq = v1 * v1 + v2 * v2;
    } while (rsq >= 1.0 || rsq == 0);
    fac = (float)sqrt(-2.0 * log(rsq) / rsq);
    r->gauss_spare = v1 * fac;
    r->gauss_has_spare = 1;
    return v2 * fac;
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

float nb_poidev(nb_rng *r, float xm, long *seed)
{
    float em, t, y;
    if (xm > 1.0e6)
        return (float)(xm + sqrt(xm) * nb_gaussdev(r, seed));
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
            t *= nb_ran1(r, seed);
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
            y = (float)tan(NB_PI * nb_ran1(r, seed));
            em = r->poi_sq * y + xm;
        } while (em < 0.0);
        em = (float)floor(em);
        t = (float)(0.9 * (1.0 + y * y) * exp(em * r->poi_alxm - gammln_whole(em) - r->poi_g));
    } while (nb_ran1(r, seed) > t);
    return em;
}

void nb_mosaic_umat(nb_rng *r, float mosaicity, double *umat, long *seed)
{
    double r1 = (double)2.0 * nb_ran1(r, seed) - 1.0;
    double r2 = (double)2.0 * nb_ran1(r, seed) - 1.0;
    double r3 = (double)2.0 * nb_ran1(r, seed) - 1.0;
    /* axis uniform on the sphere, angle from the cap size (single-precision pow) */
    double xyrad = sqrt(1.0 - r2 * r2);
    double rot = mosaicity * powf((float)(1.0 - r3 * r3), (float)(1.0 / 3.0));
    double v1 = xyrad * sin(NB_PI * r1), v2 = xyrad * cos(NB_PI * r1), v3 = r2;
    double c = cos(rot), s = sin(rot), t = 1.0 - c;
    umat[0] = c + t * (v1 * v1);
    umat[1] = (t * v1) * v2 - s * v3;
    umat[2] = (t * v1) * v3 + s * v2;
    umat[3] = (t * v1) * v2 + s * v3;
    umat[4] = c + t * (v2 * v2);
    umat[5] = (t * v2) * v3 - s * v1;
    umat[6] = (t * v1) * v3 - s * v2;
    umat[7] = (t * v2) * v3 + s * v1;
    umat[8] = c + t * (v3 * v3);
}

static void normalize_rows(double *u)
{
    int row;
    for (row = 0; row < 3; ++row) {
        double *v = u + 3 * row;
        double m = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        if (m > 0) { v[0] /= m; v[1] /= m; v[2] /= m; }
    }
}

void nb_umat2misset(const double *umat, double *angles)
{
    double u[9];
    int i;
    for (i = 0; i < 9; ++i) u[i] = umat[i];
    /* nanoBragg normalizes the rows twice (rebuilding empty rows in between, which a
       rotation never has); the second pass can change the last bit, so keep both */
    normalize_rows(u);
    normalize_rows(u);
    if (u[6] * u[6] < 1.0) {
        angles[0] = atan2(u[7], u[8]);
        angles[1] = atan2(-u[6], sqrt(u[7] * u[7] + u[8] * u[8]));
        angles[2] = atan2(u[3], u[0]);
    } else {
        angles[0] = atan2(1, 1) * 4;
        angles[1] = atan2(1, 1) * 2;
        angles[2] = atan2(u[1], -u[4]);
    }
}

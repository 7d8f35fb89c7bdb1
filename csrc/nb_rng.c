/* nb_rng.c -- nanoBragg's generators (their code is nb_draws.h, which the noise loops inline
   too), the mosaic rotations and the misset angles of a rotation.  Build without -ffast-math
   and with -ffp-contract=off. */
#include <math.h>
#include <string.h>
#include "nb_problem.h"
#include "nb_physics.h"        /* NB_PI */
#include "nb_rng.h"

#include "nb_draws.h"

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

float nb_ran1(nb_rng *r, long *seed)
{
    return draw_ran1(r, seed);
}

float nb_gaussdev(nb_rng *r, long *seed)
{
    return draw_gaussdev(r, seed);
}

float nb_poidev(nb_rng *r, float xm, long *seed)
{
    return draw_poidev(r, xm, seed);
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

/* nb_rng.h -- nanoBragg's random generators (plain declarations: also cffi's cdef).

   nanoBragg keeps one shared state (static variables) for ran1, gaussdev and poidev, used in
   program order by the random misset, the mosaic domains and the noise image; seeds are C
   longs updated in place.  Here that state is one explicit nb_rng object. */

typedef struct nb_rng {
    long iy;                 /* ran1 shuffle state; 0 = not initialized */
    long iv[32];
    int gauss_has_spare;     /* gaussdev keeps the second deviate of each pair */
    float gauss_spare;
    float poi_oldm, poi_g, poi_sq, poi_alxm;   /* poidev's cache of the last mean */
} nb_rng;

void nb_rng_init(nb_rng *r);
float nb_ran1(nb_rng *r, long *seed);
float nb_gaussdev(nb_rng *r, long *seed);
float nb_poidev(nb_rng *r, float xm, long *seed);

/* random rotation on a spherical cap of the given size (radians, rounded to float) */
void nb_mosaic_umat(nb_rng *r, float mosaicity, double *umat, long *seed);

/* x, y, z rotation angles (radians) that reproduce a rotation matrix */
void nb_umat2misset(const double *umat, double *angles);

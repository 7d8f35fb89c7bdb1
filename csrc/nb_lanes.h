/* nb_lanes.h -- the C engine's row renderer: nb_pixel (nb_physics.h) for NB_LANES pixels at once.

   Included by nb_cpu_*.c, each compiled for one CPU level (#pragma GCC target), and by
   nb_engine_single.c (NB_WITH_LANES 0); each defines
     NB_ROW_NAME     the name of the row renderer (nb_rows.h),
     NB_WITH_LANES   1: pixels go through the lane code below; 0: all through nb_pixel,
     NB_VECTOR_MATH  1: nb_vector_sin/cos/exp exist (glibc's libmvec for 8 lanes).

   Every quantity nb_pixel computes becomes an array with one value per lane (one pixel each)
   and every step a loop over the lanes, which the compiler turns into vector instructions.
   Each lane does the IEEE operations nb_pixel does, in the same order: with NB_MATH_LIBM a
   lane's value is bit for bit nb_pixel's (the tests check this on every golden case).  With
   NB_MATH_VECTOR the lattice factor's sin, cos and exp come from libmvec instead: a few ulp
   from libm's, which the rounding to float usually hides.

   Only pixels whose value does not depend on the state nanoBragg carries from pixel to pixel
   take the lane path: not the pixel of the run's first phi sweep, and no curved detector (a
   per-pixel rotation).  With interpolation on, a batch of lanes is kept only if none of its
   evaluations leaves the interpolation stencil; otherwise its pixels are rendered again by
   nb_pixel, in order, so that the switch-off happens exactly where nanoBragg's happens. */

#if NB_WITH_LANES

#define NB_LANES 8
#define NB_EACH(j) _Pragma("omp simd") for (j = 0; j < NB_LANES; ++j)

/* y = f(x) per lane: libmvec's f when this path has it and math is NB_MATH_VECTOR, else libm's */
#if !NB_VECTOR_MATH
static inline void nb_no_vector_math(const double *x, double *y) { (void)x; (void)y; }   /* never called */
#define nb_vector_sin nb_no_vector_math
#define nb_vector_cos nb_no_vector_math
#define nb_vector_exp nb_no_vector_math
#endif
#define NB_LANES_MATH(name, libm, vector)                                        \
    static inline void name(int math, const double *x, double *y)                \
    {                                                                            \
        int j;                                                                   \
        if (NB_VECTOR_MATH && math == NB_MATH_VECTOR) { vector(x, y); return; }  \
        for (j = 0; j < NB_LANES; ++j) y[j] = libm(x[j]);                        \
    }
NB_LANES_MATH(nb_lanes_sin, sin, nb_vector_sin)
NB_LANES_MATH(nb_lanes_cos, cos, nb_vector_cos)
NB_LANES_MATH(nb_lanes_exp, exp, nb_vector_exp)

/* nb_sincg(NB_PI * h, N) per lane, multiplied into F */
static inline void nb_lanes_sincg(int math, const double *h, double N, double *F)
{
    double x[NB_LANES], xN[NB_LANES], sin_x[NB_LANES], sin_xN[NB_LANES];
    int j;
    NB_EACH(j) { x[j] = NB_PI * h[j]; xN[j] = x[j] * N; }
    nb_lanes_sin(math, x, sin_x);
    nb_lanes_sin(math, xN, sin_xN);
    NB_EACH(j) F[j] *= (x[j] == 0) ? N : sin_xN[j] / sin_x[j];
}

/* nb_lattice_factor per lane */
static inline void nb_lanes_lattice_factor(const nb_problem *p, int math, const double *h, const double *k,
                                           const double *l, const int *h0, const int *k0, const int *l0,
                                           double *F)
{
    const double Na = p->Na, Nb = p->Nb, Nc = p->Nc, fudge = p->fudge;
    double dh[NB_LANES], dk[NB_LANES], dl[NB_LANES];
    int j;
    if (p->xtal_shape == 0) {
        NB_EACH(j) F[j] = 1.0;
        if (Na > 1) nb_lanes_sincg(math, h, Na, F);
        if (Nb > 1) nb_lanes_sincg(math, k, Nb, F);
        if (Nc > 1) nb_lanes_sincg(math, l, Nc, F);
        return;
    }
    NB_EACH(j) { dh[j] = h[j] - h0[j]; dk[j] = k[j] - k0[j]; dl[j] = l[j] - l0[j]; }
    if (p->xtal_shape == 1) {
        double x[NB_LANES], sin_x[NB_LANES], cos_x[NB_LANES];
        NB_EACH(j) {
            double hrad_sqr = dh[j] * dh[j] * Na * Na + dk[j] * dk[j] * Nb * Nb + dl[j] * dl[j] * Nc * Nc;
            x[j] = NB_PI * sqrt(hrad_sqr * fudge);
        }
        nb_lanes_sin(math, x, sin_x);
        nb_lanes_cos(math, x, cos_x);
        NB_EACH(j) {
            double sinc3 = (x[j] == 0) ? 1.0 : 3.0 * (sin_x[j] / x[j] - cos_x[j]) / (x[j] * x[j]);
            F[j] = Na * Nb * Nc * 0.723601254558268 * sinc3;
        }
        return;
    }
    double rad_star_sqr[NB_LANES];
    NB_EACH(j) {
        double dx = dh[j] * p->a_star[0] + dk[j] * p->b_star[0] + dl[j] * p->c_star[0];
        double dy = dh[j] * p->a_star[1] + dk[j] * p->b_star[1] + dl[j] * p->c_star[1];
        double dz = dh[j] * p->a_star[2] + dk[j] * p->b_star[2] + dl[j] * p->c_star[2];
        rad_star_sqr[j] = (dx * dx + dy * dy + dz * dz) * Na * Na * Nb * Nb * Nc * Nc;
    }
    if (p->xtal_shape == 2) {
        double arg[NB_LANES], e[NB_LANES];
        NB_EACH(j) arg[j] = -(rad_star_sqr[j] / 0.63 * fudge);
        nb_lanes_exp(math, arg, e);
        NB_EACH(j) F[j] = Na * Nb * Nc * e[j];
        return;
    }
    NB_EACH(j) F[j] = Na * Nb * Nc * (double)(rad_star_sqr[j] * fudge < 0.3969);
}

/* nb_polarization for the lanes that `need` it: their diffracted vectors are re-normalized in
   place and polar[j] replaced, as nb_pixel does for one pixel */
static inline void nb_lanes_polarization(const nb_problem *p, int source, double diffracted[3][NB_LANES],
                                         const int *need, double *polar)
{
    const double kahn = p->kahn_factor;
    const double *incident = p->kahn_frames + 9 * source, *B = incident + 3, *E = incident + 6;
    double cos2theta_sqr[NB_LANES], sin2theta_sqr[NB_LANES], cos2psi[NB_LANES];
    int j;
    NB_EACH(j) {
        double d0 = diffracted[0][j], d1 = diffracted[1][j], d2 = diffracted[2][j];
        double mag = sqrt(d0 * d0 + d1 * d1 + d2 * d2);
        double u0 = (mag != 0.0) ? d0 / mag : 0.0;
        double u1 = (mag != 0.0) ? d1 / mag : 0.0;
        double u2 = (mag != 0.0) ? d2 / mag : 0.0;
        diffracted[0][j] = need[j] ? u0 : d0;
        diffracted[1][j] = need[j] ? u1 : d1;
        diffracted[2][j] = need[j] ? u2 : d2;
        double cos2theta = incident[0] * u0 + incident[1] * u1 + incident[2] * u2;
        cos2theta_sqr[j] = cos2theta * cos2theta;
        sin2theta_sqr[j] = 1.0 - cos2theta_sqr[j];
        cos2psi[j] = 1.0;                   /* cos(2 * 0.0): no Kahn factor, psi stays 0 */
    }
    if (kahn != 0.0) {
        for (j = 0; j < NB_LANES; ++j) {
            if (!need[j]) continue;
            const double d[3] = {diffracted[0][j], diffracted[1][j], diffracted[2][j]};
            double psi = -atan2(nb_dot(d, B), nb_dot(d, E));
            cos2psi[j] = cos(2.0 * psi);
        }
    }
    NB_EACH(j) {
        double value = 0.5 * (1.0 + cos2theta_sqr[j] - kahn * cos2psi[j] * sin2theta_sqr[j]);
        polar[j] = need[j] ? value : polar[j];
    }
}

/* nb_structure_factor with interpolation off, per lane: the nearest reflection or default_F */
static inline void nb_lanes_structure_factor(const nb_problem *p, const int *h0, const int *k0, const int *l0,
                                             double *F)
{
    int j;
    if (!p->hkls) {
        NB_EACH(j) F[j] = p->default_F;
        return;
    }
    long idx[NB_LANES];
    int inside[NB_LANES];
    NB_EACH(j) {
        inside[j] = (h0[j] <= p->h_max) & (h0[j] >= p->h_min) & (k0[j] <= p->k_max) & (k0[j] >= p->k_min) &
                    (l0[j] <= p->l_max) & (l0[j] >= p->l_min);
        idx[j] = inside[j] ? (long)(h0[j] - p->h_min) * p->h_stride + (long)(k0[j] - p->k_min) * p->k_stride
                             + (l0[j] - p->l_min)
                           : 0;
    }
    for (j = 0; j < NB_LANES; ++j) F[j] = inside[j] ? p->Fhkl[idx[j]] : p->default_F;
}

/* nb_polint per lane through the points x = base, base+1, base+2, base+3 (nb_structure_factor's
   hd/kd/ld, consecutive integers), in two steps: the products of differences, shared by every
   interpolation along one axis, then the weighted sum.  Each term is nb_polint's
       (x - xa_1)*(x - xa_2)*(x - xa_3) * ya_0 / ((xa_0 - xa_1)*(xa_0 - xa_2)*(xa_0 - xa_3))
   with the denominator, a product of small exact integer differences, written as its value:
   -6, 2, -2 and 6; dividing by +-2 is multiplying by +-0.5 exactly (both round x/2 once). */
typedef struct nb_lanes_stencil {
    double P[4][NB_LANES];                /* the products of differences of each term */
} nb_lanes_stencil;

static inline void nb_lanes_stencil_at(const int *base, const double *x, nb_lanes_stencil *w)
{
    int j;
    NB_EACH(j) {
        double xa0 = base[j], xa1 = base[j] + 1, xa2 = base[j] + 2, xa3 = base[j] + 3, v = x[j];
        w->P[0][j] = (v - xa1) * (v - xa2) * (v - xa3);
        w->P[1][j] = (v - xa0) * (v - xa2) * (v - xa3);
        w->P[2][j] = (v - xa0) * (v - xa1) * (v - xa3);
        w->P[3][j] = (v - xa0) * (v - xa1) * (v - xa2);
    }
}

static inline void nb_lanes_polint(const nb_lanes_stencil *w, double ya[4][NB_LANES], double *y)
{
    int j;
    NB_EACH(j) {
        double y0 = w->P[0][j] * ya[0][j] / -6.0;
        double y1 = w->P[1][j] * ya[1][j] * 0.5;
        double y2 = w->P[2][j] * ya[2][j] * -0.5;
        double y3 = w->P[3][j] * ya[3][j] / 6.0;
        y[j] = y0 + y1 + y2 + y3;
    }
}

/* nb_structure_factor with interpolation on, for the lanes that `use` it: the tricubic value.
   Returns 0 when one of them lies outside the interpolation stencil: nb_pixel would switch
   interpolation off there, and the caller renders these pixels with nb_pixel instead. */
static inline int nb_lanes_tricubic(const nb_problem *p, const double *h, const double *k, const double *l,
                                    const int *use, double *F)
{
    const long k_stride = p->k_stride, h_stride = p->h_stride;
    int base_h[NB_LANES], base_k[NB_LANES], base_l[NB_LANES], outside = 0, used = -1, i, m, j;
    long origin[NB_LANES];                /* index of F(base_h, base_k, base_l) */
    double along_h[4][NB_LANES];
    NB_EACH(j) {
        const double *lo = p->hkl_min, *range = p->hkl_range;
        int inside = ((h[j] - lo[0] + 3) <= range[0]) & ((h[j] - 2) >= lo[0]) &
                     ((k[j] - lo[1] + 3) <= range[1]) & ((k[j] - 2) >= lo[1]) &
                     ((l[j] - lo[2] + 3) <= range[2]) & ((l[j] - 2) >= lo[2]);
        outside |= use[j] & !inside;
        base_h[j] = nb_int(floor(h[j])) - 1;
        base_k[j] = nb_int(floor(k[j])) - 1;
        base_l[j] = nb_int(floor(l[j])) - 1;
    }
    if (outside) return 0;
    for (j = 0; j < NB_LANES; ++j)
        if (use[j]) used = j;
    if (used < 0) return 1;               /* no lane needs F here */
    for (j = 0; j < NB_LANES; ++j) {
        int from = use[j] ? j : used;     /* lanes that need no F read a used lane's stencil */
        origin[j] = (base_h[from] - p->h_min) * h_stride + (base_k[from] - p->k_min) * k_stride
                  + (base_l[from] - p->l_min);
    }
    nb_lanes_stencil at_h, at_k, at_l;
    nb_lanes_stencil_at(base_h, h, &at_h);
    nb_lanes_stencil_at(base_k, k, &at_k);
    nb_lanes_stencil_at(base_l, l, &at_l);
    for (i = 0; i < 4; ++i) {
        double along_k[4][NB_LANES];
        for (m = 0; m < 4; ++m) {
            double along_l[4][NB_LANES];
            const double *plane = p->Fhkl + i * h_stride + m * k_stride;
            NB_EACH(j) {                  /* F at l = base_l .. base_l + 3 (vector gathers) */
                along_l[0][j] = plane[origin[j]];
                along_l[1][j] = plane[origin[j] + 1];
                along_l[2][j] = plane[origin[j] + 2];
                along_l[3][j] = plane[origin[j] + 3];
            }
            nb_lanes_polint(&at_l, along_l, along_k[m]);
        }
        nb_lanes_polint(&at_k, along_k, along_h[i]);
    }
    nb_lanes_polint(&at_h, along_h, F);
    return 1;
}

/* value and solid angle of the pixels fpixel[0..NB_LANES) of row spixel (see nb_pixel), with the
   global interpolation switch as given; returns 0 (and no values) when an evaluation would
   switch interpolation off */
static int nb_lanes_pixels(const nb_problem *p, const int *fpixel, int spixel, int math, int interpolate,
                           double *value, double *omega_sum)
{
    const int os = p->oversample;
    const double subpixel = p->subpixel_size, pixel_sqr = p->pixel_size * p->pixel_size;
    const int ov_thick = p->oversample_thick, ov_polar = p->oversample_polar, ov_omega = p->oversample_omega;
    const int no_water = p->water_size == 0.0;
    double I[NB_LANES], polar[NB_LANES], omega_pixel[NB_LANES], capture_fraction[NB_LANES];
    int j, i, thick_tic, subS, subF, source, phi_tic, mos_tic;

    NB_EACH(j) {
        I[j] = p->I_bg;
        polar[j] = p->nopolar ? 1.0 : 0.0;
        omega_pixel[j] = 0.0;
        capture_fraction[j] = 0.0;
        omega_sum[j] = 0.0;
    }
    for (thick_tic = 0; thick_tic < p->thicksteps; ++thick_tic) {
        const double Odet = thick_tic * p->thickstep;
        /* -thick_tic * thickstep * mu, the numerators of the two exponents (nanoBragg's order) */
        const double absorb0 = -thick_tic * p->thickstep * p->detector_mu;
        const double absorb1 = -(thick_tic + 1) * p->thickstep * p->detector_mu;
        NB_EACH(j) capture_fraction[j] = (p->detector_thick == 0.0) ? 1.0 : 0.0;
        for (subS = 0; subS < os; ++subS) {
            const double Sdet = subpixel * ((long)spixel * os + subS) + subpixel / 2.0;
            for (subF = 0; subF < os; ++subF) {
                double diffracted[3][NB_LANES], airpath[NB_LANES];
                NB_EACH(j) {
                    double Fdet = subpixel * ((double)fpixel[j] * os + subF) + subpixel / 2.0;
                    double pos0 = Fdet * p->fdet[0] + Sdet * p->sdet[0] + Odet * p->odet[0] + p->pix0[0];
                    double pos1 = Fdet * p->fdet[1] + Sdet * p->sdet[1] + Odet * p->odet[1] + p->pix0[1];
                    double pos2 = Fdet * p->fdet[2] + Sdet * p->sdet[2] + Odet * p->odet[2] + p->pix0[2];
                    double mag = sqrt(pos0 * pos0 + pos1 * pos1 + pos2 * pos2);
                    airpath[j] = mag;
                    diffracted[0][j] = (mag != 0.0) ? pos0 / mag : 0.0;
                    diffracted[1][j] = (mag != 0.0) ? pos1 / mag : 0.0;
                    diffracted[2][j] = (mag != 0.0) ? pos2 / mag : 0.0;
                }
                NB_EACH(j) {
                    double omega = p->point_pixel ? 1.0 / airpath[j] / airpath[j]
                                 : pixel_sqr / airpath[j] / airpath[j] * p->close_distance / airpath[j];
                    omega_pixel[j] = (omega_pixel[j] == 0.0 || ov_omega) ? omega : omega_pixel[j];
                    omega_sum[j] += omega_pixel[j];
                }
                for (j = 0; j < NB_LANES; ++j) {
                    if (capture_fraction[j] == 0.0 || ov_thick) {
                        double parallax = diffracted[0][j] * p->odet[0] + diffracted[1][j] * p->odet[1]
                                        + diffracted[2][j] * p->odet[2];
                        capture_fraction[j] = exp(absorb0 / parallax) - exp(absorb1 / parallax);
                    }
                }

                for (source = 0; source < p->nsources; ++source) {
                    const double lambda = p->source_lambda[source];
                    double incident[3], scattering[3][NB_LANES];
                    int live[NB_LANES], need_polar[NB_LANES], any_live = 0, any_polar = 0;
                    for (i = 0; i < 3; ++i) incident[i] = -p->source_dir[3 * source + i];
                    NB_EACH(j) {
                        for (i = 0; i < 3; ++i) scattering[i][j] = (diffracted[i][j] - incident[i]) / lambda;
                        live[j] = 1;
                    }
                    if (p->dmin > 0.0) {
                        NB_EACH(j) {
                            double stol = 0.5 * sqrt(scattering[0][j] * scattering[0][j] + scattering[1][j] * scattering[1][j]
                                                     + scattering[2][j] * scattering[2][j]);
                            live[j] = !(stol > 0.0 && p->dmin > 0.5 / stol);
                        }
                    }
                    for (j = 0; j < NB_LANES; ++j) {
                        need_polar[j] = live[j] && (polar[j] == 0.0 || ov_polar);
                        any_live |= live[j];
                        any_polar |= need_polar[j];
                    }
                    if (!any_live) continue;
                    if (any_polar) nb_lanes_polarization(p, source, diffracted, need_polar, polar);

                    for (phi_tic = 0; phi_tic < p->phisteps; ++phi_tic) {
                        for (mos_tic = 0; mos_tic < p->mosaic_domains; ++mos_tic) {
                            const double *abc = p->lattice + 9 * ((long)phi_tic * p->mosaic_domains + mos_tic);
                            double h[NB_LANES], k[NB_LANES], l[NB_LANES], F_latt[NB_LANES], F_cell[NB_LANES];
                            int h0[NB_LANES], k0[NB_LANES], l0[NB_LANES];
                            NB_EACH(j) {
                                h[j] = abc[0] * scattering[0][j] + abc[1] * scattering[1][j] + abc[2] * scattering[2][j];
                                k[j] = abc[3] * scattering[0][j] + abc[4] * scattering[1][j] + abc[5] * scattering[2][j];
                                l[j] = abc[6] * scattering[0][j] + abc[7] * scattering[1][j] + abc[8] * scattering[2][j];
                                h0[j] = nb_int(ceil(h[j] - 0.5));
                                k0[j] = nb_int(ceil(k[j] - 0.5));
                                l0[j] = nb_int(ceil(l[j] - 0.5));
                            }
                            int adds[NB_LANES];
                            nb_lanes_lattice_factor(p, math, h, k, l, h0, k0, l0, F_latt);
                            NB_EACH(j) adds[j] = live[j] & !((F_latt[j] == 0.0) & no_water);
                            if (!interpolate)
                                nb_lanes_structure_factor(p, h0, k0, l0, F_cell);
                            else if (!nb_lanes_tricubic(p, h, k, l, adds, F_cell))
                                return 0;
                            NB_EACH(j) {
                                double sum = I[j] + F_cell[j] * F_cell[j] * F_latt[j] * F_latt[j];
                                if (ov_thick) sum *= capture_fraction[j];
                                if (ov_polar) sum *= polar[j];
                                if (ov_omega) sum *= omega_pixel[j];
                                I[j] = adds[j] ? sum : I[j];
                            }
                        }
                    }
                }
            }
        }
    }
    NB_EACH(j) {
        double v = p->r_e_sqr * p->fluence * I[j] / p->steps;
        if (!ov_thick) v *= capture_fraction[j];
        if (!ov_polar) v *= polar[j];
        if (!ov_omega) v *= omega_pixel[j];
        value[j] = v;
    }
    return 1;
}
#endif   /* NB_WITH_LANES */

/* one pixel through nb_pixel, carrying the state; *switched_at gets the pixel if it switched
   interpolation off */
static inline void nb_row_pixel(const nb_problem *p, int fpixel, int spixel, long first_pixel, nb_pixel_state *st,
                                float *row, double *row_omega, int *switched_at)
{
    double omega = 0.0;
    int was_on = st->interpolate;
    st->first_sweep = ((long)spixel * p->fpixels + fpixel == first_pixel);
    row[fpixel] = (float)(0.0 + nb_pixel(p, fpixel, spixel, st, &omega, (nb_trace *)0));
    *row_omega += omega;
    if (was_on && !st->interpolate && *switched_at < 0) *switched_at = fpixel;
}

#if NB_WITH_LANES
/* render the pending pixels fpixel[0..count) of a row, in pixel order: as lanes, or, when an
   evaluation would switch interpolation off, one by one through nb_pixel */
static void nb_lanes_flush(const nb_problem *p, int *fpixel, int count, int spixel, int math, nb_pixel_state *st,
                           float *row, double *row_omega, int *switched_at)
{
    double value[NB_LANES], omega[NB_LANES];
    int j;
    for (j = count; j < NB_LANES; ++j) fpixel[j] = fpixel[count - 1];     /* spare lanes: a copy */
    if (nb_lanes_pixels(p, fpixel, spixel, math, st->interpolate, value, omega)) {
        for (j = 0; j < count; ++j) {
            row[fpixel[j]] = (float)(0.0 + value[j]);
            *row_omega += omega[j];
        }
        return;
    }
    for (j = 0; j < count; ++j) nb_row_pixel(p, fpixel[j], spixel, -1, st, row, row_omega, switched_at);
}
#endif

int NB_ROW_NAME(const nb_problem *p, int spixel, long first_pixel, int math, nb_pixel_state *st,
                float *image, double *omega_row, const int *cancel)
{
    const long row_start = (long)spixel * p->fpixels;
    float *row = image + row_start;
    double row_omega = 0.0;
    int fpixel, switched_at = -1;
#if NB_WITH_LANES
    const int lanes_allowed = !p->curved_detector;
    int pending[NB_LANES], count = 0;
#endif
    (void)math;
    for (fpixel = 0; fpixel < p->fpixels; ++fpixel) {
        if (!nb_pixel_rendered(p, fpixel, spixel)) continue;
#if NB_WITH_LANES
        if (lanes_allowed && row_start + fpixel != first_pixel) {
            pending[count++] = fpixel;
            if (count == NB_LANES) {
                nb_lanes_flush(p, pending, count, spixel, math, st, row, &row_omega, &switched_at);
                count = 0;
                if (__atomic_load_n(cancel, __ATOMIC_RELAXED)) return switched_at;
            }
            continue;
        }
        if (count) {
            nb_lanes_flush(p, pending, count, spixel, math, st, row, &row_omega, &switched_at);
            count = 0;
        }
#endif
        nb_row_pixel(p, fpixel, spixel, first_pixel, st, row, &row_omega, &switched_at);
        if ((fpixel & 63) == 0 && __atomic_load_n(cancel, __ATOMIC_RELAXED)) return switched_at;
    }
#if NB_WITH_LANES
    if (count) nb_lanes_flush(p, pending, count, spixel, math, st, row, &row_omega, &switched_at);
#endif
    *omega_row = row_omega;
    return switched_at;
}

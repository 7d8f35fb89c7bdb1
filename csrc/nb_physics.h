/* nb_physics.h -- the intensity of one pixel, as nanoBragg computes it.

   Shared by the C engine (nb_engine.c, compiled by a C compiler) and the CUDA kernels
   (compiled by NVRTC), so: NB_FN qualifies every function, NB_REAL is the working real type,
   and nothing here includes a header (the includer provides <math.h> on the host).

   Parity rules kept here on purpose (see docs/parity.md):
   - every product and sum is evaluated in nanoBragg's order (IEEE double, no FMA: build with
     -ffp-contract=off / --fmad=false);
   - polarization, solid angle and capture fraction are cached per pixel exactly as nanoBragg
     caches them (first value, "recompute when zero", -oversample_* recompute every time);
   - the polarization routine re-normalizes the diffracted vector in place, which later sources
     of the same sub-pixel then see;
   - the phi = 0 carry-over and the global interpolation switch travel in nb_pixel_state. */

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define NB_FN static __device__ __forceinline__
#define NB_RESTRICT __restrict__
#else
#define NB_FN static inline
#define NB_RESTRICT restrict
#endif

/* NB_SINGLE=1 builds the single-precision variant.  Only the per-evaluation work is in float
   (nb_real): the lattice factor's trigonometry and the tricubic interpolation.  The chain that
   decides where a pixel lands in reciprocal space (pixel position, diffracted and scattering
   vectors, h k l) stays in double, h k l are reduced to their offset from the nearest integer
   in double, and the intensity is accumulated in double: that keeps the fast mode honest. */
#if defined(NB_SINGLE) && NB_SINGLE
#define NB_REAL float
#define NB_SIN sinf
#define NB_COS cosf
#define NB_EXP expf
#define NB_SQRT sqrtf
#else
#define NB_REAL double
#define NB_SIN sin
#define NB_COS cos
#define NB_EXP exp
#define NB_SQRT sqrt
#endif
typedef NB_REAL nb_real;

#define NB_PI 3.14159265358979323846
#define NB_INT_MIN (-2147483647 - 1)

/* (int)x as x86 converts it: NaN and out-of-range give INT_MIN instead of undefined behaviour */
NB_FN int nb_int(double x)
{
    return (x >= -2147483648.0 && x < 2147483648.0) ? (int)x : NB_INT_MIN;
}

/* is pixel (fpixel, spixel) rendered: inside the ROI (limits inclusive) and not masked */
NB_FN int nb_pixel_rendered(const nb_problem *p, int fpixel, int spixel)
{
    if (fpixel < p->roi_xmin || fpixel > p->roi_xmax || spixel < p->roi_ymin || spixel > p->roi_ymax)
        return 0;
    return p->mask == 0 || p->mask[(long long)spixel * p->fpixels + fpixel] != 0;
}

NB_FN double nb_dot(const double *a, const double *b)
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

NB_FN void nb_cross(const double *x, const double *y, double *z)
{
    double z0 = x[1] * y[2] - x[2] * y[1];
    double z1 = x[2] * y[0] - x[0] * y[2];
    double z2 = x[0] * y[1] - x[1] * y[0];
    z[0] = z0; z[1] = z1; z[2] = z2;
}

/* unit vector of v into out (may alias); returns |v|; a zero vector stays zero */
NB_FN double nb_unitize(const double *v, double *out)
{
    double mag = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (mag != 0.0) {
        out[0] = v[0] / mag; out[1] = v[1] / mag; out[2] = v[2] / mag;
    } else {
        out[0] = 0.0; out[1] = 0.0; out[2] = 0.0;
    }
    return mag;
}

/* right-handed rotation of v by phi about a unit axis (Rodrigues, nanoBragg's term order) */
NB_FN void nb_rotate_axis(const double *v, const double *axis, double phi, double *out)
{
    double s = sin(phi), c = cos(phi);
    double along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c);
    double r0 = axis[0] * along + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s;
    double r1 = axis[1] * along + v[1] * c + (+axis[2] * v[0] - axis[0] * v[2]) * s;
    double r2 = axis[2] * along + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s;
    out[0] = r0; out[1] = r1; out[2] = r2;
}

/* Fourier transform of a grating of N slits */
NB_FN nb_real nb_sincg(nb_real x, nb_real N)
{
    return (x == 0) ? N : NB_SIN(x * N) / NB_SIN(x);
}

/* Fourier transform of a sphere */
NB_FN nb_real nb_sinc3(nb_real x)
{
    return (x == 0) ? (nb_real)1 : (nb_real)3 * (NB_SIN(x) / x - NB_COS(x)) / (x * x);
}

/* Kahn polarization factor; incident and diffracted are re-normalized in place (as nanoBragg) */
NB_FN double nb_polarization(double kahn, double *incident, double *diffracted, const double *polar_axis)
{
    double axis[3], B[3], E[3];
    double psi = 0.0;
    nb_unitize(incident, incident);
    nb_unitize(diffracted, diffracted);
    nb_unitize(polar_axis, axis);
    double cos2theta = nb_dot(incident, diffracted);
    double cos2theta_sqr = cos2theta * cos2theta;
    double sin2theta_sqr = 1.0 - cos2theta_sqr;
    if (kahn != 0.0) {
        nb_cross(axis, incident, B);      /* normal to the polarization plane */
        nb_unitize(B, B);
        nb_cross(incident, B, E);         /* E-vector direction */
        nb_unitize(E, E);
        psi = -atan2(nb_dot(diffracted, B), nb_dot(diffracted, E));
    }
    return 0.5 * (1.0 + cos2theta_sqr - kahn * cos(2.0 * psi) * sin2theta_sqr);
}

/* 4-point Lagrange interpolation at x through (xa[i], ya[i]) */
NB_FN nb_real nb_polint(const nb_real *xa, const nb_real *ya, nb_real x)
{
    nb_real y0 = (x - xa[1]) * (x - xa[2]) * (x - xa[3]) * ya[0] / ((xa[0] - xa[1]) * (xa[0] - xa[2]) * (xa[0] - xa[3]));
    nb_real y1 = (x - xa[0]) * (x - xa[2]) * (x - xa[3]) * ya[1] / ((xa[1] - xa[0]) * (xa[1] - xa[2]) * (xa[1] - xa[3]));
    nb_real y2 = (x - xa[0]) * (x - xa[1]) * (x - xa[3]) * ya[2] / ((xa[2] - xa[0]) * (xa[2] - xa[1]) * (xa[2] - xa[3]));
    nb_real y3 = (x - xa[0]) * (x - xa[1]) * (x - xa[2]) * ya[3] / ((xa[3] - xa[0]) * (xa[3] - xa[1]) * (xa[3] - xa[2]));
    return y0 + y1 + y2 + y3;
}

NB_FN double nb_F_at(const nb_problem *p, int h, int k, int l)
{
    long idx = ((long)(h - p->h_min) * (p->k_range + 1) + (k - p->k_min)) * (long)(p->l_range + 1) + (l - p->l_min);
    return p->Fhkl[idx];
}

/* structure factor at fractional (h,k,l): tricubic while the global switch allows it, else the
   nearest reflection or default_F.  The first out-of-range index turns interpolation off for
   the rest of the run and falls through to the nearest value in the same evaluation. */
NB_FN double nb_structure_factor(const nb_problem *p, double h, double k, double l,
                                 int h0, int k0, int l0, nb_pixel_state *st)
{
    if (st->interpolate) {
        /* the stencil needs h in [h_min+2, h_max-2] (and likewise k, l); NaN counts as outside */
        int inside = (h - p->h_min + 3) <= p->h_range && (h - 2) >= p->h_min &&
                     (k - p->k_min + 3) <= p->k_range && (k - 2) >= p->k_min &&
                     (l - p->l_min + 3) <= p->l_range && (l - 2) >= p->l_min;
        if (!inside) {
            if (!st->switched_off) {
                st->switched_off = 1;
                st->off_h = h; st->off_k = k; st->off_l = l;
                st->off_h0 = h0; st->off_k0 = k0; st->off_l0 = l0;
            }
            st->interpolate = 0;
        }
    }
    if (st->interpolate) {
        int hf = nb_int(floor(h)), kf = nb_int(floor(k)), lf = nb_int(floor(l));
        nb_real hd[4], kd[4], ld[4], along_k[4], along_h[4], along_l[4];
        int i, j, n;
        for (i = 0; i < 4; ++i) {
            hd[i] = (nb_real)(hf - 1 + i);
            kd[i] = (nb_real)(kf - 1 + i);
            ld[i] = (nb_real)(lf - 1 + i);
        }
        for (i = 0; i < 4; ++i) {
            for (j = 0; j < 4; ++j) {
                for (n = 0; n < 4; ++n)
                    along_l[n] = (nb_real)nb_F_at(p, hf - 1 + i, kf - 1 + j, lf - 1 + n);
                along_k[j] = nb_polint(ld, along_l, (nb_real)l);
            }
            along_h[i] = nb_polint(kd, along_k, (nb_real)k);
        }
        return nb_polint(hd, along_h, (nb_real)h);
    }
    if (p->hkls && h0 <= p->h_max && h0 >= p->h_min && k0 <= p->k_max && k0 >= p->k_min &&
        l0 <= p->l_max && l0 >= p->l_min)
        return nb_F_at(p, h0, k0, l0);
    return p->default_F;
}

#if defined(NB_SINGLE) && NB_SINGLE
/* sincg(pi*h, N) from the offset delta = h - h0: sin(N pi h)/sin(pi h) =
   (-1)^((N-1) h0) sin(N pi delta)/sin(pi delta), free of the large arguments float cannot hold */
NB_FN nb_real nb_sincg_offset(nb_real delta, double N, int h0)
{
    nb_real value = nb_sincg((nb_real)NB_PI * delta, (nb_real)N);
    return ((((long)N - 1) * (long)h0) & 1) ? -value : value;
}
#endif

/* lattice factor F_latt of the crystal shape at (h,k,l); per-axis factors go to *fa,*fb,*fc */
NB_FN double nb_lattice_factor(const nb_problem *p, double h, double k, double l,
                               int h0, int k0, int l0, double *fa, double *fb, double *fc)
{
    nb_real dh = (nb_real)(h - h0), dk = (nb_real)(k - k0), dl = (nb_real)(l - l0);
    nb_real Na = (nb_real)p->Na, Nb = (nb_real)p->Nb, Nc = (nb_real)p->Nc, fudge = (nb_real)p->fudge;
    *fa = *fb = *fc = 1.0;
    if (p->xtal_shape == 0) {
        double F_latt = 1.0;
#if defined(NB_SINGLE) && NB_SINGLE
        if (p->Na > 1) { *fa = nb_sincg_offset(dh, p->Na, h0); F_latt *= *fa; }
        if (p->Nb > 1) { *fb = nb_sincg_offset(dk, p->Nb, k0); F_latt *= *fb; }
        if (p->Nc > 1) { *fc = nb_sincg_offset(dl, p->Nc, l0); F_latt *= *fc; }
#else
        if (p->Na > 1) { *fa = nb_sincg(NB_PI * h, p->Na); F_latt *= *fa; }
        if (p->Nb > 1) { *fb = nb_sincg(NB_PI * k, p->Nb); F_latt *= *fb; }
        if (p->Nc > 1) { *fc = nb_sincg(NB_PI * l, p->Nc); F_latt *= *fc; }
#endif
        return F_latt;
    }
    if (p->xtal_shape == 1) {
        nb_real hrad_sqr = dh * dh * Na * Na + dk * dk * Nb * Nb + dl * dl * Nc * Nc;
        return Na * Nb * Nc * (nb_real)0.723601254558268 * nb_sinc3((nb_real)NB_PI * NB_SQRT(hrad_sqr * fudge));
    }
    nb_real dx = dh * (nb_real)p->a_star[0] + dk * (nb_real)p->b_star[0] + dl * (nb_real)p->c_star[0];
    nb_real dy = dh * (nb_real)p->a_star[1] + dk * (nb_real)p->b_star[1] + dl * (nb_real)p->c_star[1];
    nb_real dz = dh * (nb_real)p->a_star[2] + dk * (nb_real)p->b_star[2] + dl * (nb_real)p->c_star[2];
    nb_real rad_star_sqr = (dx * dx + dy * dy + dz * dz) * Na * Na * Nb * Nb * Nc * Nc;
    if (p->xtal_shape == 2)
        return Na * Nb * Nc * NB_EXP(-(rad_star_sqr / (nb_real)0.63 * fudge));
    return Na * Nb * Nc * (nb_real)(rad_star_sqr * fudge < (nb_real)0.3969);
}

/* Intensity of pixel (fpixel, spixel): the value nanoBragg adds to its float image.
   *omega_sum accumulates the solid angle of every sub-pixel and layer (for the summary line).
   tr, when not NULL, receives the last value of each quantity (for -trace_pixel/-printout). */
NB_FN double nb_pixel(const nb_problem *NB_RESTRICT p, int fpixel, int spixel, nb_pixel_state *NB_RESTRICT st,
                      double *NB_RESTRICT omega_sum, nb_trace *NB_RESTRICT tr)
{
    const int os = p->oversample;
    double I = p->I_bg;
    double polar = p->nopolar ? 1.0 : 0.0;
    double omega_pixel = 0.0;
    double capture_fraction = 0.0;
    double pixel_pos[3], diffracted[3], incident[3], scattering[3];
    double Fdet = 0.0, Sdet = 0.0;
    int thick_tic, subS, subF, source, phi_tic, mos_tic, i;

    for (thick_tic = 0; thick_tic < p->thicksteps; ++thick_tic) {
        double Odet = thick_tic * p->thickstep;
        capture_fraction = (p->detector_thick == 0.0) ? 1.0 : 0.0;
        for (subS = 0; subS < os; ++subS) {
            for (subF = 0; subF < os; ++subF) {
                Fdet = p->subpixel_size * ((long)fpixel * os + subF) + p->subpixel_size / 2.0;
                Sdet = p->subpixel_size * ((long)spixel * os + subS) + p->subpixel_size / 2.0;
                for (i = 0; i < 3; ++i)
                    pixel_pos[i] = Fdet * p->fdet[i] + Sdet * p->sdet[i] + Odet * p->odet[i] + p->pix0[i];
                if (p->curved_detector) {
                    /* every pixel at the same distance: flat lab y, z read as angles */
                    double towards[3], swung[3];
                    double angle_s = pixel_pos[1] / p->distance, angle_f = pixel_pos[2] / p->distance;
                    for (i = 0; i < 3; ++i) towards[i] = p->distance * p->beam[i];
                    nb_rotate_axis(towards, p->sdet, angle_s, swung);
                    nb_rotate_axis(swung, p->fdet, angle_f, pixel_pos);
                }
                double airpath = nb_unitize(pixel_pos, diffracted);

                if (omega_pixel == 0.0 || p->oversample_omega) {
                    omega_pixel = p->pixel_size * p->pixel_size / airpath / airpath * p->close_distance / airpath;
                    if (p->point_pixel) omega_pixel = 1.0 / airpath / airpath;
                }
                *omega_sum += omega_pixel;

                if (capture_fraction == 0.0 || p->oversample_thick) {
                    double parallax = nb_dot(diffracted, p->odet);
                    capture_fraction = exp(-thick_tic * p->thickstep * p->detector_mu / parallax)
                                     - exp(-(thick_tic + 1) * p->thickstep * p->detector_mu / parallax);
                }
                if (tr) {
                    for (i = 0; i < 3; ++i) { tr->pixel_pos[i] = pixel_pos[i]; tr->diffracted[i] = diffracted[i]; }
                    tr->Fdet = Fdet; tr->Sdet = Sdet;
                }

                for (source = 0; source < p->nsources; ++source) {
                    double lambda = p->source_lambda[source];
                    for (i = 0; i < 3; ++i) incident[i] = -p->source_dir[3 * source + i];
                    for (i = 0; i < 3; ++i) scattering[i] = (diffracted[i] - incident[i]) / lambda;
                    /* stol only matters to -dmin (and the trace) */
                    double stol = (tr || p->dmin > 0.0) ? 0.5 * sqrt(nb_dot(scattering, scattering)) : 0.0;
                    if (tr) {
                        for (i = 0; i < 3; ++i) { tr->incident[i] = incident[i]; tr->scattering[i] = scattering[i]; }
                        tr->lambda = lambda; tr->stol = stol;
                    }

                    if (p->dmin > 0.0 && stol > 0.0 && p->dmin > 0.5 / stol) continue;

                    if (polar == 0.0 || p->oversample_polar)
                        polar = nb_polarization(p->kahn_factor, incident, diffracted, p->polar_vector);

                    const double *lattice = st->first_sweep ? p->lattice_first : p->lattice;
                    st->first_sweep = 0;
                    for (phi_tic = 0; phi_tic < p->phisteps; ++phi_tic) {
                        for (mos_tic = 0; mos_tic < p->mosaic_domains; ++mos_tic) {
                            const double *abc = lattice + 9 * ((long)phi_tic * p->mosaic_domains + mos_tic);
                            double h = nb_dot(abc, scattering);
                            double k = nb_dot(abc + 3, scattering);
                            double l = nb_dot(abc + 6, scattering);
                            int h0 = nb_int(ceil(h - 0.5)), k0 = nb_int(ceil(k - 0.5)), l0 = nb_int(ceil(l - 0.5));
                            double fa, fb, fc;
                            double F_latt = nb_lattice_factor(p, h, k, l, h0, k0, l0, &fa, &fb, &fc);
                            if (tr) {
                                for (i = 0; i < 3; ++i) { tr->a[i] = abc[i]; tr->b[i] = abc[3 + i]; tr->c[i] = abc[6 + i]; }
                                tr->h = h; tr->k = k; tr->l = l; tr->h0 = h0; tr->k0 = k0; tr->l0 = l0;
                                tr->F_latt_a = fa; tr->F_latt_b = fb; tr->F_latt_c = fc; tr->F_latt = F_latt;
                                tr->evaluations += 1;
                            }
                            if (F_latt == 0.0 && p->water_size == 0.0) continue;

                            double F_cell = nb_structure_factor(p, h, k, l, h0, k0, l0, st);
                            I += F_cell * F_cell * F_latt * F_latt;
                            if (p->oversample_thick) I *= capture_fraction;
                            if (p->oversample_polar) I *= polar;
                            if (p->oversample_omega) I *= omega_pixel;
                            if (tr) { tr->F_cell = F_cell; tr->cell_evaluations += 1; }
                        }
                    }
                }
            }
        }
    }

    double value = p->r_e_sqr * p->fluence * I / p->steps;
    if (!p->oversample_thick) value *= capture_fraction;
    if (!p->oversample_polar) value *= polar;
    if (!p->oversample_omega) value *= omega_pixel;
    if (tr) {
        tr->I = I; tr->omega = omega_pixel; tr->polar = polar;
        tr->capture_fraction = capture_fraction; tr->value = value;
    }
    return value;
}

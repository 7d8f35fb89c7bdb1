/* nb_physics.h -- the intensity of one pixel, as nanoBragg computes it.

   Shared by the C engine (nb_engine.c, nb_cpu_*.c, nb_engine_single.c, nb_kernel_host.c: a C
   compiler) and the CUDA kernels
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
#define NB_CALL static __device__ __noinline__    /* a real call on the GPU: its registers are its own */
#define NB_RESTRICT __restrict__
#define NB_NO_UNROLL _Pragma("unroll 1")
#else
#define NB_FN static inline
#define NB_CALL static inline
#define NB_RESTRICT restrict
#define NB_NO_UNROLL
#endif

/* NB_SINGLE=1 builds the single-precision variant.  Only the per-evaluation work is in float
   (nb_real): the lattice factor's trigonometry and the tricubic interpolation.  The chain that
   decides where a pixel lands in reciprocal space (pixel position, diffracted and scattering
   vectors, h k l) stays in double, h k l are reduced to their offset from the nearest integer
   in double, and the intensity is accumulated in double: that keeps the fast mode honest. */
#if defined(NB_SINGLE) && NB_SINGLE
#define NB_REAL float
#define NB_SIN sinf
#define NB_SINPI sinpif
#define NB_COS cosf
#define NB_EXP expf
#define NB_SQRT sqrtf
#define NB_RINT rintf
#define NB_FLOOR floorf
#define NB_FLAT_OFFSET 1e-4f      /* |N d| below this: sin(N pi d)/sin(pi d) is N in float */
#else
#define NB_REAL double
#define NB_SIN sin
#define NB_SINPI sinpi
#define NB_COS cos
#define NB_EXP exp
#define NB_SQRT sqrt
#define NB_RINT rint
#define NB_FLOOR floor
#define NB_FLAT_OFFSET 1e-9       /* ... and in double */
#endif
typedef NB_REAL nb_real;

/* a lattice-factor constant of the problem in the working precision: the single-precision
   copy (nb_derive) in single, read as it is, where converting the double would cost a register */
#if defined(NB_SINGLE) && NB_SINGLE
#define NB_WORKING(p, field) ((p)->field##_f)
#else
#define NB_WORKING(p, field) ((p)->field)
#endif

/* The GPU's arithmetic (NB_KERNEL_ARITHMETIC: the CUDA kernels, their host emulation, and the
   single-precision C engine) takes the square crystal's lattice factor from the offsets of h,
   k, l to the nearest integers (nb_lattice_from_offsets), exact and cheaper; the C engine in
   double keeps nanoBragg's form, for its bit-for-bit images. */
#if defined(NB_SINGLE) && NB_SINGLE && !defined(NB_KERNEL_ARITHMETIC)
#define NB_KERNEL_ARITHMETIC 1
#endif

/* Kernel variants.  A CUDA kernel is compiled for the features one problem uses (NB_VARIANT
   with its NB_V_* values, chosen by nbgpu/engine/cuda_kernels.py): what the problem does not use is
   compiled out, which keeps the kernel's register count low.  Without NB_VARIANT (the C engine
   and the host emulation of the kernel) the problem's fields decide at run time; both give the
   same result for every problem a variant is chosen for. */
#if defined(NB_VARIANT)
#define NB_SHAPE(p) (NB_V_SHAPE)                 /* 0 square, 1 round, 2 gauss, 3 tophat */
#define NB_CURVED(p) (NB_V_CURVED)
#define NB_ABSORBS(p) (NB_V_ABSORB)              /* capture fraction from exp(): thick sensor, -oversample_thick */
#define NB_POLARIZES(p) (NB_V_POLAR != 0)        /* polarization computed: not -nopolar, or -oversample_polar */
#define NB_KAHN(p) (NB_V_POLAR == 2 ? (p)->kahn_factor : 0.0)
#define NB_DMIN(p) (NB_V_DMIN ? (p)->dmin : 0.0)
#define NB_INTERPOLATES (NB_V_INTERPOLATE)       /* the run starts with interpolation on */
#else
#define NB_SHAPE(p) ((p)->xtal_shape)
#define NB_CURVED(p) ((p)->curved_detector)
#define NB_ABSORBS(p) ((p)->detector_thick != 0.0 || (p)->oversample_thick)
#define NB_POLARIZES(p) (!(p)->nopolar || (p)->oversample_polar)
#define NB_KAHN(p) ((p)->kahn_factor)
#define NB_DMIN(p) ((p)->dmin)
#define NB_INTERPOLATES 1
#endif

#define NB_PI 3.14159265358979323846
#define NB_INT_MIN (-2147483647 - 1)

/* (int)x as x86 converts it: NaN and out-of-range give INT_MIN instead of undefined behaviour */
NB_FN int nb_int(double x)
{
    return (x >= -2147483648.0 && x < 2147483648.0) ? (int)x : NB_INT_MIN;
}

/* the ROI's pixel limits (inclusive), clipped to the detector (an empty range when it is outside) */
NB_FN void nb_roi_limits(const nb_problem *p, int *f0, int *f1, int *s0, int *s1)
{
    *f0 = p->roi_xmin < 0 ? 0 : p->roi_xmin;
    *f1 = p->roi_xmax >= p->fpixels ? p->fpixels - 1 : p->roi_xmax;
    *s0 = p->roi_ymin < 0 ? 0 : p->roi_ymin;
    *s1 = p->roi_ymax >= p->spixels ? p->spixels - 1 : p->roi_ymax;
}

/* is pixel (fpixel, spixel) rendered: inside the ROI (limits inclusive) and not masked */
NB_FN int nb_pixel_rendered(const nb_problem *p, int fpixel, int spixel)
{
    if (fpixel < p->roi_xmin || fpixel > p->roi_xmax || spixel < p->roi_ymin || spixel > p->roi_ymax)
        return 0;
    return p->mask == 0 || p->mask[(long long)spixel * p->fpixels + fpixel] != 0;
}

/* double to float, rounded to nearest, subnormal results kept.  On the GPU this is spelled out
   in PTX: CuPy compiles with -ftz=true, which would flush a plain conversion's subnormal results
   to zero (the C engine keeps them). */
NB_FN float nb_to_float(double x)
{
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    float f;
    asm("cvt.rn.f32.f64 %0, %1;" : "=f"(f) : "d"(x));
    return f;
#else
    return (float)x;
#endif
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
NB_CALL void nb_rotate_axis(const double *v, const double *axis, double phi, double *out)
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

/* Kahn polarization factor of a source, whose frame (nb_derive) is its unit incident direction,
   the normal B to the polarization plane and the E-vector direction; diffracted is re-normalized
   in place (as nanoBragg) */
NB_FN double nb_polarization(double kahn, const double *frame, double *diffracted)
{
    const double *incident = frame, *B = frame + 3, *E = frame + 6;
    double psi = 0.0;
    nb_unitize(diffracted, diffracted);
    double cos2theta = nb_dot(incident, diffracted);
    double cos2theta_sqr = cos2theta * cos2theta;
    double sin2theta_sqr = 1.0 - cos2theta_sqr;
    if (kahn != 0.0)
        psi = -atan2(nb_dot(diffracted, B), nb_dot(diffracted, E));
    return 0.5 * (1.0 + cos2theta_sqr - kahn * cos(2.0 * psi) * sin2theta_sqr);
}

/* nanoBragg's polint -- 4-point Lagrange interpolation through x = base .. base + 3, consecutive
   integers -- one term at a time.  Term n is
       (x - xa_i)(x - xa_j)(x - xa_k) * y_n / ((xa_n - xa_i)(xa_n - xa_j)(xa_n - xa_k))
   whose denominator, a product of exact integer differences, is written as its value: -6, 2,
   -2, 6 (dividing by +-2 is multiplying by +-0.5: both round the same quotient once).  Returns
   the interpolation so far plus term n, nanoBragg's sum y0 + y1 + y2 + y3 from the left. */
NB_FN nb_real nb_polint_add(nb_real sum, nb_real x, int base, int n, nb_real y)
{
    const nb_real xa0 = (nb_real)base, xa1 = (nb_real)(base + 1), xa2 = (nb_real)(base + 2), xa3 = (nb_real)(base + 3);
    nb_real t;
    if (n == 0) return (x - xa1) * (x - xa2) * (x - xa3) * y / (nb_real)-6;
    if (n == 1) t = (x - xa0) * (x - xa2) * (x - xa3) * y * (nb_real)0.5;
    else if (n == 2) t = (x - xa0) * (x - xa1) * (x - xa3) * y * (nb_real)-0.5;
    else t = (x - xa0) * (x - xa1) * (x - xa2) * y / (nb_real)6;
    return sum + t;
}

NB_FN double nb_F_at(const nb_problem *p, int h, int k, int l)
{
    long idx = (long)(h - p->h_min) * p->h_stride + (long)(k - p->k_min) * p->k_stride + (l - p->l_min);
    return p->Fhkl[idx];
}

/* the tricubic interpolation of F at fractional (h, k, l): along l at each (h, k) of the 4x4
   stencil, then along k, then along h, with nanoBragg's polint */
NB_FN double nb_tricubic(const nb_problem *p, double h, double k, double l)
{
    const int hb = nb_int(floor(h)) - 1, kb = nb_int(floor(k)) - 1, lb = nb_int(floor(l)) - 1;
    /* 32-bit offsets (fewer registers on the GPU): the readers refuse grids of more than 2^31
       - 1 values (io/hkl.py MAX_GRID_ELEMENTS), and the stencil lies inside the grid */
    const int k_stride = p->k_stride, h_stride = p->h_stride;
    const double *F = p->Fhkl + ((hb - p->h_min) * h_stride + (kb - p->k_min) * k_stride + (lb - p->l_min));
    nb_real along_h = 0, along_k = 0, along_l = 0;
    int i, j, n;
    NB_NO_UNROLL
    for (i = 0; i < 4; ++i) {
        NB_NO_UNROLL
        for (j = 0; j < 4; ++j) {
            const double *F_l = F + i * h_stride + j * k_stride;
            for (n = 0; n < 4; ++n)
                along_l = nb_polint_add(along_l, (nb_real)l, lb, n, (nb_real)F_l[n]);
            along_k = nb_polint_add(along_k, (nb_real)k, kb, j, along_l);
        }
        along_h = nb_polint_add(along_h, (nb_real)h, hb, i, along_k);
    }
    return along_h;
}

/* structure factor at fractional (h,k,l): tricubic while the global switch allows it, else the
   nearest reflection or default_F.  The first out-of-range index turns interpolation off for
   the rest of the run and falls through to the nearest value in the same evaluation. */
NB_FN double nb_structure_factor(const nb_problem *p, double h, double k, double l,
                                 int h0, int k0, int l0, nb_pixel_state *st)
{
    if (NB_INTERPOLATES && st->interpolate) {
        /* the stencil needs h in [h_min+2, h_max-2] (and likewise k, l); NaN counts as outside */
        const double *lo = p->hkl_min, *range = p->hkl_range;
        int inside = (h - lo[0] + 3) <= range[0] && (h - 2) >= lo[0] &&
                     (k - lo[1] + 3) <= range[1] && (k - 2) >= lo[1] &&
                     (l - lo[2] + 3) <= range[2] && (l - 2) >= lo[2];
        if (!inside) {
            if (!st->switched_off) {
                st->switched_off = 1;
#if !defined(NB_VARIANT)            /* a kernel only says where: the host traces that pixel */
                st->off.h = h; st->off.k = k; st->off.l = l;
                st->off.h0 = h0; st->off.k0 = k0; st->off.l0 = l0;
#endif
            }
            st->interpolate = 0;
        }
    }
    if (NB_INTERPOLATES && st->interpolate)
        return nb_tricubic(p, h, k, l);
    if (p->hkls && h0 <= p->h_max && h0 >= p->h_min && k0 <= p->k_max && k0 >= p->k_min &&
        l0 <= p->l_max && l0 >= p->l_min)
        return nb_F_at(p, h0, k0, l0);
    return p->default_F;
}

#if defined(NB_KERNEL_ARITHMETIC)
/* sin(pi x), reduced exactly to |r| <= 1/2 first (the GPU's sinpi does the same) */
NB_FN nb_real nb_sinpi(nb_real x)
{
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    return NB_SINPI(x);
#else
    nb_real n = NB_RINT(x), half = n * (nb_real)0.5;
    nb_real s = NB_SIN((nb_real)NB_PI * (x - n));
    return (half != NB_FLOOR(half)) ? -s : s;
#endif
}

/* one axis of the square crystal's lattice factor, sin(N pi h)/sin(pi h) with h = h0 + d, as
   numerator and denominator: sin(N pi d) and sin(pi d) (the sign (-1)^((N-1) h0) is the caller's);
   N and 1 where N d is so small that the quotient is N to the working precision (and at d = 0) */
NB_FN void nb_sincg_terms(nb_real d, nb_real N, nb_real *num, nb_real *den)
{
    nb_real Nd = N * d;
    int flat = (Nd < NB_FLAT_OFFSET) & (Nd > -NB_FLAT_OFFSET);
    *num = flat ? N : nb_sinpi(Nd);
    *den = flat ? (nb_real)1 : nb_sinpi(d);
}

/* F_latt of the square crystal from the offsets: prod (-1)^((N-1) h0) sin(N pi d)/sin(pi d),
   mathematically nanoBragg's sin(N pi h)/sin(pi h) but free of the large arguments whose
   rounding that form suffers, with one division for the three axes; *fa, *fb, *fc get the
   per-axis factors (for traces) */
NB_FN double nb_lattice_from_offsets(const nb_problem *p, nb_real dh, nb_real dk, nb_real dl, int h0, int k0,
                                     int l0, double *fa, double *fb, double *fc)
{
    nb_real num_a = 1, den_a = 1, num_b = 1, den_b = 1, num_c = 1, den_c = 1;
    long long odd = 0;
    if (p->Na > 1) { nb_sincg_terms(dh, NB_WORKING(p, Na), &num_a, &den_a); odd ^= ((long long)p->Na - 1) * h0; }
    if (p->Nb > 1) { nb_sincg_terms(dk, NB_WORKING(p, Nb), &num_b, &den_b); odd ^= ((long long)p->Nb - 1) * k0; }
    if (p->Nc > 1) { nb_sincg_terms(dl, NB_WORKING(p, Nc), &num_c, &den_c); odd ^= ((long long)p->Nc - 1) * l0; }
    *fa = num_a / den_a; *fb = num_b / den_b; *fc = num_c / den_c;
    nb_real F = (num_a * num_b * num_c) / (den_a * den_b * den_c);
    return (odd & 1) ? -F : F;
}
#endif

/* lattice factor F_latt of the crystal shape at (h,k,l); per-axis factors go to *fa,*fb,*fc */
NB_FN double nb_lattice_factor(const nb_problem *p, double h, double k, double l,
                               int h0, int k0, int l0, double *fa, double *fb, double *fc)
{
    nb_real dh = (nb_real)(h - h0), dk = (nb_real)(k - k0), dl = (nb_real)(l - l0);
    nb_real Na = NB_WORKING(p, Na), Nb = NB_WORKING(p, Nb), Nc = NB_WORKING(p, Nc), fudge = NB_WORKING(p, fudge);
    *fa = *fb = *fc = 1.0;
    if (NB_SHAPE(p) == 0) {
#if defined(NB_KERNEL_ARITHMETIC)
        return nb_lattice_from_offsets(p, dh, dk, dl, h0, k0, l0, fa, fb, fc);
#else
        double F_latt = 1.0;
        if (p->Na > 1) { *fa = nb_sincg(NB_PI * h, p->Na); F_latt *= *fa; }
        if (p->Nb > 1) { *fb = nb_sincg(NB_PI * k, p->Nb); F_latt *= *fb; }
        if (p->Nc > 1) { *fc = nb_sincg(NB_PI * l, p->Nc); F_latt *= *fc; }
        return F_latt;
#endif
    }
    if (NB_SHAPE(p) == 1) {
        nb_real hrad_sqr = dh * dh * Na * Na + dk * dk * Nb * Nb + dl * dl * Nc * Nc;
        return Na * Nb * Nc * (nb_real)0.723601254558268 * nb_sinc3((nb_real)NB_PI * NB_SQRT(hrad_sqr * fudge));
    }
    nb_real dx = dh * NB_WORKING(p, a_star)[0] + dk * NB_WORKING(p, b_star)[0] + dl * NB_WORKING(p, c_star)[0];
    nb_real dy = dh * NB_WORKING(p, a_star)[1] + dk * NB_WORKING(p, b_star)[1] + dl * NB_WORKING(p, c_star)[1];
    nb_real dz = dh * NB_WORKING(p, a_star)[2] + dk * NB_WORKING(p, b_star)[2] + dl * NB_WORKING(p, c_star)[2];
    nb_real rad_star_sqr = (dx * dx + dy * dy + dz * dz) * Na * Na * Nb * Nb * Nc * Nc;
    if (NB_SHAPE(p) == 2)
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
        capture_fraction = (NB_ABSORBS(p) && p->detector_thick != 0.0) ? 0.0 : 1.0;
        for (subS = 0; subS < os; ++subS) {
            for (subF = 0; subF < os; ++subF) {
                Fdet = p->subpixel_size * ((long)fpixel * os + subF) + p->subpixel_size / 2.0;
                Sdet = p->subpixel_size * ((long)spixel * os + subS) + p->subpixel_size / 2.0;
                for (i = 0; i < 3; ++i)
                    pixel_pos[i] = Fdet * p->fdet[i] + Sdet * p->sdet[i] + Odet * p->odet[i] + p->pix0[i];
                if (NB_CURVED(p)) {
                    /* every pixel at the same distance: flat lab y, z read as angles */
                    double swung[3];
                    double angle_s = pixel_pos[1] / p->distance, angle_f = pixel_pos[2] / p->distance;
                    nb_rotate_axis(p->towards, p->sdet, angle_s, swung);
                    nb_rotate_axis(swung, p->fdet, angle_f, pixel_pos);
                }
                double airpath = nb_unitize(pixel_pos, diffracted);

                if (omega_pixel == 0.0 || p->oversample_omega) {
                    omega_pixel = p->pixel_size * p->pixel_size / airpath / airpath * p->close_distance / airpath;
                    if (p->point_pixel) omega_pixel = 1.0 / airpath / airpath;
                }
                *omega_sum += omega_pixel;

                if (NB_ABSORBS(p) && (capture_fraction == 0.0 || p->oversample_thick)) {
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
                    const double dmin = NB_DMIN(p);
                    double stol = (tr || dmin > 0.0) ? 0.5 * sqrt(nb_dot(scattering, scattering)) : 0.0;
                    if (tr) {
                        for (i = 0; i < 3; ++i) { tr->incident[i] = incident[i]; tr->scattering[i] = scattering[i]; }
                        tr->lambda = lambda; tr->stol = stol;
                    }

                    if (dmin > 0.0 && stol > 0.0 && dmin > 0.5 / stol) continue;

                    if (NB_POLARIZES(p) && (polar == 0.0 || p->oversample_polar))
                        polar = nb_polarization(NB_KAHN(p), p->kahn_frames + 9 * source, diffracted);

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

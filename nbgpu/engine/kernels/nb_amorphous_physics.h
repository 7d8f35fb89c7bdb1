/* nb_amorphous_physics.h -- one pixel of nonBragg's amorphous scattering.

   Written for a C compiler and NVRTC alike (NBA_FN qualifies every function; nothing here
   includes a header: the includer provides <math.h> and nb_amorphous.h's nba_problem).

   Parity rules kept on purpose (IEEE double in nonBragg's order, no FMA):
   - every sub-pixel has its own solid angle and polarization; the sum over sub-pixels and
     sources is divided by sources*oversample^2 at the end;
   - the polarization re-normalizes the diffracted vector in place, and later sources of the
     same sub-pixel see it (and the E-vector, renormalized at every call: polar_axis);
   - the table index walks up, then down, from where the previous evaluation left it. */

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define NBA_FN static __device__ __forceinline__
#else
#define NBA_FN static inline
#endif

/* length of v into out[3] as a unit vector (zero stays zero); returns the length */
NBA_FN double nba_unitize(const double *v, double *out)
{
    double mag = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (mag != 0.0) {
        out[0] = v[0] / mag;
        out[1] = v[1] / mag;
        out[2] = v[2] / mag;
    } else {
        out[0] = out[1] = out[2] = 0.0;
    }
    return mag;
}

NBA_FN void nba_cross(const double *x, const double *y, double *z)
{
    z[0] = x[1] * y[2] - x[2] * y[1];
    z[1] = x[2] * y[0] - x[0] * y[2];
    z[2] = x[0] * y[1] - x[1] * y[0];
}

NBA_FN double nba_dot(const double *x, const double *y)
{
    return x[0] * y[0] + x[1] * y[1] + x[2] * y[2];
}

NBA_FN void nba_rotate_axis(const double *v, double *out, const double *axis, double phi)
{
    double s = sin(phi), c = cos(phi);
    double along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c);
    double t0 = axis[0] * along + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s;
    double t1 = axis[1] * along + v[1] * c + (+axis[2] * v[0] - axis[0] * v[2]) * s;
    double t2 = axis[2] * along + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s;
    out[0] = t0; out[1] = t1; out[2] = t2;
}

/* Kahn's polarization factor; diffracted is re-normalized in place */
NBA_FN double nba_polarization(double kahn, const double *incident, double *diffracted, const double *axis)
{
    double c2, c2sqr, s2sqr, psi = 0.0;
    nba_unitize(diffracted, diffracted);
    c2 = nba_dot(incident, diffracted);
    c2sqr = c2 * c2;
    s2sqr = 1 - c2sqr;
    if (kahn != 0.0) {
        double B_in[3], E_in[3];
        nba_cross(axis, incident, B_in);
        nba_unitize(B_in, B_in);
        nba_cross(incident, B_in, E_in);
        nba_unitize(E_in, E_in);
        psi = -atan2(nba_dot(diffracted, B_in), nba_dot(diffracted, E_in));
    }
    return 0.5 * (1.0 + c2sqr - kahn * cos(2 * psi) * s2sqr);
}

/* 4-point Lagrange interpolation through xa[0..3], ya[0..3]; den: the four denominators of
   this window, (xa[i]-xa[j])(xa[i]-xa[k])(xa[i]-xa[l]) in that order (the same values every
   evaluation would compute) */
NBA_FN double nba_polint(const double *xa, const double *ya, const double *den, double x)
{
    const double d0 = x - xa[0], d1 = x - xa[1], d2 = x - xa[2], d3 = x - xa[3];
    double x0 = d1 * d2 * d3 * ya[0] / den[0];
    double x1 = d0 * d2 * d3 * ya[1] / den[1];
    double x2 = d0 * d1 * d3 * ya[2] / den[2];
    double x3 = d0 * d1 * d2 * ya[3] / den[3];
    return x0 + x1 + x2 + x3;
}

/* the table index for stol, walked from *nearest (up while above, then down while below).  An
   increasing table has buckets: wherever the walk starts it ends at the last entry at or below
   stol (at least 1), so that entry is found from its stol's bucket, with few branches */
NBA_FN void nba_walk(const nba_problem *p, double stol, int *nearest)
{
    int n = *nearest;
    if (p->buckets > 0) {
        const double *table = p->stol_of;
        const double at = (stol - p->bucket_lo) * p->bucket_scale;
        n = p->bucket_start[at > 0.0 ? (at < p->buckets - 1 ? (int)at : p->buckets - 1) : 0];
        while (n > 1 && table[n] > stol) --n;
        n += table[n + 1] <= stol;
        n += table[n + 1] <= stol;
        while (table[n + 1] <= stol) ++n;
        *nearest = n;
        return;
    }
    while (stol > p->stol_of[n] && n <= p->stols) ++n;
    while (stol < p->stol_of[n] && n >= 2) --n;
    *nearest = n;
}

/* the rendered columns of a row and the rendered rows, inclusive (empty: last < first) */
NBA_FN void nba_region(const nba_problem *p, int *f0, int *f1, int *s0, int *s1)
{
    *f0 = p->xmin < 0 ? 0 : p->xmin;
    *f1 = p->xmax > p->fpixels - 1 ? p->fpixels - 1 : p->xmax;
    *s0 = p->ymin < 0 ? 0 : p->ymin;
    *s1 = p->ymax > p->spixels - 1 ? p->spixels - 1 : p->ymax;
}

/* what a pixel leaves behind, besides its value */
typedef struct nba_last {
    double stol, polar, omega, F;
    double pos[3];
    int nearest;
} nba_last;

/* the sub-pixel's position in space (m) */
NBA_FN void nba_position(const nba_problem *p, int fpixel, int spixel, int subS, int subF, double *pos)
{
    const double Fdet = p->subpixel_size * (fpixel * p->oversample + subF) + p->subpixel_size / 2.0;
    const double Sdet = p->subpixel_size * (spixel * p->oversample + subS) + p->subpixel_size / 2.0;
    const double Odet = 0 * 0.0;            /* one sensor layer, at its front */
    int i;
    for (i = 0; i < 3; ++i)
        pos[i] = Fdet * p->fdet[i] + Sdet * p->sdet[i] + Odet * p->odet[i] + p->pix0[i];
    if (p->curved) {
        double v[3], w[3];
        for (i = 0; i < 3; ++i) v[i] = p->distance * p->beam[i];
        nba_rotate_axis(v, w, p->sdet, pos[1] / p->distance);
        nba_rotate_axis(w, pos, p->fdet, pos[2] / p->distance);
    }
}

/* One pixel: the sum over sub-pixels and sources, unscaled (Ibg).  omegas: one per sub-pixel,
   in order; evaluation: the index of its first evaluation (for the E-vector's sequence);
   nearest: the table index, carried. */
NBA_FN double nba_pixel(const nba_problem *p, int fpixel, int spixel, long evaluation, double *omegas,
                        nba_last *last)
{
    double Ibg = 0.0;
    int subS, subF, source, k = 0;
    int nearest = last->nearest;
    for (subS = 0; subS < p->oversample; ++subS) {
        for (subF = 0; subF < p->oversample; ++subF) {
            double pos[3], diffracted[3], airpath, omega;
            nba_position(p, fpixel, spixel, subS, subF, pos);
            airpath = nba_unitize(pos, diffracted);
            omega = p->pixel_size * p->pixel_size / airpath / airpath * p->close_distance / airpath;
            if (p->point_pixel) omega = 1.0 / airpath / airpath;
            omegas[k++] = omega;
            for (source = 0; source < p->sources; ++source) {
                const double *inc = p->incident + 3 * source;
                const double lambda = p->source_lambda[source];
                double scattering[3], stol, F, polar = 1.0;
                float sign = 1.0f;
                scattering[0] = (diffracted[0] - inc[0]) / lambda;
                scattering[1] = (diffracted[1] - inc[1]) / lambda;
                scattering[2] = (diffracted[2] - inc[2]) / lambda;
                stol = 0.5 * sqrt(scattering[0] * scattering[0] + scattering[1] * scattering[1]
                                  + scattering[2] * scattering[2]);
                nba_walk(p, stol, &nearest);
                F = nba_polint(p->stol_of + nearest - 1, p->F_of + nearest - 1, p->polint_den + 4 * (nearest - 1), stol);
                if (F < 0.0) sign = -1.0f;
                if (!p->nopolar) {
                    long call = evaluation++;
                    const double *axis = p->polar_axis + 3 * (call < p->polar_axes ? call : p->polar_axes - 1);
                    polar = nba_polarization(p->kahn, p->incident_polar + 3 * source, diffracted, axis);
                }
                Ibg += sign * F * F * polar * omega * p->source_I[source] * 1.0;
                last->stol = stol;
                last->polar = polar;
                last->F = F;
            }
            last->omega = omega;
            last->pos[0] = pos[0]; last->pos[1] = pos[1]; last->pos[2] = pos[2];
        }
    }
    last->nearest = nearest;
    return Ibg;
}

/* One thread of nb_amorphous.cu: rendered pixel t of rows [s_begin, s_begin + rows) x columns
   [f0, f0 + width), for an increasing table (its search starts at its stol's bucket, so the
   pixel needs nothing of the one before).  Its sub-pixels' solid angles go to omegas[t * subs
   ...].  The host emulation (nba_render_pixels_host, csrc/nb_amorphous.c) runs the same body. */
NBA_FN void nba_kernel_pixel(const nba_problem *p, long t, int s_begin, int f0, int width, float *image,
                             double *omegas)
{
    const int s = s_begin + (int)(t / width), f = f0 + (int)(t % width);
    const int subs = p->oversample * p->oversample;
    long first = 0;
    if (p->polar_axes > 1) {
        int rf0, rf1, rs0, rs1;
        nba_region(p, &rf0, &rf1, &rs0, &rs1);
        first = ((long)(s - rs0) * (rf1 - rf0 + 1) + (f - rf0)) * subs * p->sources;
    }
    nba_last last;
    last.stol = last.omega = last.F = 0.0;
    last.polar = 1.0;
    last.pos[0] = last.pos[1] = last.pos[2] = 0.0;
    last.nearest = 1;
    const double Ibg = nba_pixel(p, f, s, first, omegas + t * subs, &last);
    const long j = (long)s * p->fpixels + f;
    image[j] += Ibg * p->r_e_sqr * p->fluence * p->molecules / p->steps;
    if (p->fmap) image[j] = (float)last.F;
}

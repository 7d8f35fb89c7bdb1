/* nb_psf_gather.h -- one output pixel of noisify's point-spread function, gathered: every source
   pixel that reaches it, in noisify's order (source pixels row by row), each added as the C
   engine's spreading adds it, out = (float)(out + (double)photons * weight).  csrc/nb_psf.c
   scatters instead (each source pixel to its disk, a band of output rows per thread); for any
   one output pixel both add the same terms in the same order, so the sums are the same floats.

   Written for a C compiler and NVRTC alike (NBP_FN; nothing here includes a header).  The
   weights and each pixel's radius come from the host (the C library's erf, atan, log and exp),
   so only products, sums and conversions run here: with --fmad=false they are the C engine's
   to the bit.

   Inputs: photons[pixels]; radius[pixels] (each source pixel's radius, 0 for pixels that spread
   nothing); row_reach[ypixels] (the largest radius of each source row, 0 for none); kernel, the
   (2R+1)^2 weights of radius R = kernel_radius >= every radius, index (R+dy)*(2R+1)+R+dx; each:
   the lost photons per pixel, added back at the end.  noisify's edge rule: a column x ==
   xpixels is the next row's first pixel, so output pixel (0, Y) also gathers from row Y-1. */

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define NBP_FN static __device__ __forceinline__
#else
#define NBP_FN static inline
#endif

/* float <-> double as the C engine converts (CuPy compiles with -ftz=true, which would flush
   subnormal floats in both directions: the conversions are written in PTX without .ftz) */
NBP_FN double nbp_widen(float x)
{
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    double d;
    asm("cvt.f64.f32 %0, %1;" : "=d"(d) : "f"(x));
    return d;
#else
    return (double)x;
#endif
}

NBP_FN float nbp_narrow(double x)
{
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
    float f;
    asm("cvt.rn.f32.f64 %0, %1;" : "=f"(f) : "d"(x));
    return f;
#else
    return (float)x;
#endif
}

/* source pixel k's term for an output pixel at offset (dx, dy) from it, added to acc */
NBP_FN float nbp_add(float acc, const float *photons, const int *radius, const double *kernel, int kernel_radius,
                     long k, int dx, int dy)
{
    float value = photons[k];
    int r = radius[k];
    double weight;
    if (!(value > 0.0f) || r <= 0 || dx > r || dx < -r || dy > r || dy < -r
        || (long long)dx * dx + (long long)dy * dy > (long long)r * r)
        return acc;
    weight = kernel[(long)(kernel_radius + dy) * (2L * kernel_radius + 1) + kernel_radius + dx];
    if (weight == 0.0) return acc;
    return nbp_narrow(nbp_widen(acc) + nbp_widen(value) * weight);
}

/* output pixel j's value: its gathered terms, then the lost photons added back */
NBP_FN float nbp_gather_pixel(const float *photons, const int *radius, const int *row_reach, const double *kernel,
                              int kernel_radius, int reach, int xpixels, int ypixels, double each, long j)
{
    int X = (int)(j % xpixels), Y = (int)(j / xpixels), y0;
    int edge = X == 0 && Y >= 1;             /* (xpixels, Y-1) of row Y-1 lands here too */
    int first = Y - reach - edge, last = Y + reach;
    float acc = 0.0f;
    if (first < 0) first = 0;
    if (last > ypixels - 1) last = ypixels - 1;
    for (y0 = first; y0 <= last; ++y0) {
        int rr = row_reach[y0], dy = Y - y0, lo, hi, edge_lo, x0;
        int normal = rr > 0 && dy <= rr && dy >= -rr;
        int edged = edge && rr > 0 && dy - 1 <= rr && dy - 1 >= -rr;
        long row = (long)y0 * xpixels;
        if (!normal && !edged) continue;
        lo = normal ? X - rr : xpixels;          /* the sources in reach of (X, Y) */
        hi = normal ? X + rr : -1;
        edge_lo = edged ? xpixels - rr : xpixels; /* and of (xpixels, Y-1) */
        if (lo < 0) lo = 0;
        if (hi > xpixels - 1) hi = xpixels - 1;
        if (edge_lo < 0) edge_lo = 0;
        /* in source order: [lo, hi] then [edge_lo, xpixels), overlapping on narrow images */
        for (x0 = lo < edge_lo ? lo : edge_lo; x0 < xpixels; ++x0) {
            if (x0 > hi && x0 < edge_lo) x0 = edge_lo;
            if (x0 >= xpixels) break;
            if (x0 >= lo && x0 <= hi)
                acc = nbp_add(acc, photons, radius, kernel, kernel_radius, row + x0, X - x0, dy);
            if (x0 >= edge_lo)
                acc = nbp_add(acc, photons, radius, kernel, kernel_radius, row + x0, xpixels - x0, dy - 1);
        }
    }
    return nbp_narrow(nbp_widen(acc) + each);
}

/* nb_entries.h -- entry points built once per arithmetic: the includer names them.
     NB_TRACE_NAME   recompute one pixel, filling an nb_trace (nb_engine.c: nanoBragg's
                     arithmetic; nb_kernel_host.c and nb_engine_single.c: the GPU's)
     NB_TILE_NAME    the CUDA kernel nb_render_pixels run on the host, for tests of the CUDA
                     engine's logic (nb_kernel_host.c in double, nb_engine_single.c in single) */

#ifdef NB_TRACE_NAME
int NB_TRACE_NAME(const nb_problem *p, int fpixel, int spixel, nb_pixel_state *st, nb_trace *tr)
{
    double omega = 0.0;
    if (fpixel < 0 || fpixel >= p->fpixels || spixel < 0 || spixel >= p->spixels) return NB_BAD_ARGUMENT;
    memset(tr, 0, sizeof *tr);
    nb_pixel(p, fpixel, spixel, st, &omega, tr);
    return NB_OK;
}
#endif

#ifdef NB_TILE_NAME
int NB_TILE_NAME(const nb_problem *p, int row0, int nrows, long long first_pixel, long long interp_until,
                   long long only_after, float *image, double *omega, unsigned long long *earliest)
{
    long long local, count = (long long)nrows * p->fpixels;
    if (row0 < 0 || nrows < 0 || row0 + nrows > p->spixels) return NB_BAD_ARGUMENT;
    #pragma omp parallel for schedule(dynamic, 64)
    for (local = 0; local < count; ++local) {
        if (nb_tile_pixel(p, row0, local, first_pixel, interp_until, only_after, image, omega)) {
            unsigned long long pixel = (unsigned long long)(row0 * (long long)p->fpixels + local);
            #pragma omp critical(nb_tile_earliest)
            if (pixel < *earliest) *earliest = pixel;
        }
    }
    return NB_OK;
}
#endif

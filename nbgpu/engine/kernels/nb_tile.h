/* nb_tile.h -- one pixel of a tile of rows, as the CUDA engine renders it: the body of the
   nb_render_pixels kernel, also run on the host (nb_render_tile and nb_render_tile_single, from csrc/nb_entries.h) so the CUDA
   engine's logic is tested against the C engine on machines without a GPU.

   Pixel (f, s) of rows [row0, row0 + nrows) is image[local] with local = (s - row0)*fpixels + f.
   first_pixel: the pixel that evaluates the run's first phi sweep (-1: none in this tile).
   interp_until: pixels up to this index start with interpolation on (-1: none).
   only_after: pixels up to this index are left as they are (the pass after a switch-off).
   Returns 1 when the pixel switched interpolation off. */

NB_FN int nb_tile_pixel(const nb_problem *p, int row0, long long local, long long first_pixel,
                        long long interp_until, long long only_after, float *image, double *omega)
{
    int fpixel = (int)(local % p->fpixels);
    int spixel = row0 + (int)(local / p->fpixels);
    long long pixel = (long long)spixel * p->fpixels + fpixel;
    nb_pixel_state st;
    double omega_sum = 0.0;
    if (pixel <= only_after) return 0;
    if (!nb_pixel_rendered(p, fpixel, spixel)) {
        image[local] = 0.0f;
        omega[local] = 0.0;
        return 0;
    }
    st.first_sweep = (pixel == first_pixel);
    st.interpolate = (pixel <= interp_until);
    st.switched_off = 0;
    image[local] = nb_to_float(0.0 + nb_pixel(p, fpixel, spixel, &st, &omega_sum, (nb_trace *)0));
    omega[local] = omega_sum;
    return st.switched_off;
}

/* nb_hkl.h -- nanoBragg's HKL text reader (plain declarations: also cffi's cdef).

   nanoBragg reads an HKL file twice with fscanf: pass 1 ("%lg%lg%lg%lg" groups) counts the
   reflections and the index limits and warns about non-integer indices; pass 2
   ("%d%d%d%lg" groups) stores F, the last of any duplicates winning.  These functions give the
   same results on the file's bytes: through the C library's own fscanf for any file, and
   through a tokenizer that gives identical values for files of plain decimal numbers (the
   usual kind), in a fraction of the time. */

typedef struct nb_hkl_scan {
    int hkls;                         /* groups of four numbers pass 1 read */
    int h_min, h_max, k_min, k_max, l_min, l_max;     /* the limits pass 1 leaves */
    int h_range, k_range, l_range;    /* max - min + 1, in C int arithmetic */
    char *warnings;                   /* pass 1's output, as nanoBragg prints it ("" if none) */
    int plain;                        /* 1: every token was a plain number (the fast path applies) */
    double *values;                   /* the fast path's numbers, 4 per group (internal) */
    long count;                       /* numbers in values */
} nb_hkl_scan;

/* pass 1 over data[0..size); exact = 1 forces fscanf.  Returns NB_OK or NB_NO_MEMORY. */
int nb_hkl_count(const char *data, long size, int exact, nb_hkl_scan *scan);

/* set grid[h][k][l] = value for h < h_range, k < k_range, l < l_range (the grid has one more
   plane along each axis, left as it is) */
void nb_hkl_fill(const nb_hkl_scan *scan, double *grid, double value);

/* pass 2: store F into grid ((h_range+1) x (k_range+1) x (l_range+1) doubles, l fastest).
   Returns NB_OK, or NB_BAD_ARGUMENT with bad[0..2] = the first reflection outside the limits
   of pass 1 (nanoBragg would write outside its arrays), or NB_NO_MEMORY. */
int nb_hkl_store(const char *data, long size, const nb_hkl_scan *scan, double *grid, int *bad);

/* the index of the first of values[0..count) that is NaN or infinite, or -1 (structure
   factors nanoBragg would render into NaN or infinite pixels) */
long nb_first_nonfinite(const double *values, long count);

/* release what nb_hkl_count allocated */
void nb_hkl_free(nb_hkl_scan *scan);

/* nb_text.h -- the suite's multi-column text tables (plain declarations: also cffi's cdef). */

/* the rows of a table held in data[0..size): with out NULL, only their count; else each row's
   ncols values into out (NaN where the line gives none); returns the row count */
long nb_read_columns(const char *data, long size, int ncols, double *out);

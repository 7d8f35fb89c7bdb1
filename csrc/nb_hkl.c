/* nb_hkl.c -- nanoBragg's two HKL passes (see nb_hkl.h).

   The exact path runs nanoBragg's own fscanf loops on the bytes (fmemopen), so any file --
   hex floats, "nan", a non-integer index that throws pass 2 out of step -- is read as
   nanoBragg reads it on the same C library.  The fast path applies when every token is a plain
   decimal number and every h, k, l token a plain integer that fits in an int: then "%lg" reads
   each token whole, "%d" reads the same integers, pass 2 stores exactly the groups of pass 1,
   and no index can draw a warning.  Its numbers are the correctly rounded values strtod (and
   so "%lg") gives: exact integer arithmetic and one IEEE multiplication or division when the
   digits allow it (at most 15 significant digits, a power of ten up to 1e22), strtod itself
   otherwise. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "nb_problem.h"
#include "nb_physics.h"        /* nb_int */
#include "nb_engine.h"
#include "nb_hkl.h"

static const double POWERS_OF_TEN[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* one token [start, end): 1 and *value when it is a plain decimal number, *integer set when it
   is also a plain integer in int range; 0 when "%lg" might read it differently */
static int plain_number(const char *start, const char *end, double *value, int *integer)
{
    const char *c = start;
    unsigned long long mantissa = 0;
    int digits = 0, significant = 0, exponent = 0, negative = 0, dot = 0;
    if (c < end && (*c == '+' || *c == '-')) negative = *c++ == '-';
    for (; c < end; ++c) {
        if (is_digit(*c)) {
            ++digits;
            if (significant || *c != '0') {
                /* beyond 15 significant digits strtod decides; the mantissa only must not overflow */
                if (significant < 19) mantissa = mantissa * 10 + (unsigned)(*c - '0');
                ++significant;
            }
            if (dot) --exponent;
        } else if (*c == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (digits == 0) return 0;
    *integer = !dot && c == end;
    if (c < end) {
        int e = 0, e_negative = 0, e_digits = 0;
        if (*c != 'e' && *c != 'E') return 0;
        ++c;
        if (c < end && (*c == '+' || *c == '-')) e_negative = *c++ == '-';
        for (; c < end && is_digit(*c); ++c, ++e_digits)
            if (e < 100000) e = e * 10 + (*c - '0');
        if (e_digits == 0 || c != end) return 0;
        exponent += e_negative ? -e : e;
    }
    if (significant <= 15 && exponent >= -22 && exponent <= 22) {
        double m = (double)mantissa;
        *value = exponent >= 0 ? m * POWERS_OF_TEN[exponent] : m / POWERS_OF_TEN[-exponent];
    } else {
        char buffer[128];
        size_t length = (size_t)(end - start);
        if (length >= sizeof buffer) return 0;
        memcpy(buffer, start, length);
        buffer[length] = '\0';
        *value = fabs(strtod(buffer, NULL));
    }
    if (negative) *value = -*value;
    if (*integer && !(*value >= -2147483648.0 && *value <= 2147483647.0)) *integer = 0;
    return 1;
}

static void start_limits(nb_hkl_scan *scan)
{
    scan->h_min = scan->k_min = scan->l_min = 1000000000;
    scan->h_max = scan->k_max = scan->l_max = -1000000000;
}

/* nanoBragg's int limits take the doubles through (int), as x86 converts them (nb_int) */
static void update_limits(nb_hkl_scan *scan, double h, double k, double l)
{
    if (scan->h_min > h) scan->h_min = nb_int(h);
    if (scan->k_min > k) scan->k_min = nb_int(k);
    if (scan->l_min > l) scan->l_min = nb_int(l);
    if (scan->h_max < h) scan->h_max = nb_int(h);
    if (scan->k_max < k) scan->k_max = nb_int(k);
    if (scan->l_max < l) scan->l_max = nb_int(l);
}

static int wrap_range(int max, int min)
{
    return (int)((unsigned)max - (unsigned)min + 1u);
}

/* the whole file's tokens as plain numbers, or 0 (scan->values freed) if any is not plain */
static int tokenize(const char *data, long size, nb_hkl_scan *scan)
{
    long capacity = size / 2 + 4, n = 0;
    const char *c = data, *end = data + size;
    double *values = (double *)malloc(sizeof(double) * (size_t)capacity);
    if (values == NULL) return -1;
    while (1) {
        while (c < end && is_space(*c)) ++c;
        if (c >= end) break;
        const char *token = c;
        while (c < end && !is_space(*c)) ++c;
        int integer = 0;
        if (n >= capacity || !plain_number(token, c, &values[n], &integer) || (n % 4 != 3 && !integer)) {
            free(values);
            return 0;
        }
        ++n;
    }
    scan->values = values;
    scan->count = n;
    return 1;
}

/* append pass 1's warning for one index, as nanoBragg's printf writes it */
static int warn(char **text, size_t *length, size_t *capacity, char axis, double value, int line)
{
    char line_text[128];
    int written = snprintf(line_text, sizeof line_text, "WARNING: non-integer value for %c (%g) at line %d\n",
                           axis, value, line);
    if (written < 0) return 0;
    if (*length + (size_t)written + 1 > *capacity) {
        size_t grown = (*capacity + (size_t)written + 1) * 2;
        char *bigger = (char *)realloc(*text, grown);
        if (bigger == NULL) return 0;
        *text = bigger;
        *capacity = grown;
    }
    memcpy(*text + *length, line_text, (size_t)written + 1);
    *length += (size_t)written;
    return 1;
}

static FILE *open_bytes(const char *data, long size)
{
    return fmemopen((void *)data, (size_t)size, "r");
}

int nb_hkl_count(const char *data, long size, int exact, nb_hkl_scan *scan)
{
    size_t length = 0, capacity = 256;
    memset(scan, 0, sizeof *scan);
    start_limits(scan);
    scan->warnings = (char *)calloc(capacity, 1);
    if (scan->warnings == NULL) return NB_NO_MEMORY;
    int tokens = exact ? 0 : tokenize(data, size, scan);
    if (tokens < 0) return NB_NO_MEMORY;
    if (tokens) {
        long g;
        scan->plain = 1;
        scan->hkls = (int)(scan->count / 4);
        for (g = 0; g < scan->hkls; ++g)
            update_limits(scan, scan->values[4 * g], scan->values[4 * g + 1], scan->values[4 * g + 2]);
    } else if (size > 0) {
        double h, k, l, F;
        FILE *f = open_bytes(data, size);
        if (f == NULL) return NB_NO_MEMORY;
        while (4 == fscanf(f, "%lg%lg%lg%lg", &h, &k, &l, &F)) {
            if ((h != ceil(h - 0.4) && !warn(&scan->warnings, &length, &capacity, 'h', h, scan->hkls)) ||
                (k != ceil(k - 0.4) && !warn(&scan->warnings, &length, &capacity, 'k', k, scan->hkls)) ||
                (l != ceil(l - 0.4) && !warn(&scan->warnings, &length, &capacity, 'l', l, scan->hkls))) {
                fclose(f);
                return NB_NO_MEMORY;
            }
            update_limits(scan, h, k, l);
            ++scan->hkls;
        }
        fclose(f);
    }
    scan->h_range = wrap_range(scan->h_max, scan->h_min);
    scan->k_range = wrap_range(scan->k_max, scan->k_min);
    scan->l_range = wrap_range(scan->l_max, scan->l_min);
    return NB_OK;
}

void nb_hkl_fill(const nb_hkl_scan *scan, double *grid, double value)
{
    long h, k, l;
    const long k_stride = scan->l_range + 1L, h_stride = (scan->k_range + 1L) * k_stride;
    for (h = 0; h < scan->h_range; ++h)
        for (k = 0; k < scan->k_range; ++k)
            for (l = 0; l < scan->l_range; ++l)
                grid[h * h_stride + k * k_stride + l] = value;
}

/* grid[h-h_min][k-k_min][l-l_min] = F, or 0 with bad[] set when outside pass 1's limits */
static int store(const nb_hkl_scan *scan, double *grid, int h, int k, int l, double F, int *bad)
{
    long dh = (long)h - scan->h_min, dk = (long)k - scan->k_min, dl = (long)l - scan->l_min;
    if (dh < 0 || dh >= scan->h_range || dk < 0 || dk >= scan->k_range || dl < 0 || dl >= scan->l_range) {
        bad[0] = h; bad[1] = k; bad[2] = l;
        return 0;
    }
    grid[(dh * (scan->k_range + 1L) + dk) * (scan->l_range + 1L) + dl] = F;
    return 1;
}

int nb_hkl_store(const char *data, long size, const nb_hkl_scan *scan, double *grid, int *bad)
{
    if (scan->plain) {
        long g;
        for (g = 0; g < scan->hkls; ++g) {
            const double *v = scan->values + 4 * g;
            if (!store(scan, grid, (int)v[0], (int)v[1], (int)v[2], v[3], bad)) return NB_BAD_ARGUMENT;
        }
        return NB_OK;
    }
    if (size <= 0) return NB_OK;
    FILE *f = open_bytes(data, size);
    int h0, k0, l0, status = NB_OK;
    double F;
    if (f == NULL) return NB_NO_MEMORY;
    while (4 == fscanf(f, "%d%d%d%lg", &h0, &k0, &l0, &F)) {
        if (!store(scan, grid, h0, k0, l0, F, bad)) {
            status = NB_BAD_ARGUMENT;
            break;
        }
    }
    fclose(f);
    return status;
}

void nb_hkl_free(nb_hkl_scan *scan)
{
    free(scan->warnings);
    free(scan->values);
    scan->warnings = NULL;
    scan->values = NULL;
}

long nb_first_nonfinite(const double *values, long count)
{
    for (long i = 0; i < count; ++i)
        if (!isfinite(values[i])) return i;
    return -1;
}

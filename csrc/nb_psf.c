/* nb_psf.c -- noisify's point-spread function, bit for bit: the kernels (pixel integrals of a
   Gaussian or of the fiber function), each pixel's radius and lost photons, the spreading in
   noisify's order (source pixel, then dx, then dy, float sums) with its edge rules, the lost
   photons added back evenly.

   Parallel only where no sum can change: nb_psf_apply gives each thread a band of output rows,
   to which it adds every contribution in noisify's order; nb_noise_psf spreads each row on a
   second thread as soon as the noise loop has drawn it, or at one thread gathers each output
   row (every term of it in noisify's order) once the rows that reach it are drawn. */
#include <math.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include "nb_rng.h"
#include "nb_noise.h"
#include "nb_side_work.h"
#include "nb_words.h"
#include "nb_psf_gather.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define PSF_PI 3.14159265358979323846
#define FIBER_G_PER_FWHM 0.652383013252053     /* g of the fiber function for a fwhm of 1 */
#define PHOTON_LOSS_FACTOR 10.0                 /* the automatic radius keeps sqrt(I)/10 */
#define PSF_FIBER 1
#define WHOLE_VALUES 4096                       /* radii remembered for counts 0..4095 */
#define DISK8_RADIUS 3                          /* disks spread in rows of 8 lanes up to this radius */
#define HALF_TABLE 256                          /* disk half-heights tabulated up to this radius */

/* the Gaussian of unit fwhm and unit volume, integrated from the origin to (x, y) */
static double gauss_corner(double x, double y)
{
    return 0.125 * (erf(2 * x * sqrt(log(2))) * erf(y * sqrt(log(16))) * sqrt(log(16) / log(2)));
}

/* the fiber function g/(2 pi (g^2+r^2)^1.5), integrated from the origin to (x, y) */
static double fiber_corner(double x, double y, double g)
{
    return atan((x * y) / (g * sqrt(g * g + x * x + y * y))) / 2.0 / PSF_PI;
}

static double psf_pixel(int type, int dx, int dy, double fwhm_pixels)
{
    if (type == PSF_FIBER) {
        double g = fwhm_pixels * FIBER_G_PER_FWHM, half = 1.0 / 2.;
        return fiber_corner(dx + half, dy + half, g) - fiber_corner(dx + half, dy - half, g)
             - fiber_corner(dx - half, dy + half, g) + fiber_corner(dx - half, dy - half, g);
    } else {
        /* in units of the fwhm: the pixel is 1/fwhm wide */
        double x = dx / fwhm_pixels, y = dy / fwhm_pixels, half = (1.0 / fwhm_pixels) / 2.;
        return gauss_corner(x + half, y + half) - gauss_corner(x + half, y - half)
             - gauss_corner(x - half, y + half) + gauss_corner(x - half, y - half);
    }
}

static double disk_value(int type, int dx, int dy, int radius, double fwhm_pixels)
{
    double rsq = dx * dx + dy * dy;
    return (rsq > (double)radius * radius) ? 0.0 : psf_pixel(type, dx, dy, fwhm_pixels);
}

void nb_psf_kernel(double *kernel, int radius, int type, double fwhm_pixels)
{
    long size = 2L * radius + 1, row;
#pragma omp parallel for schedule(dynamic, 4)
    for (row = 0; row < size; ++row) {
        int dx;
        for (dx = -radius; dx <= radius; ++dx)
            kernel[row * size + radius + dx] = disk_value(type, dx, (int)row - radius, radius, fwhm_pixels);
    }
}

int nb_psf_auto_radius(double max_photons, int type, double fwhm_pixels, int *radius)
{
    double lost_guess = sqrt(max_photons) / PHOTON_LOSS_FACTOR, wanted;
    if (type == PSF_FIBER)
        wanted = 1 + ceil(fwhm_pixels * FIBER_G_PER_FWHM * (max_photons / lost_guess));
    else
        wanted = 1 + ceil(sqrt(-log(lost_guess / max_photons) / log(4) / 2) * fwhm_pixels);
    if (!(wanted > -2147483649.0 && wanted < 2147483648.0)) return -1;
    *radius = (int)wanted;
    return 0;
}

typedef struct psf_work {
    int type, user_radius, maxwidth;
    double fwhm_pixels, g;
    unsigned char whole_known[WHOLE_VALUES];    /* each whole count's radius and lost photons */
    unsigned char whole_ok[WHOLE_VALUES];       /* known, or 0 (radius 0, lost +0) */
    int whole_radius[WHOLE_VALUES];
    double whole_lost[WHOLE_VALUES];
    int *half;                  /* half[r*r + r + dx] = floor(sqrt(r^2 - dx^2)), r <= HALF_TABLE */
    double *kernel_t;           /* the kernel by columns: [(R+dx)*(2R+1) + R+dy] */
    double *kernel_r;           /* the kernel by rows: [(R+dy)*(2R+1) + R+dx] (the same values) */
    double *disk8[DISK8_RADIUS + 1];    /* radius r's disk by rows of 8, dx = -r..7-r: [(r+dy)*8 + r+dx],
                                           0 outside the disk (NULL: r beyond the kernel's) */
    int kernel_radius;
} psf_work;

/* a pixel's radius and lost photons as noisify computes them; 0, or -1 when the automatic
   radius is not a number or no int */
static int pixel_radius(const psf_work *w, float value, int *radius, double *lost)
{
    int r;
    if (w->user_radius != 0) {
        r = w->user_radius;
    } else {
        double lost_guess = sqrt(value) / PHOTON_LOSS_FACTOR, wanted;
        if (w->type == PSF_FIBER)
            wanted = 1 + ceil(w->g * (value / lost_guess));
        else
            wanted = 1 + ceil(sqrt(-log(lost_guess / value) / log(16)) * w->fwhm_pixels);
        if (!(wanted > -2147483649.0 && wanted < 2147483648.0)) return -1;
        r = (int)wanted;
    }
    if (r == 0) r = 1;
    if (r > w->maxwidth) r = w->maxwidth;
    if (w->type == PSF_FIBER) {
        int rr = (int)((unsigned int)r * (unsigned int)r);
        *lost = value * w->g / sqrt(w->g * w->g + rr);
    } else {
        double rsq = r;
        rsq = rsq / w->fwhm_pixels;
        rsq = rsq * rsq;
        *lost = value * exp(-log(16) * rsq);
    }
    *radius = r;
    return 0;
}

static int radius_of(const psf_work *w, float value, int *radius, double *lost)
{
    if (value < (float)WHOLE_VALUES && value == (float)(int)value && w->whole_known[(int)value]) {
        *radius = w->whole_radius[(int)value];
        *lost = w->whole_lost[(int)value];
        return 0;
    }
    return pixel_radius(w, value, radius, lost);
}

static int isqrt_floor(long long v)
{
    long long h = (long long)sqrt((double)v);
    while (h > 0 && h * h > v) --h;
    while ((h + 1) * (h + 1) <= v) ++h;
    return (int)h;
}

static int half_height(const psf_work *w, int r, int dx)
{
    if (r <= HALF_TABLE) return w->half[r * r + r + dx];
    return isqrt_floor((long long)r * r - (long long)dx * dx);
}

/* the transposed kernel of radius `radius` (or more), built anew */
static int grow_kernel(psf_work *w, int radius)
{
    long size = 2L * radius + 1, column;
    double *kernel_t = malloc(sizeof(double) * (size_t)(size * size));
    double *kernel_r = malloc(sizeof(double) * (size_t)(size * size));
    if (kernel_t == NULL || kernel_r == NULL) {
        free(kernel_t);
        free(kernel_r);
        return -1;
    }
    for (column = 0; column < size; ++column) {
        int dy;
        for (dy = -radius; dy <= radius; ++dy)
            kernel_t[column * size + radius + dy] = kernel_r[(radius + dy) * size + column] =
                disk_value(w->type, (int)column - radius, dy, radius, w->fwhm_pixels);
    }
    free(w->kernel_t);
    free(w->kernel_r);
    w->kernel_t = kernel_t;
    w->kernel_r = kernel_r;
    {
        int r;
        for (r = 1; r <= DISK8_RADIUS; ++r) {
            int dy, dx;
            free(w->disk8[r]);
            w->disk8[r] = r <= radius ? malloc(sizeof(double) * 8 * (2 * r + 1)) : NULL;
            if (w->disk8[r] == NULL) continue;      /* the scalar path serves */
            for (dy = -r; dy <= r; ++dy)
                for (dx = -r; dx < 8 - r; ++dx)
                    w->disk8[r][(r + dy) * 8 + r + dx] = (dx <= r && dx * dx + dy * dy <= r * r) ?
                        kernel_r[(radius + dy) * size + radius + dx] : 0.0;
        }
    }
    w->kernel_radius = radius;
    return 0;
}

static int psf_work_init(psf_work *w, int xpixels, int ypixels, int type, double fwhm_pixels, int user_radius)
{
    int r, dx, v;
    w->type = type;
    w->fwhm_pixels = fwhm_pixels;
    w->g = fwhm_pixels * FIBER_G_PER_FWHM;
    w->user_radius = user_radius;
    w->maxwidth = xpixels > ypixels ? xpixels : ypixels;
    w->kernel_t = w->kernel_r = NULL;
    for (r = 0; r <= DISK8_RADIUS; ++r) w->disk8[r] = NULL;
    w->kernel_radius = -1;
    w->half = malloc(sizeof(int) * (HALF_TABLE + 1) * (HALF_TABLE + 1));
    if (w->half == NULL) return -1;
    for (r = 0; r <= HALF_TABLE; ++r)
        for (dx = -r; dx <= r; ++dx) w->half[r * r + r + dx] = isqrt_floor((long long)r * r - (long long)dx * dx);
    for (v = 0; v < WHOLE_VALUES; ++v)
        w->whole_known[v] = v > 0 && pixel_radius(w, (float)v, &w->whole_radius[v], &w->whole_lost[v]) == 0;
    w->whole_radius[0] = 0;
    w->whole_lost[0] = 0.0;
    for (v = 0; v < WHOLE_VALUES; ++v) w->whole_ok[v] = v == 0 || w->whole_known[v];
    return 0;
}

static void psf_work_free(psf_work *w)
{
    free(w->half);
    int r;
    free(w->kernel_t);
    free(w->kernel_r);
    for (r = 0; r <= DISK8_RADIUS; ++r) free(w->disk8[r]);
}

/* add source pixel i's photons to the output rows [row0, row1) in noisify's order (dx, then dy) */
static void spread_pixel_columns(const psf_work *w, float value, int r, int x0, int y0, float *out, int xpixels,
                         int row0, int row1)
{
    long size = 2L * w->kernel_radius + 1;
    int dx;
    for (dx = -r; dx <= r; ++dx) {
        int x = x0 + dx, h, lo, hi, y;
        const double *column;
        if (x < 0 || x > xpixels) continue;
        h = half_height(w, r, dx);
        lo = y0 - h;
        hi = y0 + h;
        /* output row of (x, y): y, or y+1 at x == xpixels (the next row's first pixel) */
        if (x < xpixels) {
            if (lo < row0) lo = row0;
            if (hi > row1 - 1) hi = row1 - 1;
        } else {
            if (lo < row0 - 1) lo = row0 - 1;
            if (hi > row1 - 2) hi = row1 - 2;
        }
        if (lo < 0) lo = 0;
        column = w->kernel_t + (long)(w->kernel_radius + dx) * size + w->kernel_radius;
        for (y = lo; y <= hi; ++y) {
            double k = column[y - y0];
            long j;
            if (k == 0.0) continue;
            j = (long)y * xpixels + x;
            out[j] = (float)(out[j] + (double)value * k);
        }
    }
}

/* spread_pixel's terms for a disk of the constant radius r wholly inside the image and the band:
   unrolled by the compiler, no edge tests */
static inline __attribute__((always_inline)) void spread_disk(const double *kernel, long size, float *center,
                                                              long xpixels, double photons, const int r)
{
    /* floor(sqrt(r^2 - dy^2)) for r <= 4, by dy + r: constants once the loop is unrolled */
    static const int half[5][9] = {{0}, {0, 1, 0}, {0, 1, 2, 1, 0}, {0, 2, 2, 3, 2, 2, 0},
                                   {0, 2, 3, 3, 4, 3, 3, 2, 0}};
    int dy;
#pragma GCC unroll 16
    for (dy = -r; dy <= r; ++dy) {
        int h = half[r][dy + r], dx;
        float *dst = center + dy * xpixels;
        const double *row = kernel + dy * size;
#pragma GCC unroll 16
        for (dx = -h; dx <= h; ++dx) dst[dx] = (float)(dst[dx] + photons * row[dx]);
    }
}

typedef float lanes8_f __attribute__((vector_size(32)));
typedef double lanes8_d __attribute__((vector_size(64)));


/* a disk of radius r <= DISK8_RADIUS, each of its rows as 8 lanes from dx = -r: the lanes beyond
   the disk add (photons * 0) = +0 to their pixel, no change (a sum is never -0); each lane's
   arithmetic is the scalar's.  AVX2 where the CPU has it. */
#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))     /* an ifunc: GCC on x86-64 glibc */
#endif
static void spread_disk8(const double *disk, int r, float *center, long xpixels, double photons)
{
    int dy;
    for (dy = -r; dy <= r; ++dy) {
        float *dst = center + dy * xpixels - r;
        lanes8_f out;
        lanes8_d weight;
        memcpy(&out, dst, sizeof out);
        memcpy(&weight, disk + (r + dy) * 8, sizeof weight);
        out = __builtin_convertvector(__builtin_convertvector(out, lanes8_d) + photons * weight, lanes8_f);
        memcpy(dst, &out, sizeof out);
    }
}

/* spread_pixel_columns' terms row by row (dy, then dx): contiguous spans, and
   small disks inside the image unrolled.
   Each term goes to a different output pixel as long as the disk is narrower than a row (at
   x == xpixels the term lands on the next row's first pixel, which the disk then cannot also
   reach), so the order within a source pixel does not matter and every sum is the same.  A
   zero kernel value adds +0 to a value that is never -0: no change, as noisify's skip. */
static void spread_pixel(const psf_work *w, float value, int r, int x0, int y0, float *out, int xpixels,
                         int row0, int row1)
{
    long size = 2L * w->kernel_radius + 1;
    double photons = value;
    int dy;
    if (r >= 1 && r <= DISK8_RADIUS && w->disk8[r] != NULL && x0 >= r && x0 - r + 8 <= xpixels && y0 - r >= row0 &&
        y0 - r >= 0 && y0 + r <= row1 - 1) {
        spread_disk8(w->disk8[r], r, out + (long)y0 * xpixels + x0, xpixels, photons);
        return;
    }
    if (r <= 4 && x0 >= r && x0 + r < xpixels && y0 - r >= row0 && y0 - r >= 0 && y0 + r <= row1 - 1) {
        const double *kernel = w->kernel_r + (long)w->kernel_radius * size + w->kernel_radius;
        float *center = out + (long)y0 * xpixels + x0;
        switch (r) {
        case 1: spread_disk(kernel, size, center, xpixels, photons, 1); return;
        case 2: spread_disk(kernel, size, center, xpixels, photons, 2); return;
        case 3: spread_disk(kernel, size, center, xpixels, photons, 3); return;
        case 4: spread_disk(kernel, size, center, xpixels, photons, 4); return;
        default: break;
        }
    }
    if (2L * r >= xpixels) {
        spread_pixel_columns(w, value, r, x0, y0, out, xpixels, row0, row1);
        return;
    }
    for (dy = -r; dy <= r; ++dy) {
        int y = y0 + dy, h, lo, hi, last, dx;
        int here = y >= row0 && y <= row1 - 1, next = y + 1 >= row0 && y + 1 <= row1 - 1;
        const double *row;
        float *dst;
        if (y < 0 || !(here || next)) continue;
        h = half_height(w, r, dy);
        lo = -h < -x0 ? -x0 : -h;                       /* x >= 0 */
        hi = h > xpixels - x0 ? xpixels - x0 : h;       /* x <= xpixels */
        /* x < xpixels lands on row y, x == xpixels on row y + 1 */
        last = (x0 + hi == xpixels && !next) ? hi - 1 : hi;
        if (!here) {
            if (x0 + hi != xpixels) continue;
            lo = hi;                                    /* the x == xpixels term alone */
        }
        row = w->kernel_r + (long)(w->kernel_radius + dy) * size + w->kernel_radius;
        dst = out + (long)y * xpixels + x0;
        for (dx = lo; dx <= last; ++dx) dst[dx] = (float)(dst[dx] + photons * row[dx]);
    }
}

/* every source pixel's radius and lost photons (w's rules; 0 and 0 for a pixel that spreads
   nothing), each row's largest radius, the lost photons' sum in pixel order, the largest radius;
   -1 with *bad the first pixel whose radius is not a number or exceeds `limit`, -2 out of memory */
static int radii_pass(const psf_work *w, const float *in, int xpixels, int ypixels, int limit, int *radius,
                      int *row_reach, double *lost, int *reach, long *bad)
{
    long pixels = (long)xpixels * ypixels, i, first_bad = pixels;
    int widest = 0, y;
    double total = 0.0;
    double *lost_of = malloc(sizeof(double) * (size_t)(pixels ? pixels : 1));
    *bad = -1;
    if (lost_of == NULL) return -2;
#pragma omp parallel for schedule(static) reduction(min:first_bad) reduction(max:widest)
    for (y = 0; y < ypixels; ++y) {
        long k;
        int row_widest = 0;
        for (k = (long)y * xpixels; k < (long)(y + 1) * xpixels; ++k) {
            radius[k] = 0;
            lost_of[k] = 0.0;
            if (!(in[k] > 0.0)) continue;
            if (radius_of(w, in[k], &radius[k], &lost_of[k]) != 0 || radius[k] > limit) {
                if (k < first_bad) first_bad = k;
                continue;
            }
            if (radius[k] > row_widest) row_widest = radius[k];
        }
        if (row_reach != NULL) row_reach[y] = row_widest;
        if (row_widest > widest) widest = row_widest;
    }
    if (first_bad < pixels) {
        free(lost_of);
        *bad = first_bad;
        return -1;
    }
    for (i = 0; i < pixels; ++i)
        if (in[i] > 0.0) total += lost_of[i];
    free(lost_of);
    *lost = total;
    *reach = widest;
    return 0;
}

int nb_psf_radii(const float *in, int xpixels, int ypixels, int type, double fwhm_pixels, int user_radius, int limit,
                 int *radius, int *row_reach, double *lost, int *reach, long *bad)
{
    psf_work w;
    int status;
    *bad = -1;
    if (psf_work_init(&w, xpixels, ypixels, type, fwhm_pixels, user_radius) != 0) return -2;
    status = radii_pass(&w, in, xpixels, ypixels, limit, radius, row_reach, lost, reach, bad);
    psf_work_free(&w);
    return status;
}

/* the CUDA kernel's launch (nb_psf.cu) on the host: its per-pixel body over every output pixel */
void nb_psf_gather_host(const float *photons, const int *radius, const int *row_reach, const double *kernel,
                        int kernel_radius, int reach, int xpixels, int ypixels, double each, float *out)
{
    long pixels = (long)xpixels * ypixels, j;
#pragma omp parallel for schedule(static)
    for (j = 0; j < pixels; ++j)
        out[j] = nbp_gather_pixel(photons, radius, row_reach, kernel, kernel_radius, reach, xpixels, ypixels, each, j);
}

int nb_psf_apply(const float *in, float *out, int xpixels, int ypixels, int type, double fwhm_pixels,
                 int user_radius, int kernel_radius, double *lost, long *bad)
{
    long pixels = (long)xpixels * ypixels, i;
    int reach = 0, status;
    double total = 0.0, each;
    psf_work w;
    int *radius = malloc(sizeof(int) * (size_t)pixels);
    *bad = -1;
    if (radius == NULL || psf_work_init(&w, xpixels, ypixels, type, fwhm_pixels, user_radius) != 0) {
        free(radius);
        return -2;
    }
    if (grow_kernel(&w, kernel_radius) != 0) {
        free(radius); psf_work_free(&w);
        return -2;
    }
    status = radii_pass(&w, in, xpixels, ypixels, kernel_radius, radius, NULL, &total, &reach, bad);
    if (status != 0) {
        free(radius); psf_work_free(&w);
        return status;
    }
#pragma omp parallel
    {
        int threads = 1, me = 0, row0, row1, first, last, y0;
#ifdef _OPENMP
        threads = omp_get_num_threads();
        me = omp_get_thread_num();
#endif
        row0 = (int)((long)ypixels * me / threads);
        row1 = (int)((long)ypixels * (me + 1) / threads);
        /* the source rows that reach the band: a pixel reaches r rows up and r+1 down */
        first = row0 - reach - 1 < 0 ? 0 : row0 - reach - 1;
        last = row1 - 1 + reach > ypixels - 1 ? ypixels - 1 : row1 - 1 + reach;
        for (y0 = first; y0 <= last; ++y0) {
            int x0;
            for (x0 = 0; x0 < xpixels; ++x0) {
                long k = (long)y0 * xpixels + x0;
                if (in[k] > 0.0) spread_pixel(&w, in[k], radius[k], x0, y0, out, xpixels, row0, row1);
            }
        }
    }
    each = total / pixels;
#pragma omp parallel for schedule(static)
    for (i = 0; i < pixels; ++i) out[i] = (float)(out[i] + each);
    free(radius); psf_work_free(&w);
    *lost = total;
    return 0;
}

/* what the spreading of the noise image's rows has found so far */
typedef struct spread_tally {
    double counts;          /* the counts' sum, in pixel order */
    double lost;            /* the photons beyond the radii, in pixel order */
    int widest;             /* the largest radius */
    long first_bad;         /* the first pixel with no radius, or -1 */
} spread_tally;

/* spread row y0 of the drawn counts (row_radius: room for a row's radii); 0, or -2 out of memory */
static int spread_row(psf_work *w, const float *photons, float *out, int xpixels, int ypixels, int y0,
                      int *row_radius, spread_tally *tally)
{
    const float *value = photons + (long)y0 * xpixels;
    int x0, rmax = 0;
    for (x0 = 0; x0 < xpixels; ++x0) {
        int r;
        double lost_here;
        row_radius[x0] = 0;
        tally->counts += value[x0];
        if (!(value[x0] > 0.0)) continue;
        if (radius_of(w, value[x0], &r, &lost_here) != 0) {
            if (tally->first_bad < 0) tally->first_bad = (long)y0 * xpixels + x0;
            continue;
        }
        tally->lost += lost_here;
        row_radius[x0] = r;
        if (r > rmax) rmax = r;
    }
    if (rmax > tally->widest) tally->widest = rmax;
    if (rmax > w->kernel_radius) {
        int grown = 2 * w->kernel_radius > rmax ? 2 * w->kernel_radius : rmax;
        if (grown > w->maxwidth) grown = w->maxwidth;
        if (grow_kernel(w, grown) != 0) return -2;
    }
    for (x0 = 0; x0 < xpixels; ++x0)
        if (row_radius[x0] > 0) spread_pixel(w, value[x0], row_radius[x0], x0, y0, out, xpixels, 0, ypixels);
    return 0;
}

/* the consumer of nb_noise_psf on a second thread: spreads each row once the noise loop has
   drawn it */
static int spread_rows(psf_work *w, const float *photons, float *out, int xpixels, int ypixels,
                       const long *drawn, int *row_radius, spread_tally *tally)
{
    int y0;
    for (y0 = 0; y0 < ypixels; ++y0) {
        long need = (long)(y0 + 1) * xpixels;
        while (__atomic_load_n(drawn, __ATOMIC_ACQUIRE) < need) {
            /* the draws are slower than the spreading: wait a fraction of a row's draws */
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
        }
        if (spread_row(w, photons, out, xpixels, ypixels, y0, row_radius, tally) != 0) return -2;
    }
    return 0;
}

/* One thread: while every radius in reach is at most GATHER_RADIUS (noisify's automatic radius
   for a Gaussian of a fwhm near a pixel and any count), each output row is gathered, not
   scattered, as soon as the source rows that reach it are drawn: its value is computed once, in
   registers, as the sum of its terms in noisify's order (source pixels in order: source rows
   y-3..y+3, in each the columns x+3..x-3 that reach it), each added as the scatter adds it,
   out = (float)(out + (double)photons * weight).  A source pixel whose radius does not reach a
   term adds (+0 * weight) = +0 there instead of nothing: the same float, as every weight of the
   disk is positive (checked), so no sum is ever -0.  The columns within 3 of an edge (x == 0
   gathers from the row above too: x == xpixels is the next row's first pixel) go through
   nb_psf_gather.h's pixel.  The first source row with a larger radius turns the run to the
   scatter from its start (the output cleared, every source pixel drawn so far spread again). */
#define GATHER_RADIUS 3
#define GATHER_BLOCK_512 128                    /* output pixels a block: 16 chains of 8 lanes (AVX-512) */
#define GATHER_BLOCK_256 32                     /* 8 of 4 (AVX2: 16 registers) */
#define GATHER_RING 8                           /* rows of the classes kept (7 in use) */

typedef struct psf_rows {
    psf_work *w;
    const float *photons;
    float *out;
    int xpixels, ypixels;
    int *radius;                /* gather: the radii of source row y (0 for a pixel that spreads nothing)
                                   at rows y % 8 and y % 8 + 8 of 16: any 8 rows in a row, in order */
    int *row_reach;             /* each scanned source row's largest radius, 0 for none */
    double *ring;               /* gather: source row y's photons (as doubles, each widened once) where
                                   its radius reaches 1, 2 and 3, else 0: ring + ((y % 8) * 3 + class) * xpixels */
    double weight[7][7];        /* the kernel, [3 + dy][3 + dx] */
    int gather;                 /* 1 while output rows are gathered */
    int level;                  /* gather_level() */
    int scanned, gathered;      /* source rows scanned, output rows gathered */
    long column;                /* the next block of output row `gathered` (0: not begun) */
    const double *rows[7][3];    /* its source rows' classes (NULL: outside the image) */
    long next, ready;           /* scatter: the next source pixel, the pixels scanned */
    int status;
    spread_tally *tally;
} psf_rows;

/* the distance class of a term: 0 for dx^2 + dy^2 <= 1, 1 for <= 4, 2 for <= 9 */
#define GATHER_CLASS(dx, dy) ((dx) * (dx) + (dy) * (dy) <= 1 ? 0 : (dx) * (dx) + (dy) * (dy) <= 4 ? 1 : 2)

/* output pixels x..x+BLOCK-1 of a row from the 7 source rows at dy = 3..-3 (NULL: outside the
   image): BLOCK/LANES vectors of LANES doubles, independent chains (each term waits for the
   conversions of the one before), every term of the disk unrolled.  WIDEN(p): LANES
   doubles from p; NARROW_WIDEN(v): each lane to float and back; the lanes' arithmetic
   is the scalar's (no contraction: -ffp-contract=off). */
#define GATHER_BLOCK_BODY(BLOCK, VD, LANES, ZERO, SET1, ADD, MUL, WIDEN, NARROW_WIDEN, STORE)                    \
    {                                                                                                       \
        static const int half[7] = {0, 2, 2, 3, 2, 2, 0};                                                   \
        enum { GROUPS = (BLOCK) / (LANES) };                                                                \
        VD acc[GROUPS];                                                                                     \
        int i, g;                                                                                           \
        for (g = 0; g < GROUPS; ++g) acc[g] = ZERO;                                                         \
        _Pragma("GCC unroll 7")                                                                             \
        for (i = 0; i < 7; ++i) {                                                                           \
            const int dy = 3 - i, h = half[i];                                                              \
            int dx;                                                                                         \
            if (rows[i][0] == NULL) continue;                                                               \
            _Pragma("GCC unroll 7")                                                                         \
            for (dx = h; dx >= -h; --dx) {                                                                  \
                const double *p = rows[i][GATHER_CLASS(dx, dy)] + x - dx;                                    \
                const VD k = SET1(weight[3 + dy][3 + dx]);                                                  \
                _Pragma("GCC unroll 16")                                                                    \
                for (g = 0; g < GROUPS; ++g)                                                                \
                    acc[g] = NARROW_WIDEN(ADD(acc[g], MUL(WIDEN(p + (LANES) * g), k)));                     \
            }                                                                                               \
        }                                                                                                   \
        for (g = 0; g < GROUPS; ++g) STORE(out + x + (LANES) * g, acc[g]);                                  \
    }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
/* one block function per width: P the intrinsics' prefix (_mm512_, _mm256_) */
#define GATHER_BLOCK_FN(NAME, TARGET, BLOCK, VD, LANES, P)                                         \
    __attribute__((target(TARGET))) static void NAME(const double *const rows[7][3], const double weight[7][7], \
                                                     long x, float *out)                                    \
    GATHER_BLOCK_BODY(BLOCK, VD, LANES, P##setzero_pd(), P##set1_pd, P##add_pd, P##mul_pd, P##loadu_pd,     \
                      GATHER_NARROW_WIDEN_##LANES, GATHER_STORE_##LANES)
#define GATHER_NARROW_WIDEN_8(v) _mm512_cvtps_pd(_mm512_cvtpd_ps(v))
#define GATHER_STORE_8(p, v) _mm256_storeu_ps((p), _mm512_cvtpd_ps(v))
#define GATHER_NARROW_WIDEN_4(v) _mm256_cvtps_pd(_mm256_cvtpd_ps(v))
#define GATHER_STORE_4(p, v) _mm_storeu_ps((p), _mm256_cvtpd_ps(v))
GATHER_BLOCK_FN(gather_block512, "avx512f", GATHER_BLOCK_512, __m512d, 8, _mm512_)
GATHER_BLOCK_FN(gather_block256, "avx2", GATHER_BLOCK_256, __m256d, 4, _mm256_)

/* 512: AVX-512, 256: AVX2, 0: neither (the scatter serves) */
static int gather_level(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 512;
    if (__builtin_cpu_supports("avx2")) return 256;
    return 0;
}

static void gather_block(const double *const rows[7][3], const double weight[7][7], long x, float *out, int level)
{
    if (level == 512) gather_block512(rows, weight, x, out);
    else gather_block256(rows, weight, x, out);
}
#else
static int gather_level(void) { return 0; }
static void gather_block(const double *const rows[7][3], const double weight[7][7], long x, float *out, int level)
{
    (void)rows; (void)weight; (void)x; (void)out; (void)level;
}
#endif

/* the next step of output row s->gathered: a block of its columns (the last one overlapping the
   one before where the width asks: the same values again), then its edge columns */
static void gather_step(psf_rows *s)
{
    long xpixels = s->xpixels, y = s->gathered, block = s->level == 512 ? GATHER_BLOCK_512 : GATHER_BLOCK_256;
    long last = xpixels - GATHER_RADIUS - block, x, base, end;
    float *out = s->out + y * xpixels;
    if (s->column == 0) {
        int i, c;
        for (i = 0; i < 7; ++i) {
            long y0 = y - 3 + i;
            for (c = 0; c < 3; ++c)
                s->rows[i][c] = (y0 >= 0 && y0 < s->ypixels) ? s->ring + ((y0 % GATHER_RING) * 3 + c) * xpixels : NULL;
        }
        s->column = GATHER_RADIUS;
    }
    x = s->column < last ? s->column : last;
    gather_block((const double *const (*)[3])s->rows, s->weight, x, out, s->level);
    if (x < last) {
        s->column = x + block;
        return;
    }
    /* the edge columns from the window of the 8 source rows y-4..y+3 they gather from (clipped to
       the image): the pixel's own clipping is the same */
    base = y - GATHER_RADIUS - 1 > 0 ? y - GATHER_RADIUS - 1 : 0;
    end = y + GATHER_RADIUS + 1 < s->ypixels ? y + GATHER_RADIUS + 1 : s->ypixels;
    for (x = 0; x < xpixels; x = (x == GATHER_RADIUS - 1) ? xpixels - GATHER_RADIUS : x + 1)
        out[x] = nbp_gather_pixel(s->photons + base * xpixels, s->radius + (base % 8) * xpixels, s->row_reach + base,
                                  s->w->kernel_r, s->w->kernel_radius, GATHER_RADIUS, s->xpixels, (int)(end - base),
                                  0.0, (y - base) * xpixels + x);
    s->column = 0;
    s->gathered = (int)y + 1;
}

/* whether output row s->gathered has every source row it gathers from */
static int gather_ready(const psf_rows *s)
{
    return s->gathered < s->ypixels && (s->gathered + GATHER_RADIUS < s->scanned || s->scanned == s->ypixels);
}

/* whether the run may start gathering: an image wide enough for a block and a disk of radius 3
   whose weights are all positive */
static int gather_fits(psf_rows *s)
{
    int dx, dy;
    long size = 2L * s->w->kernel_radius + 1;
    s->level = gather_level();
    if (s->level == 512 && s->xpixels < GATHER_BLOCK_512 + 2 * GATHER_RADIUS) s->level = 256;
    if (s->level == 0 || s->xpixels < GATHER_BLOCK_256 + 2 * GATHER_RADIUS || s->w->kernel_radius < GATHER_RADIUS)
        return 0;
    for (dy = -3; dy <= 3; ++dy)
        for (dx = -3; dx <= 3; ++dx) {
            double k = s->w->kernel_r[(long)(s->w->kernel_radius + dy) * size + s->w->kernel_radius + dx];
            s->weight[3 + dy][3 + dx] = k;
            if (dx * dx + dy * dy <= 9 && !(k > 0.0 && k < 1e300)) return 0;
        }
    return 1;
}

/* source row y0 drawn: its radii, its tally, its classes for the gather; a radius beyond
   GATHER_RADIUS ends the gather */
static void scan_row(psf_rows *s, int y0)
{
    long xpixels = s->xpixels, row = (long)y0 * xpixels, x;
    const float *value = s->photons + row;
    int *radius = s->radius + (y0 % 8) * xpixels, rmax = 0;
    double *ring = s->ring + (long)((y0 % GATHER_RING) * 3) * xpixels;
    const psf_work *w = s->w;
    spread_tally *tally = s->tally;
    double counts = tally->counts, lost = tally->lost;      /* in registers: two chains in pixel order */
    for (x = 0; x < xpixels; ++x) {
        float v = value[x];
        int r = 0, r_slow;
        double lost_here;
        counts += v;
        if (v >= 0.0f && v < (float)WHOLE_VALUES && v == (float)(int)v && w->whole_ok[(int)v]) {
            /* a whole count (0 included: radius 0, +0 lost photons, which change no sum) */
            r = w->whole_radius[(int)v];
            lost += w->whole_lost[(int)v];
        } else if (v > 0.0f) {
            if (radius_of(w, v, &r_slow, &lost_here) != 0) {
                if (tally->first_bad < 0) tally->first_bad = row + x;
            } else {
                r = r_slow;
                lost += lost_here;
            }
        }
        rmax = r > rmax ? r : rmax;
        radius[x] = r;
    }
    /* the second copy and the classes, apart: vector loops without branches */
    memcpy(radius + 8 * xpixels, radius, sizeof(int) * (size_t)xpixels);
    for (x = 0; s->gather && x < xpixels; ++x) {
        double v = value[x];
        int r = radius[x];
        ring[x] = r >= 1 ? v : 0.0;
        ring[xpixels + x] = r >= 2 ? v : 0.0;
        ring[2 * xpixels + x] = r >= 3 ? v : 0.0;
    }
    tally->counts = counts;
    tally->lost = lost;
    s->row_reach[y0] = rmax;
    if (rmax > tally->widest) tally->widest = rmax;
    s->scanned = y0 + 1;
    if (rmax > s->w->kernel_radius) {
        int grown = 2 * s->w->kernel_radius > rmax ? 2 * s->w->kernel_radius : rmax;
        if (grown > s->w->maxwidth) grown = s->w->maxwidth;
        if (grow_kernel(s->w, grown) != 0) s->status = -2;
    }
    if (s->gather && rmax > GATHER_RADIUS) {
        /* to the scatter: every source pixel again from the first */
        s->gather = 0;
        s->next = 0;
        memset(s->out, 0, sizeof(float) * (size_t)s->xpixels * (size_t)s->ypixels);
    }
    /* the output rows whose every source row is scanned */
    while (s->gather && gather_ready(s)) gather_step(s);
}

/* the scatter's next source pixel (its row scanned, the kernel grown to its radius) */
static void scatter_next(psf_rows *s)
{
    long k = s->next++;
    float value = s->photons[k];
    int r = 0;
    double lost_here;
    if (value > 0.0 && radius_of(s->w, value, &r, &lost_here) == 0 && r > 0) spread_pixel(s->w, s->photons[k], r, (int)(k % s->xpixels), (int)(k / s->xpixels), s->out, s->xpixels,
                            0, s->ypixels);
}

static void scatter_beside(void *context)
{
    psf_rows *s = context;
    if (s->next < s->ready && s->status == 0) scatter_next(s);
}

int nb_noise_psf(nb_rng *r, const float *expected, float *photons, float *out, int xpixels, int ypixels, double flicker,
                 double calibration, long *seed, long *calib_seed, int type, double fwhm_pixels,
                 int user_radius, double *noise_sum, double *lost, int *reach, long *bad, double gain, double adc,
                 int bits, unsigned short *out16, unsigned int *out32, int *overloads, double *image_sum)
{
    long pixels = (long)xpixels * ypixels, drawn = 0, i;
    double sum = 0.0, each;
    int status = 0, team = 1, over = 0;
    spread_tally tally = {0.0, 0.0, 0, -1};
    psf_work w;
    int *row_radius = malloc(sizeof(int) * (size_t)(xpixels > 0 ? xpixels : 1));
    *bad = -1;
    *reach = 0;
    *lost = 0.0;
    if (row_radius == NULL || psf_work_init(&w, xpixels, ypixels, type, fwhm_pixels, user_radius) != 0) {
        free(row_radius);
        return -2;
    }
    if (grow_kernel(&w, 4 < w.maxwidth ? 4 : w.maxwidth) != 0) {
        psf_work_free(&w);
        free(row_radius);
        return -2;
    }
#ifdef _OPENMP
    team = omp_get_max_threads() > 1 ? 2 : 1;
#endif
    if (team == 1) {
        /* one thread: each row scanned as soon as it is drawn, the output rows gathered as soon
           as their source rows are (or the pixels scattered one by one between the draws, in
           the issue slots the draws leave: nb_side_work.h) */
        psf_rows s;
        int y;
        memset(&s, 0, sizeof s);
        s.w = &w;
        s.photons = photons;
        s.out = out;
        s.xpixels = xpixels;
        s.ypixels = ypixels;
        s.tally = &tally;
        s.radius = malloc(sizeof(int) * 16 * (size_t)(xpixels ? xpixels : 1));
        s.row_reach = malloc(sizeof(int) * (size_t)(ypixels ? ypixels : 1));
        s.ring = malloc(sizeof(double) * (size_t)GATHER_RING * 3 * (size_t)(xpixels ? xpixels : 1));
        if (s.radius == NULL || s.row_reach == NULL || s.ring == NULL) s.status = -2;
        s.gather = s.status == 0 && gather_fits(&s);
        for (y = 0; y < ypixels; ++y) {
            long row = (long)y * xpixels;
            s.ready = row;
            nb_noise_photons_beside(r, expected + row, photons + row, xpixels, flicker, calibration, seed, calib_seed,
                                    s.gather || s.status != 0 ? NULL : scatter_beside, &s);
            if (s.status == 0) scan_row(&s, y);
        }
        s.ready = pixels;
        while (s.gather && s.status == 0 && gather_ready(&s)) gather_step(&s);
        while (!s.gather && s.status == 0 && s.next < pixels) scatter_next(&s);
        status = s.status;
        free(s.radius);
        free(s.row_reach);
        free(s.ring);
    } else {
#pragma omp parallel num_threads(team)
        {
            int threads = 1, me = 0;
#ifdef _OPENMP
            threads = omp_get_num_threads();
            me = omp_get_thread_num();
#endif
            if (me == 0) {
                int y;
                for (y = 0; y < ypixels; ++y) {
                    long row = (long)y * xpixels;
                    nb_noise_photons(r, expected + row, photons + row, xpixels, flicker, calibration, seed,
                                     calib_seed);
                    __atomic_store_n(&drawn, (long)(y + 1) * xpixels, __ATOMIC_RELEASE);
                }
            }
            if (me == threads - 1)        /* the second thread, or the only one after its draws */
                status = spread_rows(&w, photons, out, xpixels, ypixels, &drawn, row_radius, &tally);
        }
    }
    if (status == 0 && tally.first_bad >= 0) status = -1;
    *lost = tally.lost;
    *reach = tally.widest;
    *bad = tally.first_bad;
    psf_work_free(&w);
    free(row_radius);
    *noise_sum = tally.counts;
    if (status != 0) return status;
    each = *lost / pixels;
    if (out16 == NULL) {
        for (i = 0; i < pixels; ++i) out[i] = (float)(out[i] + each);
        return 0;
    }
    /* the lost photons back, the image's sum (one chain in pixel order) and its words in one
       pass: the sum's latency hides the conversions */
    for (i = 0; i < pixels; ++i) {
        out[i] = (float)(out[i] + each);
        sum += out[i];
        over += noisy_words(out[i] * gain + adc, bits, out16 + i, out32 + i);
    }
    *image_sum = sum;
    *overloads = over;
    return 0;
}

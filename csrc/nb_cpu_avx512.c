/* nb_cpu_avx512.c -- the double-precision row renderer (nb_lanes.h) for x86-64-v4 CPUs
   (AVX-512): 8-wide vectors, and glibc's AVX-512 vector sin, cos and exp when the build found
   libmvec.  Never called on a CPU without AVX-512 (nb_cpu_level). */
#include "nb_problem.h"
#include "nb_engine.h"
#include "nb_rows.h"

#if NB_HAVE_CPU_LEVELS
#pragma GCC target("arch=x86-64-v4,prefer-vector-width=512")
#include <math.h>
#include <immintrin.h>
#include "nb_physics.h"

#if defined(NB_HAVE_LIBMVEC) && NB_HAVE_LIBMVEC
__m512d _ZGVeN8v_sin(__m512d x);
__m512d _ZGVeN8v_cos(__m512d x);
__m512d _ZGVeN8v_exp(__m512d x);
#define NB_VECTOR_FN(name, mvec)                                      \
    static inline void name(const double *x, double *y)               \
    {                                                                 \
        _mm512_storeu_pd(y, mvec(_mm512_loadu_pd(x)));                \
    }
NB_VECTOR_FN(nb_vector_sin, _ZGVeN8v_sin)
NB_VECTOR_FN(nb_vector_cos, _ZGVeN8v_cos)
NB_VECTOR_FN(nb_vector_exp, _ZGVeN8v_exp)
#define NB_VECTOR_MATH 1
#else
#define NB_VECTOR_MATH 0
#endif

#define NB_ROW_NAME nb_row_avx512
#define NB_WITH_LANES 1
#include "nb_lanes.h"
#else
typedef int nb_cpu_avx512_not_built;   /* not an x86-64 GCC build: nb_cpu_level never picks it */
#endif

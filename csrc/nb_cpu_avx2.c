/* nb_cpu_avx2.c -- the double-precision row renderer (nb_lanes.h) for x86-64-v3 CPUs (AVX2):
   4-wide vectors, one-instruction ceil, and glibc's AVX2 vector sin, cos and exp when the
   build found libmvec.  Never called on a CPU without AVX2 (nb_cpu_level). */
#include "nb_problem.h"
#include "nb_engine.h"
#include "nb_rows.h"

#if NB_HAVE_CPU_LEVELS
#pragma GCC target("arch=x86-64-v3")
#include <math.h>
#include <immintrin.h>
#include "nb_physics.h"

#if defined(NB_HAVE_LIBMVEC) && NB_HAVE_LIBMVEC
__m256d _ZGVdN4v_sin(__m256d x);
__m256d _ZGVdN4v_cos(__m256d x);
__m256d _ZGVdN4v_exp(__m256d x);
#define NB_VECTOR_FN(name, mvec)                                      \
    static inline void name(const double *x, double *y)               \
    {                                                                 \
        _mm256_storeu_pd(y, mvec(_mm256_loadu_pd(x)));                \
        _mm256_storeu_pd(y + 4, mvec(_mm256_loadu_pd(x + 4)));        \
    }
NB_VECTOR_FN(nb_vector_sin, _ZGVdN4v_sin)
NB_VECTOR_FN(nb_vector_cos, _ZGVdN4v_cos)
NB_VECTOR_FN(nb_vector_exp, _ZGVdN4v_exp)
#define NB_VECTOR_MATH 1
#else
#define NB_VECTOR_MATH 0
#endif

#define NB_ROW_NAME nb_row_avx2
#define NB_WITH_LANES 1
#include "nb_lanes.h"
#else
typedef int nb_cpu_avx2_not_built;     /* not an x86-64 GCC build: nb_cpu_level never picks it */
#endif

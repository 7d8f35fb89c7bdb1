/* nb_cpu_base.c -- the double-precision row renderer (nb_lanes.h) for any CPU the compiler
   targets by default, with the C library's sin, cos and exp. */
#include <math.h>

#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_engine.h"
#include "nb_rows.h"

#define NB_ROW_NAME nb_row_base
#define NB_WITH_LANES 1
#define NB_VECTOR_MATH 0
#include "nb_lanes.h"

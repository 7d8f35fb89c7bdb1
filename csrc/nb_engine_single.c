/* nb_engine_single.c -- the C engine in single precision: nb_physics.h built with NB_SINGLE (and
   so the GPU's arithmetic), each pixel through nb_pixel (no lanes).  It is what the CUDA engine
   computes in its fast mode, so the accuracy of that mode is tested on any machine
   (tests/test_precision.py).  The parallel driver, nb_render_image, is shared (nb_engine.c picks
   nb_row_single); the kernel's host emulation in single precision is here too. */
#define NB_SINGLE 1
#include <math.h>
#include <string.h>

#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_tile.h"
#include "nb_engine.h"
#include "nb_rows.h"

#define NB_ROW_NAME nb_row_single
#define NB_WITH_LANES 0
#include "nb_lanes.h"

#define NB_TRACE_NAME nb_trace_pixel_single
#define NB_TILE_NAME nb_render_tile_single
#include "nb_entries.h"

/* nb_engine_single.c -- the C engine in single precision: nb_engine.c built again with NB_SINGLE,
   its entry points suffixed "_single".  It is what the CUDA engine computes in its fast mode,
   so the accuracy of that mode is tested on any machine (tests/test_precision.py). */
#define NB_SINGLE 1
#define NB_ENGINE_NAME(name) name##_single
#include "nb_engine.c"

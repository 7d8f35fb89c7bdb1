/* nb_kernel_host.c -- the CUDA kernel's per-pixel body (nb_tile.h) in double precision run on the
   host, with the GPU's arithmetic (NB_KERNEL_ARITHMETIC): the CUDA engine's orchestration is
   tested against it on machines without a GPU (nbgpu/engine/cuda_devices.py, HostDevice), and the CUDA
   engine traces pixels with it, so traces show what the GPU computed. */
#define NB_KERNEL_ARITHMETIC 1
#include <math.h>
#include <string.h>

#include "nb_problem.h"
#include "nb_physics.h"
#include "nb_tile.h"
#include "nb_engine.h"

#define NB_TRACE_NAME nb_trace_pixel_kernel
#define NB_TILE_NAME nb_render_tile
#include "nb_entries.h"

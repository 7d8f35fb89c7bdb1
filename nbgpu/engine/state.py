"""The render state an engine keeps up to date while it renders (nb_render_state, csrc/nb_engine.h):
the pixels done, a cancel flag, where interpolation switched off, the solid angle summed."""
from nbgpu._nbcore import ffi, lib


def new_render_state(interpolate: int, single: bool = False, vector_math: bool = True, cpu: int = -1):
    state = ffi.new("nb_render_state *")
    state.single, state.interpolate, state.cpu = int(single), int(interpolate), cpu
    state.math = lib.NB_MATH_VECTOR if vector_math else lib.NB_MATH_LIBM
    state.first_pixel = state.off_pixel = -1
    return state

"""The C engine (csrc/, OpenMP, through cffi): renders rows of a Problem and traces pixels."""
import numpy as np

from ._nbcore import ffi, lib
from .errors import EngineError

STATUS = {lib.NB_BAD_ARGUMENT: "bad argument", lib.NB_NO_MEMORY: "out of memory"}


class CEngine:
    """csrc/ through cffi; precision "single" runs the NB_SINGLE build of the same physics."""
    name = "c"

    def __init__(self, precision="double"):
        self.precision = precision
        single = precision == "single"
        self._render = lib.nb_render_rows_single if single else lib.nb_render_rows
        self._trace = lib.nb_trace_pixel_single if single else lib.nb_trace_pixel

    def describe(self) -> str:
        threads = lib.nb_openmp_threads()
        where = f"{threads} OpenMP threads" if threads else "built without OpenMP: 1 thread"
        return f"the C engine ({where}, {self.precision} precision)"

    def render_rows(self, problem, row0, row1, image, omega_rows, run_state):
        status = self._render(problem.struct, row0, row1, ffi.from_buffer("float[]", image),
                              ffi.from_buffer("double[]", omega_rows), run_state)
        if status != lib.NB_OK:
            raise EngineError(f"C engine failed: {STATUS.get(status, status)}")

    def profile(self) -> dict:
        return {"threads": lib.nb_openmp_threads() or 1}

    def trace(self, problem, fpixel, spixel, first_sweep, interpolate):
        """Recompute one pixel from the state it was rendered with; returns the nb_trace."""
        return self.trace_with_state(problem, fpixel, spixel, first_sweep, interpolate)[0]

    def trace_with_state(self, problem, fpixel, spixel, first_sweep, interpolate):
        """(nb_trace, nb_pixel_state after the pixel): the state says whether and where it
        switched interpolation off."""
        state = ffi.new("nb_pixel_state *")
        state.first_sweep, state.interpolate = first_sweep, interpolate
        trace = ffi.new("nb_trace *")
        if self._trace(problem.struct, fpixel, spixel, state, trace) != lib.NB_OK:
            raise EngineError(f"cannot trace pixel {fpixel} {spixel}: outside the detector")
        return trace, state


def new_run_state(interpolate: int):
    state = ffi.new("nb_run_state *")
    state.first_sweep, state.interpolate = 1, interpolate
    state.first_pixel = state.off_pixel = -1
    return state


def image_stats(problem, image: np.ndarray):
    stats = ffi.new("nb_stats *")
    lib.nb_image_stats(problem.struct, ffi.from_buffer("float[]", image), stats)
    return stats


def int_image(problem, image, scale, adc) -> np.ndarray:
    out = np.zeros(image.shape, dtype=np.uint16)
    lib.nb_int_image(problem.struct, ffi.from_buffer("float[]", image), scale, adc,
                     ffi.from_buffer("unsigned short[]", out))
    return out


def pgm_image(problem, image, scale) -> np.ndarray:
    out = np.zeros(image.shape, dtype=np.uint8)
    lib.nb_pgm_image(problem.struct, ffi.from_buffer("float[]", image), scale,
                     ffi.from_buffer("unsigned char[]", out))
    return out

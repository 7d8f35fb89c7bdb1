"""The C engine (csrc/, OpenMP, through cffi): renders a Problem's image and traces pixels."""
import os

from nbgpu._nbcore import lib
from nbgpu.base.errors import EngineError
from nbgpu.engine.protocol import Engine

STATUS = {lib.NB_BAD_ARGUMENT: "bad argument", lib.NB_NO_MEMORY: "out of memory"}
CPU_LEVELS = {"base": lib.NB_CPU_BASE, "avx2": lib.NB_CPU_AVX2, "avx512": lib.NB_CPU_AVX512}
CPU_NAMES = {level: name for name, level in CPU_LEVELS.items()}


def cpu_limit() -> int:
    """NBGPU_CPU=base|avx2|avx512 caps the CPU code path (for tests and comparisons); -1: the best."""
    name = os.environ.get("NBGPU_CPU", "")
    if not name:
        return -1
    if name not in CPU_LEVELS:
        raise EngineError(f"NBGPU_CPU={name}: expected one of {', '.join(CPU_LEVELS)}")
    return CPU_LEVELS[name]


class CEngine(Engine):
    """csrc/ through cffi.  precision "single" runs the NB_SINGLE build of the same physics;
    vector_math=False (-libm) takes every sin, cos and exp from the C library, as nanoBragg."""
    name = "c"

    def __init__(self, precision="double", vector_math=True):
        self.precision = precision
        self.cpu = cpu_limit()
        self.cpu_level = lib.nb_cpu_level() if self.cpu < 0 else min(self.cpu, lib.nb_cpu_level())
        if precision == "single":             # plain nb_pixel calls (nb_engine_single.c)
            self.cpu_level = lib.NB_CPU_BASE
        # libmvec is called by the AVX2 and AVX-512 code paths only
        self.vector_math = (vector_math and precision == "double" and bool(lib.nb_vector_math_built())
                            and self.cpu_level >= lib.NB_CPU_AVX2)
        self.tracer = lib.nb_trace_pixel_single if precision == "single" else lib.nb_trace_pixel

    @staticmethod
    def threads() -> int:
        """The OpenMP threads a render uses."""
        return lib.nb_openmp_threads() or 1

    def cpu_path(self) -> str:
        return CPU_NAMES[self.cpu_level]

    def describe(self) -> str:
        threads = lib.nb_openmp_threads()
        where = f"{threads} OpenMP threads" if threads else "built without OpenMP: 1 thread"
        math = "vector math" if self.vector_math else "libm"
        return f"the C engine ({where}, {self.precision} precision, {self.cpu_path()}, {math})"

    def render_image(self, problem, pixels, state):
        """Every pixel of the detector into `pixels` (a float buffer), in one call."""
        status = lib.nb_render_image(problem.struct, pixels, state)
        if status != lib.NB_OK:
            raise EngineError(f"C engine failed: {STATUS.get(status, status)}")

    def profile(self) -> dict:
        return {"threads": self.threads(), "cpu_path": self.cpu_path(),
                "vector_math": self.vector_math}

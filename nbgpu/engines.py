"""Which engine renders: -backend auto|cuda|c (or NBGPU_BACKEND), -precision double|single.

Like pyFAI's method registry, "auto" degrades from CUDA to C and says so once, with the reason;
asking for "cuda" where it cannot run is an error.  CuPy is imported only here, only when the
CUDA engine is wanted or being probed.
"""
import os

from .engine_c import CEngine
from .errors import EngineError

BACKENDS = ("auto", "cuda", "c")            # -backend (the flag table takes its choices from here)
PRECISIONS = ("double", "single")          # -precision


def cuda_unavailable() -> str:
    """Why the CUDA engine cannot run here ("" when it can)."""
    try:
        import cupy
    except Exception as exc:            # ImportError, or a CuPy that cannot load its CUDA libraries
        return f"CuPy is not installed ({type(exc).__name__}: {exc})" if not isinstance(exc, ImportError) \
            else "CuPy is not installed"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"no CUDA device ({exc})"
    return "" if count > 0 else "no CUDA device"


def select_engine(backend: str, precision: str, note, vector_math: bool = True, problem=None, interpolate=0,
                  kept=None):
    """The engine for this run; `note` receives one line saying which, and why, for "auto".
    vector_math=False (-libm, or NBGPU_LIBM=1) keeps the C engine on the C library's math.
    With a problem, the CUDA engine builds its kernel and uploads the tables here, so that a
    failure (no NVRTC, no memory) is still a fallback to the C engine for "auto".  `kept`: the
    engine an earlier run of this process chose for the same flags, used again, and prepared
    for this problem like a new one (so its failures fall back the same way)."""
    backend = backend or os.environ.get("NBGPU_BACKEND", "") or "auto"
    if backend not in BACKENDS:
        raise EngineError(f"NBGPU_BACKEND={backend}: expected one of {', '.join(BACKENDS)}")
    vector_math = vector_math and os.environ.get("NBGPU_LIBM", "") in ("", "0")
    if kept is not None and kept.name == "c":
        return kept
    if backend == "c":
        return CEngine(precision, vector_math)
    engine = kept
    reason = "" if kept is not None else cuda_unavailable()
    if not reason:
        try:
            if engine is None:
                from .engine_cuda import CudaEngine
                engine = CudaEngine(precision)
            if problem is not None:
                engine.prepare(problem, interpolate)
        except EngineError as exc:
            reason = str(exc)
    if reason and backend == "cuda":
        raise EngineError(f"-backend cuda: the CUDA engine cannot run here: {reason}")
    if reason:
        engine = CEngine(precision, vector_math)
        note(f"rendering with {engine.describe()}: {reason}")
        return engine
    if backend == "auto" and kept is None:
        note(f"rendering with {engine.describe()}")
    return engine

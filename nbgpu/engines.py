"""Which engine renders: -backend auto|cuda|c (or NBGPU_BACKEND), -precision double|single.

Like pyFAI's method registry, "auto" degrades from CUDA to C and says so once, with the reason;
asking for "cuda" where it cannot run is an error.  CuPy is imported only here, only when the
CUDA engine is wanted or being probed.
"""
import os

from .engine_c import CEngine
from .errors import EngineError

BACKENDS = ("auto", "cuda", "c")


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


def select_engine(backend: str, precision: str, note, vector_math: bool = True):
    """The engine for this run; `note` receives one line saying which, and why, for "auto".
    vector_math=False (-libm, or NBGPU_LIBM=1) keeps the C engine on the C library's math."""
    backend = backend or os.environ.get("NBGPU_BACKEND", "") or "auto"
    if backend not in BACKENDS:
        raise EngineError(f"NBGPU_BACKEND={backend}: expected one of {', '.join(BACKENDS)}")
    vector_math = vector_math and os.environ.get("NBGPU_LIBM", "") in ("", "0")
    if backend == "c":
        return CEngine(precision, vector_math)
    reason = cuda_unavailable()
    if backend == "cuda":
        if reason:
            raise EngineError(f"-backend cuda: the CUDA engine cannot run here: {reason}")
        from .engine_cuda import CudaEngine
        return CudaEngine(precision)
    if reason:
        engine = CEngine(precision, vector_math)
        note(f"rendering with {engine.describe()}: {reason}")
        return engine
    from .engine_cuda import CudaEngine
    engine = CudaEngine(precision)
    note(f"rendering with {engine.describe()}")
    return engine

"""Which engine renders: -backend auto|cuda|c (or NBGPU_BACKEND), -precision double|single.

Like pyFAI's method registry, "auto" degrades from CUDA to C and says so once, with the reason;
asking for "cuda" where it cannot run is an error.  CuPy is imported only here, only when the
CUDA engine is wanted or being probed.

"auto" also weighs the work: starting CuPy and a CUDA context costs a process 1-3 s, more than
the C engine needs for a small image, so a single run that the C engine would finish in under
NBGPU_AUTO_GPU_SECONDS (default 1 s, estimated from its evaluations and threads) renders on
the CPU.  Runs that share an engine (a batch, a Simulator) pay the start-up once and skip the rule.
"""
import importlib.util
import os

from nbgpu.base.choices import BACKENDS
from nbgpu.engine.c import CEngine
from nbgpu.base.errors import EngineError

AUTO_GPU_SECONDS = 1.0                     # NBGPU_AUTO_GPU_SECONDS: shorter C renders stay on the CPU
# evaluations (sub-pixel x source x phi x domain x layer) a second per OpenMP thread of the C
# engine, measured on the bench cases (2-4e7: vector code, double; fewer with interpolation):
# the low end, so that a job is called small only when it surely is
C_EVALUATIONS_PER_THREAD_SECOND = 2e7


def cupy_installed() -> bool:
    """Whether CuPy is there, without importing it (which takes a while)."""
    return importlib.util.find_spec("cupy") is not None


def cuda_unavailable() -> str:
    """Why the CUDA engine cannot run here ("" when it can)."""
    if not cupy_installed():
        return "CuPy is not installed"
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


def auto_gpu_seconds() -> float:
    """NBGPU_AUTO_GPU_SECONDS, checked: the C engine's estimated time under which "auto" keeps a
    single run on the CPU (0: always the GPU when there is one)."""
    text = os.environ.get("NBGPU_AUTO_GPU_SECONDS", "")
    if not text:
        return AUTO_GPU_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise EngineError(f"NBGPU_AUTO_GPU_SECONDS={text}: expected a number of seconds >= 0")
    return seconds


def small_job(work, limit: float) -> str:
    """Why a single run of `work` evaluations stays on the CPU under "auto" ("" when it does not):
    the C engine would be done in under `limit` seconds, before the GPU had started."""
    if work is None or limit == 0:
        return ""
    seconds = work / (C_EVALUATIONS_PER_THREAD_SECOND * CEngine.threads())
    if seconds >= limit:
        return ""
    return (f"a small job ({work:.3g} evaluations, about {seconds:.2g} s here, less than the GPU's start-up; "
            f"NBGPU_AUTO_GPU_SECONDS={limit:g} is the limit)")


def chosen_backend(backend: str) -> str:
    """-backend's word, else NBGPU_BACKEND, else "auto"; checked (every program's engines)."""
    backend = backend or os.environ.get("NBGPU_BACKEND", "") or "auto"
    if backend not in BACKENDS:
        raise EngineError(f"NBGPU_BACKEND={backend}: expected one of {', '.join(BACKENDS)}")
    return backend


def gpu_engine(backend: str, reason: str, build):
    """(the CUDA engine build() makes and prepares, "") when `reason` (why it cannot run) is "";
    else, or when build() raises an EngineError, (None, why); with -backend cuda that is an
    error instead.  The one rule of "auto" and "cuda" for every program's engines."""
    engine = None
    if not reason:
        try:
            engine = build()
        except EngineError as exc:
            reason = str(exc)
    if reason and backend == "cuda":
        raise EngineError(f"-backend cuda: the CUDA engine cannot run here: {reason}")
    return (None, reason) if reason else (engine, "")


def select_engine(backend: str, precision: str, note, vector_math: bool = True, problem=None, interpolate=0,
                  kept=None, work=None):
    """The engine for this run; `note` receives one line saying which, and why, for "auto".
    vector_math=False (-libm, or NBGPU_LIBM=1) keeps the C engine on the C library's math.
    With a problem, the CUDA engine builds its kernel and uploads the tables here, so that a
    failure (no NVRTC, no memory) is still a fallback to the C engine for "auto".  `kept`: the
    engine an earlier run of this process chose for the same flags, used again, and prepared
    for this problem like a new one (so its failures fall back the same way).  `work`: the
    evaluations of a run that has the process to itself (None when runs share the engine), for
    the small-job rule of "auto"."""
    backend = chosen_backend(backend)
    vector_math = vector_math and os.environ.get("NBGPU_LIBM", "") in ("", "0")
    if backend == "c":
        return kept or CEngine(precision, vector_math)
    reason = ""
    if kept is None:        # a small job is told before CuPy is imported: that is the start-up saved
        limit = auto_gpu_seconds() if backend == "auto" else 0.0
        reason = (cupy_installed() and small_job(work, limit)) or cuda_unavailable()

    def build():
        engine = kept
        if engine is None:
            from nbgpu.engine.cuda import CudaEngine
            engine = CudaEngine(precision)
        if problem is not None:
            engine.prepare(problem, interpolate)
        return engine
    engine, reason = gpu_engine(backend, reason, build)
    if reason:
        engine = CEngine(precision, vector_math)
        note(f"rendering with {engine.describe()}: {reason}")
        return engine
    if backend == "auto" and kept is None:
        note(f"rendering with {engine.describe()}")
    return engine

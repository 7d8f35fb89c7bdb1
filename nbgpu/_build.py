"""cffi build script for the C engine (setup.py's cffi_modules points here).

The C headers in csrc/ are plain declarations, so they serve as the cdef unchanged: the struct
layout Python fills is the one the compiler sees.  OpenMP is used when the compiler has it;
without it the engine still builds, single-threaded, with a warning.
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path

from cffi import FFI

CSRC = Path(__file__).resolve().parent.parent / "csrc"
CDEF_HEADERS = ["nb_problem.h", "nb_engine.h", "nb_rng.h", "nb_image.h"]
SOURCES = ["nb_engine.c", "nb_engine_single.c", "nb_rng.c", "nb_image.c"]
# bit parity with nanoBragg: IEEE double, no fused multiply-add, no fast-math; Python adds -fwrapv
# to extension builds, which costs the inner loop ~5%, so it is undone
PARITY_FLAGS = ["-O3", "-fno-wrapv", "-fno-plt", "-fno-semantic-interposition", "-ffp-contract=off", "-fno-fast-math", "-std=c99"]


def openmp_flags():
    """Compiler and linker flags for OpenMP, or None when the compiler lacks it."""
    if os.environ.get("NBGPU_NO_OPENMP"):
        return None
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    if not shutil.which(cc[0]):
        return None
    probe = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "probe.c")
        src.write_text(probe)
        result = subprocess.run(cc + ["-fopenmp", str(src), "-o", str(Path(tmp, "probe"))],
                                capture_output=True)
    return ["-fopenmp"] if result.returncode == 0 else None


def make_ffibuilder(module="nbgpu._nbcore", openmp=True, absolute_paths=False, sanitize=None):
    """The cffi builder of the C engine (openmp=False forces a single-threaded build).

    setuptools wants source paths relative to the checkout; ffi.compile() runs elsewhere and
    needs absolute ones.  sanitize (or NBGPU_SANITIZE), e.g. "address,undefined": build with
    those sanitizers, stopping at the first finding (run Python with them in LD_PRELOAD).
    """
    sanitize = sanitize if sanitize is not None else os.environ.get("NBGPU_SANITIZE", "")
    checks = [f"-fsanitize={sanitize}", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"] \
        if sanitize else []
    ffi = FFI()
    ffi.cdef("\n".join((CSRC / name).read_text() for name in CDEF_HEADERS))
    omp = openmp_flags() if openmp else None
    if omp is None:
        warnings.warn("nbgpu: the C compiler has no OpenMP; the C engine will run single-threaded")
        print("WARNING: building the nbgpu C engine without OpenMP (single-threaded)", file=sys.stderr)
    ffi.set_source(
        module,
        "\n".join(f'#include "{name}"' for name in CDEF_HEADERS),
        sources=[str(CSRC / name) if absolute_paths else os.path.relpath(CSRC / name) for name in SOURCES],
        include_dirs=[str(CSRC)],
        extra_compile_args=PARITY_FLAGS + (omp or []) + checks,
        extra_link_args=(omp or []) + checks,
        libraries=["m"],
    )
    return ffi


ffibuilder = make_ffibuilder()

if __name__ == "__main__":    # build in place, for development: python nbgpu/_build.py
    with tempfile.TemporaryDirectory() as build:
        library = make_ffibuilder(absolute_paths=True).compile(tmpdir=build, verbose=True)
        shutil.copy(library, CSRC.parent / "nbgpu")

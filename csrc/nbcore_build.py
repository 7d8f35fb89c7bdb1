"""cffi build script of the C engine, nbgpu._nbcore (setup.py's cffi_modules points here).

It lives outside the package: it is needed to build, not to run.  The headers it declares are
plain declarations, so they serve as the cdef unchanged: the struct layout Python fills is the
one the compiler sees.  The headers the CUDA kernel shares (nb_problem.h, nb_physics.h,
nb_tile.h) are package data in nbgpu/engine/kernels/, their one home; the rest of the C sources are
here in csrc/.  OpenMP is used when the compiler has it; without it the engine still builds,
single-threaded, with a warning.
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

CSRC = Path(__file__).resolve().parent
KERNELS = CSRC.parent / "nbgpu" / "engine" / "kernels"      # the headers shared with the CUDA kernel
CDEF_HEADERS = [KERNELS / "nb_problem.h"] + [CSRC / name for name in ("nb_engine.h", "nb_rng.h", "nb_image.h",
                                                                       "nb_hkl.h", "nb_noise.h")] + \
    [KERNELS / "nb_amorphous_problem.h", CSRC / "nb_amorphous.h", CSRC / "nb_text.h"]
SOURCES = ["nb_engine.c", "nb_engine_single.c", "nb_kernel_host.c", "nb_cpu_base.c", "nb_cpu_avx2.c",
           "nb_cpu_avx512.c", "nb_rng.c", "nb_image.c", "nb_hkl.c", "nb_noise.c", "nb_psf.c", "nb_amorphous.c",
           "nb_amorphous_image.c", "nb_text.c"]
# bit parity with nanoBragg: IEEE double, no fused multiply-add, no fast-math.  Neither
# -fno-trapping-math nor -fno-math-errno changes a value (only FP exception flags and errno,
# which nothing reads); they let the compiler turn the lane loops (nb_lanes.h) into vector
# code.  Python adds -fwrapv to extension builds, which costs the inner loop ~5%: undone.
PARITY_FLAGS = ["-O3", "-fno-wrapv", "-fno-plt", "-fno-semantic-interposition", "-ffp-contract=off",
                "-fno-fast-math", "-fno-trapping-math", "-fno-math-errno", "-std=gnu99"]


def compiles(source: str, flags) -> bool:
    """Whether the C compiler builds and links `source` with these flags."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()
    if not shutil.which(cc[0]):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "probe.c")
        src.write_text(source)
        result = subprocess.run(cc + [str(src), "-o", str(Path(tmp, "probe"))] + list(flags), capture_output=True)
    return result.returncode == 0


def openmp_flags():
    """Compiler and linker flags for OpenMP, or None when the compiler lacks it."""
    if os.environ.get("NBGPU_NO_OPENMP"):
        return None
    probe = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    return ["-fopenmp"] if compiles(probe, ["-fopenmp"]) else None


def simd_flags():
    """Without OpenMP, its simd directives alone (they mark the lane loops of nb_lanes.h)."""
    return ["-fopenmp-simd"] if compiles("int main(void){return 0;}\n", ["-fopenmp-simd"]) else []


# glibc's vector math library, called directly by nb_cpu_avx2.c and nb_cpu_avx512.c
LIBMVEC_PROBE = """#pragma GCC target("avx2")
#include <immintrin.h>
__m256d _ZGVdN4v_sin(__m256d);
int main(void) { double y[4]; _mm256_storeu_pd(y, _ZGVdN4v_sin(_mm256_set1_pd(1.0))); return y[0] > 0.8 ? 0 : 1; }
"""


def libmvec_flags():
    """(compile flags, libraries) for the vector math, or ([], []) where there is none (not
    glibc on x86-64, or NBGPU_NO_LIBMVEC set)."""
    if os.environ.get("NBGPU_NO_LIBMVEC") or not compiles(LIBMVEC_PROBE, ["-lmvec", "-lm"]):
        return [], []
    return ["-DNB_HAVE_LIBMVEC=1"], ["mvec"]


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
    ffi.cdef("\n".join(path.read_text() for path in CDEF_HEADERS))
    omp = openmp_flags() if openmp else None
    if omp is None:
        warnings.warn("nbgpu: the C compiler has no OpenMP; the C engine will run single-threaded")
        print("WARNING: building the nbgpu C engine without OpenMP (single-threaded)", file=sys.stderr)
    mvec_flags, mvec_libraries = libmvec_flags()
    where = (lambda path: str(path)) if absolute_paths else os.path.relpath
    ffi.set_source(
        module,
        "\n".join(f'#include "{path.name}"' for path in CDEF_HEADERS),
        sources=[where(CSRC / name) for name in SOURCES],
        # the headers too: a changed header must rebuild the extension (setuptools compares dates)
        depends=[where(path) for path in sorted(CSRC.glob("*.h")) + sorted(KERNELS.glob("*.h"))],
        include_dirs=[str(CSRC), str(KERNELS)],
        extra_compile_args=PARITY_FLAGS + (omp or simd_flags()) + mvec_flags + checks,
        extra_link_args=(omp or []) + checks,
        libraries=mvec_libraries + ["m"],
    )
    return ffi


ffibuilder = make_ffibuilder()

if __name__ == "__main__":    # build in place, for development: python csrc/nbcore_build.py
    with tempfile.TemporaryDirectory() as build:
        library = make_ffibuilder(absolute_paths=True).compile(tmpdir=build, verbose=True)
        shutil.copy(library, CSRC.parent / "nbgpu")

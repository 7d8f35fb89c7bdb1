"""The CUDA engine's parts that need no GPU: kernels compile (nvcc, sm_90), the problem struct
is packed for the device correctly, and the engine is chosen as documented."""
import shutil
import subprocess

import pytest

from conftest import run_cli
from nbgpu._nbcore import ffi
from nbgpu.engine_cuda import POINTER_FIELDS, compile_options, kernel_source, pack_problem
from nbgpu.engines import cuda_unavailable

NVCC = shutil.which("nvcc")


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on the PATH")
@pytest.mark.parametrize("precision", ["double", "single"])
def test_kernels_compile_for_hopper(precision, tmp_path):
    source = tmp_path / "nb_render.cu"
    source.write_text(kernel_source())
    cubin = tmp_path / f"nb_render_{precision}.cubin"
    result = subprocess.run([NVCC, "-cubin", "-arch=sm_90", *compile_options(precision), "-o", str(cubin),
                             str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert cubin.stat().st_size > 10000
    assert b"nb_render_pixels" in cubin.read_bytes() and b"nb_row_sums" in cubin.read_bytes()


class FakeProblem:
    def __init__(self):
        self.struct = ffi.new("nb_problem *")
        self.struct.fpixels, self.struct.spixels, self.struct.steps = 17, 9, 42.0
        self.struct.pix0 = [1.0, 2.0, 3.0]


def test_problem_is_packed_with_device_pointers():
    problem = FakeProblem()
    addresses = {name: 0x7f0000000000 + 0x1000 * n for n, name in enumerate(POINTER_FIELDS)}
    packed = pack_problem(problem, addresses)
    assert len(packed) == ffi.sizeof("nb_problem")
    copy = ffi.new("nb_problem *")
    ffi.memmove(copy, packed, len(packed))
    for name, address in addresses.items():
        assert int(ffi.cast("uintptr_t", getattr(copy, name))) == address
    assert (copy.fpixels, copy.spixels, copy.steps, list(copy.pix0)) == (17, 9, 42.0, [1.0, 2.0, 3.0])
    absent = pack_problem(problem, {})
    ffi.memmove(copy, absent, len(absent))
    assert copy.mask == ffi.NULL and copy.Fhkl == ffi.NULL


ARGS = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 16 -nonoise -noprogress".split()


@pytest.mark.skipif(not cuda_unavailable(), reason="a CUDA device is present")
def test_auto_backend_without_a_gpu_uses_the_c_engine_and_says_why(tmp_path):
    result = run_cli(ARGS, tmp_path)
    assert result.returncode == 0
    assert "nbgpu: rendering with the C engine" in result.stderr and "CuPy" in result.stderr + "CUDA"
    result = run_cli(ARGS + ["-backend", "cuda"], tmp_path)
    assert result.returncode == 9 and "-backend cuda: the CUDA engine cannot run here" in result.stderr
    result = run_cli(ARGS, tmp_path, {"NBGPU_BACKEND": "cuda"})
    assert result.returncode == 9 and "cannot run here" in result.stderr


def test_backend_and_precision_values_are_checked(tmp_path):
    assert "expected one of auto, cuda, c" in run_cli(ARGS + ["-backend", "gpu"], tmp_path).stderr
    assert "expected one of double, single" in run_cli(ARGS + ["-precision", "half"], tmp_path).stderr
    assert "NBGPU_BACKEND=opencl" in run_cli(ARGS, tmp_path, {"NBGPU_BACKEND": "opencl"}).stderr
    result = run_cli(ARGS + ["-backend", "c"], tmp_path)
    assert result.returncode == 0 and "rendering with" not in result.stderr      # asked for: no note

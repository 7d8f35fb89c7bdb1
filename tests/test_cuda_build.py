"""The CUDA engine's parts that need no GPU: kernels compile (nvcc, sm_90) within their register
budget, the kernel cache sees header changes, the problem struct is packed for the device
correctly, and the engine is chosen as documented."""
import shutil
import types
import subprocess

import pytest

import nbgpu.engine.cuda_devices as cuda_devices
import nbgpu.engine.cuda_kernels as cuda_kernels
from helpers import run_cli
from nbgpu._nbcore import ffi, lib
from nbgpu.engine.cuda_kernels import (POINTER_FIELDS, REGISTER_BUDGET, Variant, compile_options, kernel_source,
                                       pack_problem)
from nbgpu.engine.select import cuda_unavailable

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on the PATH")


def nvcc(tmp_path, precision, variant=None, output="-cubin"):
    """Compile the kernel as CuPy would (its -ftz=true included); returns the output file."""
    source = tmp_path / "nb_render.cu"
    source.write_text(kernel_source())
    out = tmp_path / f"nb_render_{precision}.{output.strip('-')}"
    result = subprocess.run([NVCC, output, "-arch=sm_90", *compile_options(precision, variant), "-ftz=true",
                             "-o", str(out), str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return out


@needs_nvcc
@pytest.mark.parametrize("precision", ["double", "single"])
def test_kernels_compile_for_hopper(precision, tmp_path):
    cubin = nvcc(tmp_path, precision, Variant())
    assert cubin.stat().st_size > 10000
    assert b"nb_render_pixels" in cubin.read_bytes() and b"nb_row_sums" in cubin.read_bytes()


@needs_nvcc
def test_the_float_image_keeps_subnormals_under_cupys_ftz(tmp_path):
    """CuPy compiles with -ftz=true: the image store must not become cvt.rn.ftz.f32.f64."""
    ptx = nvcc(tmp_path, "double", Variant(), output="--ptx").read_text()
    assert "cvt.rn.f32.f64" in ptx and "cvt.rn.ftz.f32.f64" not in ptx


@needs_nvcc
def test_every_kernel_variant_is_within_its_register_budget():
    """Each of the 192 variants in both precisions (nbgpu bench --kernel-report --all-variants):
    at most REGISTER_BUDGET registers without a cap, and no spills."""
    from nbgpu.bench.kernels import kernel_report
    rows = kernel_report(every=True, jobs=2)
    assert len(rows) == 2 * 192
    over = [(row["precision"], row["variant"], row["registers"], row["spill_stores"] + row["spill_loads"])
            for row in rows if row["capped"] or row["status"] != "ok"
            or row["registers"] > REGISTER_BUDGET[row["precision"]] or row["spill_stores"] + row["spill_loads"]]
    assert over == []


def test_a_changed_header_changes_the_kernel_source(tmp_path, monkeypatch):
    """CuPy keys its cache on the source and options only: the headers' text must be in the source."""
    for name in cuda_kernels.HEADERS + ("nb_render.cu",):
        (tmp_path / name).write_text((cuda_kernels.KERNELS / name).read_text())
    monkeypatch.setattr(cuda_kernels, "KERNELS", tmp_path)
    before = kernel_source()
    assert "#include \"nb_" not in before and "NB_FN double nb_pixel(" in before
    physics = tmp_path / "nb_physics.h"
    physics.write_text(physics.read_text().replace("#define NB_PI 3.14159265358979323846",
                                                   "#define NB_PI 3.14159265358979"))
    assert kernel_source() != before


class FakeProblem:
    def __init__(self):
        self.struct = ffi.new("nb_problem *")
        self.struct.fpixels, self.struct.spixels, self.struct.steps = 17, 9, 42.0
        self.struct.pix0 = [1.0, 2.0, 3.0]


def test_problem_is_packed_with_device_pointers():
    problem = FakeProblem()
    addresses = {name: 0x7f0000000000 + 0x1000 * n for n, name in enumerate(POINTER_FIELDS)}
    packed = pack_problem(problem.struct, addresses)
    assert len(packed) == ffi.sizeof("nb_problem")
    copy = ffi.new("nb_problem *")
    ffi.memmove(copy, packed, len(packed))
    for name, address in addresses.items():
        assert int(ffi.cast("uintptr_t", getattr(copy, name))) == address
    assert (copy.fpixels, copy.spixels, copy.steps, list(copy.pix0)) == (17, 9, 42.0, [1.0, 2.0, 3.0])
    absent = pack_problem(problem.struct, {})
    ffi.memmove(copy, absent, len(absent))
    assert copy.mask == ffi.NULL and copy.Fhkl == ffi.NULL


def test_a_panel_view_is_packed_with_its_block_of_the_uploaded_tables():
    """A panel's view points into the problem's tables (its mask block): the device address
    moves as far; the panel table, NULL in the view, stays NULL."""
    problem = FakeProblem()
    mask, table = ffi.new("unsigned char[]", 17 * 9), ffi.new("nb_panel[]", 3)
    problem.struct.npanels, problem.struct.panel_rows, problem.struct.spixels = 3, 3, 9
    problem.struct.mask, problem.struct.panels = mask, table
    view = ffi.new("nb_problem *")
    lib.nb_panel_view(problem.struct, 2, view)
    packed = pack_problem(view, {"mask": 0x7f0000000000, "panels": 0x7f0000100000}, uploaded=problem.struct)
    copy = ffi.new("nb_problem *")
    ffi.memmove(copy, packed, len(packed))
    assert int(ffi.cast("uintptr_t", copy.mask)) == 0x7f0000000000 + 2 * 3 * 17
    assert copy.panels == ffi.NULL and copy.Fhkl == ffi.NULL and copy.spixels == 3


ARGS = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 16 -nonoise -noprogress".split()


@pytest.mark.skipif(not cuda_unavailable(), reason="a CUDA device is present")
def test_auto_backend_without_a_gpu_uses_the_c_engine_and_says_why(tmp_path):
    result = run_cli(ARGS, tmp_path)
    assert result.returncode == 0
    assert "nbgpu: rendering with the C engine" in result.stderr
    assert "CuPy" in result.stderr or "CUDA" in result.stderr
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


def test_the_engine_rebuilds_a_kernel_over_budget_with_the_cap():
    """CupyDevice.build, against a stand-in for CuPy's RawModule: the uncapped build first, then
    the capped one when the first is over REGISTER_BUDGET (the rule the kernel report follows)."""
    builds = []

    class Function:
        def __init__(self, registers):
            self.num_regs = registers

    class RawModule:
        def __init__(self, code, options):
            capped = any(o.startswith("--maxrregcount=") for o in options)
            builds.append(capped)
            self.registers = REGISTER_BUDGET["double"] if capped else REGISTER_BUDGET["double"] + 40

        def get_function(self, name):
            return Function(self.registers)

        def get_global(self, name):
            return name

    device = cuda_devices.CupyDevice.__new__(cuda_devices.CupyDevice)
    device.xp, device.precision, device._built = types.SimpleNamespace(RawModule=RawModule), "double", {}
    module, render, _, constant = device.build(Variant())
    assert builds == [False, True] and render.num_regs == REGISTER_BUDGET["double"]
    assert constant == "nb_problem_on_device" and device.build(Variant()) is device._built[Variant()]
    assert builds == [False, True]                  # built once per variant


@needs_nvcc
def test_noisifys_psf_kernel_compiles_within_budget_and_keeps_subnormals(tmp_path):
    """nb_psf.cu as engine.psf_cuda builds it (nvcc, sm_90, CuPy's -ftz=true): within the double
    register budget with no cap and no spills (the kernel report's line), and its float/double
    conversions are the ones without .ftz (subnormal sums as the C engine keeps them)."""
    from nbgpu.bench.kernels import print_one_build, psf_report
    from nbgpu.engine import psf_cuda
    row = psf_report()
    assert row["status"] == "ok" and not row["capped"] and row["registers"] <= REGISTER_BUDGET["double"]
    lines = []
    print_one_build(row, lines.append, "noisify's PSF")
    assert lines[0].startswith("kernel nb_psf_gather (noisify's PSF) on sm_90, double: ") and lines[0].endswith("ok")
    source = tmp_path / psf_cuda.KERNEL
    source.write_text(psf_cuda.kernel_source())
    ptx = tmp_path / "nb_psf.ptx"
    result = subprocess.run([NVCC, "--ptx", "-arch=sm_90", *psf_cuda.OPTIONS, "-ftz=true", "-o", str(ptx), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    text = ptx.read_text()
    assert "cvt.rn.f32.f64" in text and "cvt.f64.f32" in text
    assert "cvt.rn.ftz.f32.f64" not in text and "cvt.ftz.f64.f32" not in text
    assert "fma.rn.f64" not in text                  # --fmad=false: products and sums rounded apart

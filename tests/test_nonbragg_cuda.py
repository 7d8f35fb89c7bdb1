"""nonBragg's CUDA engine (engine.amorphous_cuda) without a GPU: the kernel's body run on the host
(HostAmorphous: nba_render_pixels_host, the same C library math) against the C engine on the
golden suite's command lines; -backend's choice and notes; the kernel built by nvcc for sm_90."""
import re
import shutil
import subprocess

import numpy as np
import pytest

from helpers import SHARED, case_args
from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import EngineError, InputError
from nbgpu.engine import amorphous_cuda, select
from nbgpu.engine.amorphous import Amorphous
from nbgpu.engine.amorphous_cuda import AmorphousCuda, HostAmorphous, select_amorphous
from nbgpu.run.nonbragg import nonbragg_argv
from nbgpu.setup.nonbragg_flags import TABLE
from nbgpu.setup.nonbragg_prepare import prepare

SUITE = SHARED / "golden-nonbragg"
CASES = sorted(p for p in (SUITE / "cases").iterdir() if (p / "args").exists()) if (SUITE / "cases").is_dir() else []
# the golden cases the kernel renders (not: errors, -img, the tables that are not increasing)
KERNEL_CASES = [c for c in CASES if not c.name.startswith("err_") and "-img" not in case_args(c)
                and "shortwater" not in " ".join(case_args(c))]
CHOSEN = ["water_detsize_defaults", "oversample3", "divergence_divsteps_round", "dispersion_dispsteps",
          "curved_detector", "roi_noise", "polar_kahn_vector", "wide_512_timing"]


def setup_of(case, monkeypatch, extra=()):
    monkeypatch.chdir(case)
    return prepare(case_args(case) + list(extra))


def render_both(setup):
    c_engine, cuda = Amorphous(setup), AmorphousCuda(setup, device=HostAmorphous())
    cuda.prepare()
    c_engine.render()
    cuda.render()
    return c_engine, cuda


def test_the_chosen_cases_are_in_the_suite():
    if not CASES:
        pytest.skip("no golden-nonbragg suite")
    assert set(CHOSEN) <= {c.name for c in KERNEL_CASES}


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.name for c in KERNEL_CASES])
def test_the_kernel_on_the_host_gives_the_c_engines_image_to_the_bit(case, monkeypatch):
    """The host emulation runs the kernel's arithmetic with the C library's sin/cos/atan2: every
    float and the solid-angle sum are the C engine's."""
    setup = setup_of(case, monkeypatch)
    c_engine, cuda = render_both(setup)
    assert bytes(cuda.float_bytes()) == bytes(c_engine.float_bytes())
    assert cuda.omega_sum == c_engine.omega_sum
    a, b = c_engine.stats(), cuda.stats()
    assert (a.max_I, a.sum, a.sumsqr, a.rendered) == (b.max_I, b.sum, b.sumsqr, b.rendered)


@pytest.mark.parametrize("extra", [["-Fmap"], ["-oversample", "2", "-polar", "0.5"], ["-roi", "-3", "20", "50", "99"],
                                   ["-point_pixel", "-nopolar"]])
def test_switches_off_the_golden_path_too(extra, monkeypatch):
    case = SUITE / "cases" / "dispersion_dispsteps"
    if not case.is_dir():
        pytest.skip("no golden-nonbragg suite")
    c_engine, cuda = render_both(setup_of(case, monkeypatch, extra))
    assert bytes(cuda.float_bytes()) == bytes(c_engine.float_bytes())
    assert cuda.omega_sum == c_engine.omega_sum


def test_tables_that_are_not_increasing_and_img_are_refused_by_the_kernel(monkeypatch):
    for name in ("Fmap_mode", "img_inverse_output_stol"):
        case = SUITE / "cases" / name
        if not case.is_dir():
            pytest.skip("no golden-nonbragg suite")
        with pytest.raises(EngineError, match="from pixel to pixel"):
            AmorphousCuda(setup_of(case, monkeypatch), device=HostAmorphous())


# --- -backend ---------------------------------------------------------------------------------

@pytest.fixture
def no_cupy(monkeypatch):
    monkeypatch.setattr(select, "cuda_unavailable", lambda: "CuPy is not installed")
    monkeypatch.delenv("NBGPU_BACKEND", raising=False)


@pytest.fixture
def emulated_gpu(monkeypatch):
    """CuPy 'there', its device the host emulation."""
    monkeypatch.setattr(select, "cuda_unavailable", lambda: "")
    monkeypatch.setattr(amorphous_cuda, "CupyAmorphous", HostAmorphous)
    monkeypatch.delenv("NBGPU_BACKEND", raising=False)


def water(monkeypatch, *extra):
    case = SUITE / "cases" / "water_detsize_defaults"
    if not case.is_dir():
        pytest.skip("no golden-nonbragg suite")
    return setup_of(case, monkeypatch, extra)


def test_auto_without_cupy_is_the_c_engine_with_one_note(no_cupy, monkeypatch):
    notes = []
    engine = select_amorphous(water(monkeypatch), 0, "", notes.append)
    assert type(engine) is Amorphous
    assert len(notes) == 1
    assert re.fullmatch(r"rendering with the C engine \(.*double precision\): CuPy is not installed", notes[0])


def test_backend_cuda_without_cupy_is_an_error_as_nanobraggs(no_cupy, monkeypatch):
    with pytest.raises(EngineError) as caught:
        select_amorphous(water(monkeypatch), 0, "cuda", print)
    assert str(caught.value) == "-backend cuda: the CUDA engine cannot run here: CuPy is not installed"
    with pytest.raises(EngineError) as nanobragg:
        select.select_engine("cuda", "double", print)
    assert str(nanobragg.value) == str(caught.value)


def test_backend_c_says_nothing(no_cupy, monkeypatch):
    notes = []
    assert type(select_amorphous(water(monkeypatch), 0, "c", notes.append)) is Amorphous
    assert notes == []


def test_nbgpu_backend_is_read_and_checked(no_cupy, monkeypatch):
    setup = water(monkeypatch)
    monkeypatch.setenv("NBGPU_BACKEND", "c")
    notes = []
    select_amorphous(setup, 0, "", notes.append)
    assert notes == []
    monkeypatch.setenv("NBGPU_BACKEND", "gpu")
    with pytest.raises(EngineError, match="NBGPU_BACKEND=gpu"):
        select_amorphous(setup, 0, "", notes.append)


def test_auto_with_a_gpu_renders_on_it_and_says_so(emulated_gpu, monkeypatch):
    notes = []
    engine = select_amorphous(water(monkeypatch), 0, "auto", notes.append)
    assert isinstance(engine, AmorphousCuda)
    assert notes == ["rendering with the CUDA engine (host emulation, double precision)"]
    notes.clear()
    assert isinstance(select_amorphous(water(monkeypatch), 0, "cuda", notes.append), AmorphousCuda)
    assert notes == []


@pytest.mark.parametrize("backend", ["auto", "cuda"])
def test_a_table_that_is_not_increasing_stays_on_the_c_engine_with_a_note(emulated_gpu, monkeypatch, backend):
    case = SUITE / "cases" / "Fmap_mode"
    if not case.is_dir():
        pytest.skip("no golden-nonbragg suite")
    notes = []
    engine = select_amorphous(setup_of(case, monkeypatch), 0, backend, notes.append)
    assert type(engine) is Amorphous
    assert len(notes) == 1 and notes[0].startswith("rendering with the C engine (")
    assert notes[0].endswith("a table that is not strictly increasing carries its search index from pixel to pixel")


def as_bytes(part) -> bytes:
    return bytes(ffi.buffer(part)) if isinstance(part, ffi.CData) else bytes(part)


@pytest.mark.parametrize("name", ["roi_noise", "curved_detector", "printout_pixel"])
def test_the_run_on_the_emulated_gpu_logs_and_writes_what_the_c_engine_does(emulated_gpu, monkeypatch, name):
    case = SUITE / "cases" / name
    if not case.is_dir():
        pytest.skip("no golden-nonbragg suite")
    monkeypatch.chdir(case)
    runs = {}
    for backend in ("c", "cuda"):
        log, files = [], []
        result = nonbragg_argv(case_args(case) + ["-backend", backend], log.append, print, write=files.extend)
        runs[backend] = ("".join(log), [(name, b"".join(as_bytes(p) for p in parts)) for name, parts in files],
                         result.stats, result.omega_sum)
    assert runs["cuda"] == runs["c"]


# --- the flag -------------------------------------------------------------------------------

def test_backend_is_an_exact_nbgpu_flag_that_fires_nothing_else():
    base = ["-stol", "water.stol", "-detpixels", "8"]
    plain, plain_warnings = TABLE.parse(base)
    given, warnings = TABLE.parse(base + ["-backend", "cuda"])
    assert given.backend == "cuda" and plain.backend == ""
    assert warnings == plain_warnings
    fields = [name for name in TABLE.record.defaults() if name != "backend"]
    assert [getattr(given, n) for n in fields] == [getattr(plain, n) for n in fields]
    assert [r.names for r in TABLE.rules_matching("-backend")] == [("-backend",)]
    for rule in TABLE.rules_matching("-backend"):
        assert rule.nbgpu
    for text in ("-backendx", "-back", "-backend_cuda"):
        assert all("-backend" not in r.names for r in TABLE.rules_matching(text))
    with pytest.raises(InputError, match="-backend: expected one of auto, cuda, c"):
        TABLE.parse(base + ["-backend", "gpu"])


# --- the kernel, built by nvcc ----------------------------------------------------------------

@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
def test_the_kernel_source_builds_for_hopper_within_the_register_budget(tmp_path):
    """The source the engine gives NVRTC (headers pasted in, #line directives), with its options
    and CuPy's -ftz=true, within the double kernels' register budget and without spills."""
    source = tmp_path / "nb_amorphous.cu"
    text = amorphous_cuda.kernel_source()
    assert "#include" not in text and '#line 1 "' in text
    source.write_text(text)
    result = subprocess.run([shutil.which("nvcc"), "-cubin", "-arch=sm_90", *amorphous_cuda.OPTIONS, "-ftz=true",
                             "-Xptxas", "-v", "-o", str(tmp_path / "k.cubin"), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    match = re.search(r"entry function 'nba_render_pixels'.*?(\d+) bytes spill stores, (\d+) bytes spill loads.*?"
                      r"Used (\d+) registers", result.stderr, re.S)
    stores, loads, registers = (int(g) for g in match.groups())
    assert registers <= amorphous_cuda.REGISTER_BUDGET
    assert stores == loads == 0


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
def test_the_kernel_report_has_nonbraggs_kernel():
    from nbgpu.bench.kernels import amorphous_report, print_amorphous
    row = amorphous_report()
    assert row["status"] == "ok" and not row["capped"] and row["registers"] <= amorphous_cuda.REGISTER_BUDGET
    lines = []
    print_amorphous(row, lines.append)
    assert lines[0].startswith("kernel nba_render_pixels (nonBragg) on sm_90, double: ") and lines[0].endswith("ok")


def test_the_struct_pointers_the_kernel_reads_have_sizes():
    """Every pointer the kernel follows is uploaded (the -img ones are never set on this path)."""
    host_only = {"img", "ignore", "F_image", "bin_of"}
    assert set(amorphous_cuda.POINTER_FIELDS) - host_only == set(amorphous_cuda.table_sizes(
        type("P", (), {"polar_axes": 1, "sources": 1, "stols": 1, "buckets": 1})()))
    assert np.dtype(np.int32).itemsize == 4


# --- CupyAmorphous over a stand-in CuPy whose "device" memory is host memory ------------------

class DeviceArray:
    def __init__(self, array):
        self.a = np.array(array, copy=True)
        self.data = type("Memory", (), {"ptr": self.a.ctypes.data})()

    def get(self):
        return self.a.copy()


class FakeKernel:
    def __init__(self, registers, launches):
        self.num_regs, self.launches = registers, launches

    def __call__(self, grid, block, args):
        """The launch, run by the host emulation on the struct as uploaded: its pointers are the
        stand-in device arrays' addresses, so a table left out or mis-sized shows."""
        struct, s, rows, f0, width, image, omegas = args
        assert block == (amorphous_cuda.THREADS,) and grid[0] * block[0] >= rows * width > (grid[0] - 1) * block[0]
        self.launches.append((int(s), int(rows)))
        lib.nba_render_pixels_host(ffi.cast("nba_problem *", struct.data.ptr), int(s), int(rows), int(f0), int(width),
                                   ffi.cast("float *", image.data.ptr), ffi.cast("double *", omegas.data.ptr))


class FakeCupy:
    float32, float64 = np.float32, np.float64

    def __init__(self, registers=82):
        errors = type("E", (RuntimeError,), {})
        self.cuda = type("cuda", (), {"memory": type("m", (), {"OutOfMemoryError": MemoryError}),
                                      "runtime": type("r", (), {"CUDARuntimeError": errors}),
                                      "driver": type("d", (), {"CUDADriverError": errors})})
        self.registers, self.builds, self.launches = registers, [], []

    def RawModule(self, code, options):
        self.builds.append(options)
        assert '#line 1 "' in code and "nba_render_pixels" in code
        kernel = FakeKernel(self.registers if len(self.builds) == 1 else amorphous_cuda.REGISTER_BUDGET, self.launches)
        return type("Module", (), {"get_function": lambda module, name: kernel})()

    @staticmethod
    def asarray(array):
        return DeviceArray(array)

    @staticmethod
    def zeros(count, dtype):
        return DeviceArray(np.zeros(count, dtype))

    @staticmethod
    def empty(count, dtype):
        return DeviceArray(np.full(count, np.nan, dtype))


@pytest.mark.parametrize("extra", [[], ["-oversample", "2", "-polar", "0.5", "-curved_det"],
                                   ["-roi", "3", "40", "7", "20"]])
def test_the_gpu_path_uploads_every_table_the_kernel_reads(extra, monkeypatch):
    case = SUITE / "cases" / "divergence_divsteps_round"
    if not case.is_dir():
        pytest.skip("no golden-nonbragg suite")
    setup = setup_of(case, monkeypatch, extra)
    cupy = FakeCupy()
    cuda, c_engine = AmorphousCuda(setup, device=amorphous_cuda.CupyAmorphous(cupy)), Amorphous(setup)
    cuda.prepare()
    packed = ffi.cast("nba_problem *", cuda.device.struct.data.ptr)
    for name, count in amorphous_cuda.table_sizes(cuda.struct).items():
        if count:
            address = int(ffi.cast("uintptr_t", getattr(packed, name)))
            assert address == cuda.device.tables[name].data.ptr
            assert address != int(ffi.cast("uintptr_t", getattr(cuda.struct, name)))
    cuda.render()
    c_engine.render()
    assert bytes(cuda.float_bytes()) == bytes(c_engine.float_bytes())
    assert cuda.omega_sum == c_engine.omega_sum
    assert cupy.builds == [amorphous_cuda.OPTIONS] and cupy.launches


def test_a_kernel_over_the_register_budget_is_built_again_with_a_cap(monkeypatch):
    cupy = FakeCupy(registers=amorphous_cuda.REGISTER_BUDGET + 40)
    amorphous_cuda.CupyAmorphous(cupy).build()
    capped = amorphous_cuda.OPTIONS + (f"--maxrregcount={amorphous_cuda.REGISTER_BUDGET}",)
    assert cupy.builds == [amorphous_cuda.OPTIONS, capped]

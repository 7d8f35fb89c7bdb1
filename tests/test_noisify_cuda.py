"""noisify's point-spread function on the GPU (engine.psf_cuda) without a GPU: the kernel's body
run on the host (HostPsf: nb_psf_gather_host, the same nb_psf_gather.h) against the C engine,
to the bit, on the golden suite's PSF cases and on random images with every edge rule; how
-backend chooses; the -backend flag against noisify's substring matching.  The kernel's nvcc
build is in test_cuda_build.py."""
import shlex

import numpy as np
import pytest

from nbgpu._nbcore import ffi
from nbgpu.base.errors import EngineError, InputError
from nbgpu.engine import noise, psf_cuda, select
from nbgpu.engine.psf_cuda import HostPsf, PsfCuda, select_psf
from nbgpu.run.noisify import noisify_argv
from nbgpu.setup import noisify as setup
from test_noisify import CASES, OWN_FILES, stage

PSF_CASES = [c for c in CASES if "-psf" in (c / "args").read_text() and (c / "exit_code").read_text().strip() == "0"]


@pytest.fixture
def emulated_gpu(monkeypatch):
    """CuPy 'there', its device the host emulation."""
    monkeypatch.setattr(select, "cuda_unavailable", lambda: "")
    monkeypatch.setattr(psf_cuda, "CupyPsf", HostPsf)
    monkeypatch.delenv("NBGPU_BACKEND", raising=False)


@pytest.fixture
def no_cupy(monkeypatch):
    monkeypatch.setattr(select, "cuda_unavailable", lambda: "CuPy is not installed")
    monkeypatch.delenv("NBGPU_BACKEND", raising=False)


def test_the_suite_has_psf_cases():
    if not CASES:
        pytest.skip("no golden-noisify suite")
    assert len(PSF_CASES) >= 6


@pytest.mark.parametrize("case", PSF_CASES, ids=[c.name for c in PSF_CASES])
def test_golden_psf_cases_on_the_emulated_gpu_are_byte_for_byte(case, tmp_path, emulated_gpu, monkeypatch):
    work = stage(case, tmp_path)
    monkeypatch.chdir(work)
    out, notes = [], []
    noisify_argv(shlex.split((case / "args").read_text()) + ["-backend", "cuda"], out.append, notes.append,
                 note=notes.append)
    assert "".join(out) == (case / "stdout.txt").read_text()
    assert notes == []                      # asked for by name: nothing to say
    expected = {f.name for f in case.iterdir()} - OWN_FILES
    for name in expected:
        assert (work / name).read_bytes() == (case / name).read_bytes(), name


def random_images(count=80):
    rng = np.random.default_rng(20)
    for trial in range(count):
        w, h = int(rng.integers(1, 33)), int(rng.integers(1, 33))
        image = (rng.gamma(0.7, 30, (h, w)) * (rng.random((h, w)) > 0.3)).astype(np.float32)
        if trial % 3 == 0:
            image = np.round(image)                     # whole counts: the remembered radii
        if trial % 7 == 0:
            image[rng.random((h, w)) > 0.8] = -3.0      # spread nothing
        if trial % 11 == 0:
            image[rng.random((h, w)) > 0.5] = 1e-42     # subnormal photons: subnormal sums
        yield (image, w, h, ("gauss", "fiber")[trial % 2], float(rng.choice([0.3, 1.0, 3.3, 10.0])),
               int(rng.choice([0, 0, 1, 2, 5, -2, 50])))


def test_the_gather_gives_the_c_engines_spreading_to_the_bit():
    """Every edge rule (x == xpixels onto the next row, radii wider than the image, negative user
    radii, pixels with no photons) and subnormal sums: the same floats, the same lost photons,
    the same refusals."""
    gpu, compared = PsfCuda(HostPsf()), 0
    for image, w, h, kind, fwhm, user in random_images():
        widest = max(w, h)
        outcomes = []
        for engine in (noise, gpu):
            try:
                out, lost = engine.spread(image, w, h, kind, fwhm, user, widest, "the image")
                outcomes.append((bytes(ffi.buffer(out)), lost))
            except InputError as exc:
                outcomes.append(str(exc))
        assert outcomes[0] == outcomes[1], (w, h, kind, fwhm, user)
        compared += not isinstance(outcomes[0], str)
    assert compared > 60


def test_a_radius_beyond_the_kernel_is_refused_as_the_c_engine_refuses_it():
    image = np.zeros((9, 9), np.float32)
    image[4, 4] = 5000.0
    messages = []
    for engine in (noise, PsfCuda(HostPsf())):
        with pytest.raises(InputError) as caught:
            engine.spread(image, 9, 9, "gauss", 2.0, 0, 1, "the image")
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "pixel (4, 4)" in messages[0]


# --- -backend -----------------------------------------------------------------------------------

def test_auto_without_cupy_is_the_c_engine_and_says_nothing(no_cupy):
    notes = []
    assert select_psf("", notes.append, radius=None, pixels=10 ** 8) is None
    assert notes == []


def test_backend_cuda_without_cupy_is_nanobraggs_error(no_cupy):
    with pytest.raises(EngineError) as caught:
        select_psf("cuda", print, radius=3, pixels=100)
    assert str(caught.value) == "-backend cuda: the CUDA engine cannot run here: CuPy is not installed"


def test_auto_keeps_a_small_job_on_the_cpu_and_takes_the_gpu_for_a_large_one(emulated_gpu, monkeypatch):
    notes = []
    assert select_psf("auto", notes.append, radius=3, pixels=2048 * 2048) is None
    engine = select_psf("auto", notes.append, radius=40, pixels=2048 * 2048)
    assert isinstance(engine, PsfCuda) and notes == ["spreading the point-spread function with the CUDA engine "
                                                     "(host emulation, double precision)"]
    monkeypatch.setenv("NBGPU_AUTO_GPU_SECONDS", "0")
    assert isinstance(select_psf("auto", print, radius=1, pixels=4), PsfCuda)
    assert select_psf("c", print, radius=40, pixels=2048 * 2048) is None
    monkeypatch.setenv("NBGPU_BACKEND", "cuda")
    assert isinstance(select_psf("", print, radius=1, pixels=4), PsfCuda)
    monkeypatch.setenv("NBGPU_BACKEND", "opencl")
    with pytest.raises(EngineError, match="NBGPU_BACKEND=opencl"):
        select_psf("", print)


def test_auto_on_a_wide_psf_runs_on_the_emulated_gpu_with_one_note(emulated_gpu, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    image = np.random.default_rng(3).gamma(2.0, 40.0, (64, 96)).astype(np.float32)
    words = "floatimage.bin -detpixels_x 96 -detpixels_y 64 -seed 3 -psf gauss -psf_fwhm 400 -readout_noise 2".split()
    image.tofile("floatimage.bin")
    gpu_log, notes = [], []
    monkeypatch.setenv("NBGPU_AUTO_GPU_SECONDS", "0")
    gpu = noisify_argv(words, gpu_log.append, print, write=None, note=notes.append)
    c_log = []
    c_engine = noisify_argv(words + ["-backend", "c"], c_log.append, print, write=None, note=notes.append)
    assert len(notes) == 1 and "host emulation" in notes[0]
    assert gpu_log == c_log
    assert np.array_equal(gpu.noise_array(), c_engine.noise_array())


def test_backend_fires_nothing_of_noisifys_flags():
    """-backend is matched exactly and no noisify flag's name is a substring of it; its values
    are checked; noisify's own flags still match as before around it."""
    for rule in setup.RULES:
        if not rule.nbgpu:
            for name in rule.names:
                assert name not in "-backend", name
    flags, warnings, _ = setup.parse(["-backend", "cuda", "-seed", "4"])
    default = setup.NoisifyFlags()
    changed = {name for name in setup.NoisifyFlags.__annotations__ if getattr(flags, name) != getattr(default, name)}
    assert changed == {"backend", "seed"} and warnings == []
    with pytest.raises(InputError, match="expected one of auto, cuda, c"):
        setup.parse(["-backend", "gpu"])
    assert setup.parse(["-backends", "c"])[0].backend == ""          # exact: not a prefix match


# --- CupyPsf against a stand-in for CuPy whose launches run the host emulation ------------------

class DeviceArray:
    def __init__(self, array):
        self.array = np.ascontiguousarray(array)
        self.data = type("Pointer", (), {"ptr": self.array.ctypes.data})()

    def get(self):
        return self.array.copy()


class FakeCupy:
    float32 = np.float32

    def __init__(self):
        errors = type("E", (RuntimeError,), {})
        self.cuda = type("cuda", (), {"memory": type("m", (), {"OutOfMemoryError": MemoryError}),
                                      "runtime": type("r", (), {"CUDARuntimeError": errors}),
                                      "driver": type("d", (), {"CUDADriverError": errors})})
        self.builds, self.launches = [], []

    def RawModule(self, code, options):
        self.builds.append(options)
        assert '#line 1 "' in code and "nbp_gather_pixel" in code and '#include "' not in code
        return type("Module", (), {"get_function": lambda module, name: self.launch})()

    def launch(self, grid, block, args):
        photons, radius, row_reach, kernel, kernel_radius, reach, width, height, each, out = args
        assert block == (psf_cuda.THREADS,) and grid[0] * block[0] >= width * height > (grid[0] - 1) * block[0]
        self.launches.append((int(width), int(height)))
        pointer = lambda ctype, array: ffi.cast(ctype, array.data.ptr)
        from nbgpu._nbcore import lib
        lib.nb_psf_gather_host(pointer("float *", photons), pointer("int *", radius), pointer("int *", row_reach),
                               pointer("double *", kernel), int(kernel_radius), int(reach), int(width), int(height),
                               float(each), pointer("float *", out))

    @staticmethod
    def asarray(array):
        return DeviceArray(array)

    @staticmethod
    def empty(count, dtype):
        return DeviceArray(np.full(count, np.nan, dtype))


def test_the_cupy_path_uploads_what_the_kernel_reads_and_gives_the_c_engines_image():
    cupy = FakeCupy()
    gpu = PsfCuda(psf_cuda.CupyPsf(cupy))
    gpu.prepare()
    for image, w, h, kind, fwhm, user in list(random_images(30)):
        try:
            expected, lost = noise.spread(image, w, h, kind, fwhm, user, max(w, h), "the image")
        except InputError:
            continue
        out, gpu_lost = gpu.spread(image, w, h, kind, fwhm, user, max(w, h), "the image")
        assert bytes(ffi.buffer(out)) == bytes(ffi.buffer(expected)) and gpu_lost == lost
    assert cupy.builds == [psf_cuda.OPTIONS] and len(cupy.launches) > 15

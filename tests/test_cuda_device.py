"""What the CUDA engine does on a GPU that no test machine has: CupyDevice driven by a stand-in
CuPy (launch errors, pinned control words, the launch grid), the kernel's source (cancel per
pixel, #line directives, what NVRTC may fuse: nvcc), renders taking turns over the
one constant struct, and -backend auto weighing the work."""
import re
import shutil
import subprocess
import threading
import time
import types

import numpy as np
import pytest

import nbgpu.engine.cuda as engine_cuda
import nbgpu.engine.cuda_kernels as cuda_kernels
from nbgpu.engine import select as engines
from nbgpu.engine.c import CEngine
from nbgpu.engine.cuda import CudaEngine
from nbgpu.engine.cuda_devices import CONSTANT_MEMORY, EVENT_NOT_READY, CupyDevice, HostDevice
from nbgpu.engine.cuda_kernels import KERNELS, THREADS, kernel_source, launch_grid
from nbgpu.base.errors import EngineError
from nbgpu.run.simulate import simulate_argv
from nbgpu.run.simulator import Simulator

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on the PATH")
SMALL = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 16 -noprogress".split()
quiet = lambda *args, **kwargs: None
ILLEGAL_ADDRESS = 700


class FakeCudaError(RuntimeError):
    def __init__(self, status):
        super().__init__(f"cudaError{status}: an illegal memory access was encountered")
        self.status = status


class FakeStream:
    def __init__(self, non_blocking=False):
        self.synchronized = 0

    def synchronize(self):
        self.synchronized += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeEvent:
    count = 0

    def __init__(self):
        FakeEvent.count += 1
        self.ptr = FakeEvent.count

    def record(self, stream):
        self.stream = stream


class FakeCupy:
    """The parts of CuPy that CupyDevice uses around a launch; event queries answer `statuses`
    in turn (the last one repeated)."""

    def __init__(self, statuses=(0,)):
        self.statuses = list(statuses)
        self.pinned = []
        self.cuda = types.SimpleNamespace(
            runtime=types.SimpleNamespace(CUDARuntimeError=FakeCudaError, eventQuery=self.event_query),
            driver=types.SimpleNamespace(CUDADriverError=type("CUDADriverError", (RuntimeError,), {})),
            memory=types.SimpleNamespace(OutOfMemoryError=type("OutOfMemoryError", (MemoryError,), {})),
            Stream=FakeStream, Event=FakeEvent, alloc_pinned_memory=self.alloc_pinned)

    def event_query(self, pointer):
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def alloc_pinned(self, size):
        memory = bytearray(size)
        self.pinned.append(memory)
        return memory


class FakeWords:
    """A device array of control words: slices copy to and from the host, as CuPy's do."""

    def __init__(self, values=(0, 0)):
        self.values = np.array(values, np.uint64)
        self.copies = []

    def __getitem__(self, where):
        words = self

        class Part:
            def get(self, stream=None, out=None):
                words.copies.append(("get", stream, out))
                out[...] = words.values[where]
                return out

            def set(self, array, stream=None):
                words.copies.append(("set", stream, array))
                words.values[where] = array
        return Part()


def test_a_failed_launch_is_an_engine_error_not_a_finished_one():
    device = CupyDevice("double", cupy=FakeCupy([EVENT_NOT_READY, EVENT_NOT_READY, ILLEGAL_ADDRESS]))
    launch = (FakeEvent(), FakeEvent())
    with pytest.raises(EngineError, match="the CUDA kernel failed: .*illegal memory access"):
        device.finished(launch, 5.0)
    assert CupyDevice("double", cupy=FakeCupy([EVENT_NOT_READY, 0])).finished(launch, 5.0) is True
    started = time.monotonic()
    assert CupyDevice("double", cupy=FakeCupy([EVENT_NOT_READY])).finished(launch, 0.05) is False
    assert time.monotonic() - started < 2


class FailingDevice(HostDevice):
    """A device whose CUDA calls fail as CuPy's do, with their own exception type."""
    Errors = (FakeCudaError,)

    def __init__(self, precision, fail_in):
        super().__init__(precision)
        self.fail_in = fail_in

    def collect(self, *args):
        if self.fail_in == "collect":
            raise FakeCudaError(ILLEGAL_ADDRESS)
        return super().collect(*args)

    def to_device(self, array):
        if self.fail_in == "upload":
            raise FakeCudaError(ILLEGAL_ADDRESS)
        return super().to_device(array)


def test_cuda_errors_during_a_render_are_engine_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = CudaEngine(device=FailingDevice("double", "collect"))
    with pytest.raises(EngineError, match="the CUDA engine failed: .*illegal memory access"):
        simulate_argv(SMALL, quiet, quiet, write_files=False, engine=engine)
    engine = CudaEngine(device=FailingDevice("double", "upload"))
    with pytest.raises(EngineError, match="the GPU cannot take the problem: .*illegal memory access"):
        engine.prepare(simulate_argv(SMALL, quiet, quiet, write_files=False, engine=CEngine()).problem, 0)


def test_progress_and_cancel_are_copied_through_pinned_memory_beside_the_render():
    cupy = FakeCupy()
    device = CupyDevice("double", cupy=cupy)
    pinned = np.frombuffer(cupy.pinned[0], np.uint64)
    control = FakeWords((1234, 0))
    assert device.processed({"control": control}) == 1234
    device.cancel({"control": control})
    assert control.values[1] == 1
    assert [kind for kind, _, _ in control.copies] == ["get", "set"]
    for _, stream, host in control.copies:
        assert stream is device.poll and stream is not device.stream
        assert np.shares_memory(host, pinned)          # a pinned host buffer: the copy is asynchronous
    assert device.poll.synchronized == 2 and device.stream.synchronized == 0


def test_each_pixel_gets_a_thread():
    assert [launch_grid(n) for n in (0, 1, THREADS, THREADS + 1, 1 << 26)] == [1, 1, 1, 2, (1 << 26) // THREADS]
    device = CupyDevice("double", cupy=FakeCupy())
    launches, uploads = [], []
    render = lambda grid, block, args: launches.append((grid, block))
    constant = types.SimpleNamespace(copy_from_host_async=lambda pointer, size, stream: uploads.append(size))
    buffers = dict.fromkeys(("image", "omega", "earliest", "control"))
    device.start((None, render, None, constant), bytes(64), 0, 1000, 999, -1, -1, -1, buffers)
    assert launches == [((launch_grid(999_000),), (THREADS,))] and uploads == [64]


def test_the_kernel_reads_the_cancel_word_before_every_pixel():
    """One thread per pixel, and each thread's first statement returns when the host has asked
    to stop: a cancel costs at most the pixels already started."""
    source = (KERNELS / "nb_render.cu").read_text()
    body = source[source.index("nb_render_pixels("):]
    body = body[body.index("{") + 1:body.index("\n}\n")]
    statements = [" ".join(s.split()) for s in body.split(";") if s.strip()]
    assert statements[1] == "const long long local = blockIdx.x * (long long)blockDim.x + threadIdx.x"
    assert statements[2] == ("if (local >= (long long)nrows * p->fpixels || ((volatile unsigned long long *)control)"
                             "[NB_CONTROL_CANCEL]) return")
    assert "for (" not in body and "while" not in body


def test_pasted_headers_are_followed_by_a_line_directive_back_to_the_kernel():
    source = kernel_source()
    render = KERNELS / "nb_render.cu"
    for number, line in enumerate(render.read_text().splitlines(), 1):
        header = re.match(r'#include "([^"]+)"', line)
        if header:
            text = (KERNELS / header.group(1)).read_text()
            assert f'#line 1 "{KERNELS / header.group(1)}"\n{text}\n#line {number + 1} "{render}"\n' in source


@needs_nvcc
def test_compile_errors_name_the_kernel_file_and_line(tmp_path, monkeypatch):
    folder = tmp_path / "kernels"
    shutil.copytree(KERNELS, folder)
    lines = (folder / "nb_render.cu").read_text().splitlines()
    broken = max(i for i, line in enumerate(lines) if line.startswith("#include")) + 3
    lines.insert(broken, "this is not C;")
    (folder / "nb_render.cu").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(cuda_kernels, "KERNELS", folder)
    (tmp_path / "k.cu").write_text(kernel_source())
    done = subprocess.run([NVCC, "--ptx", "-arch=sm_90", "-o", str(tmp_path / "k.ptx"), str(tmp_path / "k.cu")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f"nb_render.cu({broken + 1})" in done.stderr, done.stderr


CHAIN = """#include "nb_problem.h"
#include "nb_physics.h"
extern "C" __global__ void chain(const double *a, const double *b, double *out)
{
    out[0] = nb_dot(a, b);
    out[1] = nb_unitize(a, out + 2);
}
"""


@needs_nvcc
@pytest.mark.parametrize("precision", ["double", "single"])
def test_double_kernels_never_fuse_and_single_kernels_fuse_as_documented(precision, tmp_path):
    """The chain to h k l (dot products, norms) with the engine's own options: double precision
    is nanoBragg's arithmetic, no FMA; single precision lets NVRTC fuse it (docs/engines.md: a
    change of about an ulp of a double, measured as nothing in the images)."""
    (tmp_path / "chain.cu").write_text(CHAIN)
    done = subprocess.run([NVCC, "--ptx", "-arch=sm_90", *cuda_kernels.compile_options(precision), f"-I{KERNELS}",
                           "-o", str(tmp_path / "chain.ptx"), str(tmp_path / "chain.cu")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    ptx = (tmp_path / "chain.ptx").read_text()
    assert ("fma.rn.f64" in ptx) == (precision == "single")
    assert ("mul.rn.f64" in ptx) == (precision == "double")        # .rn: a product NVRTC may not contract


class TakingTurns(HostDevice):
    """Host devices sharing one lock, as CupyDevices share the constant struct."""
    lock = threading.Lock()
    active = 0
    most = 0

    def __init__(self, precision):
        super().__init__(precision)
        self.lock = TakingTurns.lock

    def start(self, *args):
        TakingTurns.active += 1
        TakingTurns.most = max(TakingTurns.most, TakingTurns.active)
        time.sleep(0.05)
        try:
            return super().start(*args)
        finally:
            TakingTurns.active -= 1


def test_renders_on_the_gpu_take_turns_over_the_constant_struct(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert CupyDevice.lock is CONSTANT_MEMORY
    problems = [simulate_argv(SMALL + ["-N", str(n)], quiet, quiet, write_files=False, engine=CEngine())
                for n in (3, 7)]
    images = {}

    def render(index):
        engine = CudaEngine(device=TakingTurns("double"))
        engine.tile_pixels = 64                     # four passes each, interleaved if they could be
        images[index] = simulate_argv(SMALL + ["-N", str((3, 7)[index])], quiet, quiet, write_files=False,
                                      engine=engine).image
    threads = [threading.Thread(target=render, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert TakingTurns.most == 1
    for index, problem in enumerate(problems):
        assert np.array_equal(images[index], problem.image)


@pytest.fixture
def gpu_here(monkeypatch):
    """A machine where CuPy is installed and sees a device, the device being the host emulation."""
    monkeypatch.setattr(engines, "cupy_installed", lambda: True)
    monkeypatch.setattr(engines, "cuda_unavailable", lambda: "")
    monkeypatch.setattr(engine_cuda, "CupyDevice", HostDevice)


def test_auto_keeps_a_small_job_on_the_cpu_without_starting_cuda(tmp_path, monkeypatch, gpu_here):
    monkeypatch.chdir(tmp_path)

    def probed():
        raise AssertionError("CuPy was probed for a small job")
    monkeypatch.setattr(engines, "cuda_unavailable", probed)
    notes = []
    result = simulate_argv(SMALL, quiet, quiet, write_files=False, note=notes.append)
    assert result.engine.name == "c" and len(notes) == 1
    assert notes[0].startswith("rendering with the C engine") and "a small job (256 evaluations, about " in notes[0]
    assert "NBGPU_AUTO_GPU_SECONDS=1 is the limit" in notes[0]


@pytest.mark.parametrize("seconds", ["0", "1e-9"])
def test_auto_takes_the_gpu_for_work_over_the_limit(seconds, tmp_path, monkeypatch, gpu_here):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NBGPU_AUTO_GPU_SECONDS", seconds)
    notes = []
    result = simulate_argv(SMALL, quiet, quiet, write_files=False, note=notes.append)
    assert result.engine.name == "cuda" and notes == ["rendering with the CUDA engine (host emulation, double "
                                                      "precision)"]


def test_runs_sharing_an_engine_take_the_gpu_whatever_their_size(tmp_path, monkeypatch, gpu_here):
    monkeypatch.chdir(tmp_path)
    assert Simulator(SMALL).render().engine.name == "cuda"
    with pytest.raises(EngineError, match="NBGPU_AUTO_GPU_SECONDS=soon: expected a number of seconds >= 0"):
        monkeypatch.setenv("NBGPU_AUTO_GPU_SECONDS", "soon")
        simulate_argv(SMALL, quiet, quiet, write_files=False)
    monkeypatch.setenv("NBGPU_AUTO_GPU_SECONDS", "1")
    assert simulate_argv(SMALL + ["-backend", "cuda"], quiet, quiet, write_files=False).engine.name == "cuda"

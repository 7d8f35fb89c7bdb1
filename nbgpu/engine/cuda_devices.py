"""Where the CUDA engine's launches run: CupyDevice (the GPU, through CuPy) or HostDevice (numpy
buffers, the kernel's per-pixel body run by the C library, csrc/nb_kernel_host.c), so that the
engine's orchestration is tested on machines without a GPU.

On the GPU, the progress and cancel words go through a small pinned buffer on a second stream,
so they never wait for the render, and a fault in a launch is an EngineError, not a raw CUDA
one.  A process has one `__constant__` problem struct per compiled kernel (CuPy shares a module
built from the same source and options), so renders on the GPU take turns (CONSTANT_MEMORY).
"""
import threading
import time

import numpy as np

from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import EngineError
from nbgpu.engine.cuda_kernels import THREADS, compile_options, kernel_source, launch_grid, within_budget

NO_SWITCH_OFF = 0xFFFFFFFFFFFFFFFF     # the earliest switch-off before any: the atomicMin's start
ROW_SUM_BLOCK = (32, 8)         # nb_row_sums: 32 rows a block
CONTROL_DONE, CONTROL_CANCEL = 0, 1     # nb_render.cu's control words
EVENT_NOT_READY = 600           # cudaErrorNotReady: what an event query returns while the work runs
CONSTANT_MEMORY = threading.Lock()      # held by a render on the GPU from its struct's upload to its end


class CupyDevice:
    """The GPU, through CuPy (a stand-in module may be given: the tests')."""
    lock = CONSTANT_MEMORY

    def __init__(self, precision, cupy=None):
        if cupy is None:
            import cupy
        self.xp = cupy
        self.precision = precision
        self.OutOfMemory = cupy.cuda.memory.OutOfMemoryError
        self.Errors = (cupy.cuda.runtime.CUDARuntimeError, cupy.cuda.driver.CUDADriverError)
        self._built = {}
        self.stream = cupy.cuda.Stream(non_blocking=True)      # the render
        self.poll = cupy.cuda.Stream(non_blocking=True)        # progress and cancel, beside it
        # the control words' host side: pinned, so that their copies run beside the render
        self._pinned = cupy.cuda.alloc_pinned_memory(2 * 8)
        self.words = np.frombuffer(self._pinned, np.uint64, 2)

    def describe(self) -> str:
        props = self.xp.cuda.runtime.getDeviceProperties(self.xp.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else name

    def build(self, variant):
        """The compiled kernels of a variant (NVRTC, cached by CuPy in memory and on disk);
        compiled again with a register cap when the first build is over the budget."""
        if variant in self._built:
            return self._built[variant]
        cupy, source = self.xp, kernel_source()

        def build_once(cap):
            module = cupy.RawModule(code=source, options=compile_options(self.precision, variant, cap))
            return module, module.get_function("nb_render_pixels")
        try:
            (module, render), _ = within_budget(build_once, lambda built: built[1].num_regs, self.precision)
            built = (module, render, module.get_function("nb_row_sums"), module.get_global("nb_problem_on_device"))
        except Exception as exc:
            raise EngineError(f"cannot build the CUDA kernels: {exc}") from exc
        self._built[variant] = built
        return built

    @staticmethod
    def address(array) -> int:
        return array.data.ptr

    def to_device(self, array: np.ndarray):
        # every copy to the device goes on the render stream: the launches after it see it
        with self.stream:
            return self.xp.asarray(array)

    def start(self, built, struct_bytes, row0, nrows, fpixels, first, until, after, buffers):
        """Launch one pass over rows [row0, row0 + nrows) on the render stream; returns at once."""
        cupy = self.xp
        _, render, _, constant = built
        staged = np.frombuffer(struct_bytes, np.uint8)
        constant.copy_from_host_async(staged.ctypes.data, staged.nbytes, stream=self.stream)
        with self.stream:
            start, stop = cupy.cuda.Event(), cupy.cuda.Event()
            start.record(self.stream)
            render((launch_grid(nrows * fpixels),), (THREADS,),
                   (np.int32(row0), np.int32(nrows), np.int64(first), np.int64(until), np.int64(after),
                    buffers["image"], buffers["omega"], buffers["earliest"], buffers["control"]))
            stop.record(self.stream)
        return start, stop

    def finished(self, launch, timeout) -> bool:
        """Wait up to `timeout` seconds for a pass; whether it is done.  A launch that failed
        (a fault, a lost device) is an EngineError here: an event query returns the error
        rather than raising it."""
        runtime = self.xp.cuda.runtime
        deadline = time.monotonic() + timeout
        while True:
            status = runtime.eventQuery(launch[1].ptr)
            if status == 0:
                return True
            if status != EVENT_NOT_READY:
                raise EngineError(f"the CUDA kernel failed: {runtime.CUDARuntimeError(status)}")
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)

    def processed(self, buffers) -> int:
        """Pixels the running pass has done so far (read beside it, on the poll stream)."""
        word = self.words[CONTROL_DONE:CONTROL_DONE + 1]
        buffers["control"][CONTROL_DONE:CONTROL_DONE + 1].get(stream=self.poll, out=word)
        self.poll.synchronize()
        return int(word[0])

    def cancel(self, buffers):
        word = self.words[CONTROL_CANCEL:CONTROL_CANCEL + 1]
        word[0] = 1
        buffers["control"][CONTROL_CANCEL:CONTROL_CANCEL + 1].set(word, stream=self.poll)
        self.poll.synchronize()

    def seconds(self, launch) -> float:
        return self.xp.cuda.get_elapsed_time(launch[0], launch[1]) / 1000.0

    def buffers(self, nrows, fpixels) -> dict:
        """Device buffers of one tile (the earliest switch-off and the control words start
        cleared: copies, not fill kernels; the row sums are written whole by nb_row_sums)."""
        cupy, count = self.xp, nrows * fpixels
        with self.stream:
            return {"image": cupy.empty(count, dtype=cupy.float32), "omega": cupy.empty(count, dtype=cupy.float64),
                    "earliest": cupy.asarray(np.full(1, NO_SWITCH_OFF, np.uint64)),
                    "control": cupy.asarray(np.zeros(2, np.uint64)), "sums": cupy.empty(nrows, dtype=cupy.float64)}

    def reset_control(self, buffers):
        buffers["control"].set(np.zeros(2, np.uint64), stream=self.stream)

    def earliest(self, buffers) -> int:
        return int(buffers["earliest"].get(stream=self.stream)[0])

    def collect(self, built, buffers, nrows, fpixels, image_rows, omega_rows):
        """Row sums on the device, then the tile and its row sums into the host arrays (through
        pinned memory, at the bus's full speed)."""
        cupy, row_sums = self.xp, built[2]
        with self.stream:
            row_sums(((nrows + 31) // 32,), ROW_SUM_BLOCK, (buffers["omega"], np.int32(fpixels), np.int32(nrows),
                                                           buffers["sums"]))
        pinned = cupy.cuda.alloc_pinned_memory(image_rows.nbytes)
        staged = np.frombuffer(pinned, np.float32, image_rows.size)
        buffers["image"].get(stream=self.stream, out=staged)
        np.copyto(image_rows, staged.reshape(image_rows.shape))
        omega_rows[:] = buffers["sums"].get(stream=self.stream)

    def memory_in_use(self) -> int:
        return self.xp.get_default_memory_pool().total_bytes()


class HostDevice:
    """numpy buffers and the kernel's per-pixel body in C (nb_kernel_host.c, the GPU's
    arithmetic): the CUDA engine without a GPU.  A pass runs when it is started; the variant is
    honoured by rendering the problem as that variant's kernel sees it."""

    class OutOfMemory(MemoryError):
        pass

    Errors = ()                     # no CUDA errors on the host

    def __init__(self, precision):
        self.lock = threading.Lock()
        self.xp = np
        self.precision = precision
        self._render = lib.nb_render_tile_single if precision == "single" else lib.nb_render_tile
        self.builds = []            # the variants built, in order (tests look at them)

    @staticmethod
    def describe() -> str:
        return "host emulation"

    def build(self, variant):
        self.builds.append(variant)
        return variant

    @staticmethod
    def address(array) -> int:
        return array.ctypes.data

    @staticmethod
    def to_device(array: np.ndarray):
        return np.asarray(array)

    def start(self, variant, struct_bytes, row0, nrows, fpixels, first, until, after, buffers):
        struct = variant.as_compiled(ffi.cast("nb_problem *", ffi.from_buffer(struct_bytes)))
        if not variant.interpolate:
            until = -1
        started = time.perf_counter()
        if buffers["control"][CONTROL_CANCEL]:
            return started, started
        status = self._render(struct, row0, nrows, first, until, after, ffi.from_buffer("float[]", buffers["image"]),
                              ffi.from_buffer("double[]", buffers["omega"]),
                              ffi.cast("unsigned long long *", ffi.from_buffer(buffers["earliest"])))
        if status != lib.NB_OK:
            raise EngineError("bad tile")
        buffers["control"][CONTROL_DONE] += nrows * fpixels
        return started, time.perf_counter()

    @staticmethod
    def finished(launch, timeout) -> bool:
        return True

    @staticmethod
    def processed(buffers) -> int:
        return int(buffers["control"][CONTROL_DONE])

    @staticmethod
    def cancel(buffers):
        buffers["control"][CONTROL_CANCEL] = 1

    @staticmethod
    def seconds(launch) -> float:
        return launch[1] - launch[0]

    @staticmethod
    def buffers(nrows, fpixels) -> dict:
        count = nrows * fpixels
        return {"image": np.empty(count, np.float32), "omega": np.empty(count, np.float64),
                "earliest": np.full(1, NO_SWITCH_OFF, np.uint64), "control": np.zeros(2, np.uint64),
                "sums": np.empty(nrows, np.float64)}

    @staticmethod
    def reset_control(buffers):
        buffers["control"][:] = 0

    @staticmethod
    def earliest(buffers) -> int:
        return int(buffers["earliest"][0])

    @staticmethod
    def collect(built, buffers, nrows, fpixels, image_rows, omega_rows):
        omega = buffers["omega"].reshape(nrows, fpixels)
        for row in range(nrows):         # nb_row_sums: each row's pixels in order
            total = 0.0
            for value in omega[row].tolist():
                total += value
            omega_rows[row] = total
        image_rows[:] = buffers["image"].reshape(nrows, fpixels)

    @staticmethod
    def memory_in_use() -> int:
        return 0

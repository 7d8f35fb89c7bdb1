"""The CUDA engine: nb_render.cu through CuPy (NVRTC), one thread per pixel.

It renders what the C engine renders: the same nb_problem, copied to the device with device
pointers in place of the host ones; the same physics header; the same handling of nanoBragg's
pixel-to-pixel state (the pixel that sees the first phi sweep is found on the host, and an
interpolation switch-off is resolved by rendering the pixels after the earliest one again).
The whole detector is one launch; only when the GPU's memory is short is it rendered in tiles
of rows, so a detector larger than the GPU's memory still renders.

The orchestration talks to a "device": CupyDevice on a GPU, HostDevice (numpy buffers, the
kernel's per-pixel body run by the C library) in tests, so this logic is tested everywhere.
"""
import sys
from pathlib import Path

import numpy as np

from ._nbcore import ffi, lib
from .engine_c import CEngine
from .errors import EngineError

KERNELS = Path(__file__).resolve().parent / "kernels"
POINTER_FIELDS = ("mask", "source_dir", "source_lambda", "lattice", "lattice_first", "Fhkl")
NONE = 0xFFFFFFFFFFFFFFFF       # "no switch-off" in the kernel's atomicMin
INTERP_ALL = np.iinfo(np.int64).max
THREADS = 128
TILE_PIXELS = 1 << 26           # pixels per launch; halved when the GPU runs out of memory
ARRAY_TYPES = {"double": np.float64, "unsigned char": np.uint8}


def include_dir() -> Path:
    """Where the shared headers are: shipped beside the kernels, or csrc/ in a checkout."""
    if (KERNELS / "nb_physics.h").exists():
        return KERNELS
    return Path(__file__).resolve().parents[1] / "csrc"


def compile_options(precision: str) -> tuple:
    """NVRTC options (nvcc takes the same: the compile test uses them without a GPU)."""
    single = precision == "single"
    return (f"-DNB_SINGLE={int(single)}", "--fmad=" + ("true" if single else "false"), f"-I{include_dir()}")


def kernel_source() -> str:
    """The kernel file, with a #line so compiler errors name it."""
    path = KERNELS / "nb_render.cu"
    return f'#line 1 "{path}"\n' + path.read_text()


def pack_problem(problem, device_pointers: dict) -> bytes:
    """The bytes of problem.struct with each pointer field replaced by its device address."""
    data = bytearray(ffi.buffer(problem.struct))
    size = ffi.sizeof("void *")
    for name in POINTER_FIELDS:
        offset = ffi.offsetof("nb_problem", name)
        data[offset:offset + size] = int(device_pointers.get(name, 0)).to_bytes(size, sys.byteorder)
    return bytes(data)


class CupyDevice:
    """The GPU, through CuPy."""

    def __init__(self, precision):
        import cupy
        self.xp = cupy
        self.OutOfMemory = cupy.cuda.memory.OutOfMemoryError
        try:
            module = cupy.RawModule(code=kernel_source(), options=compile_options(precision))
            self._render = module.get_function("nb_render_pixels")
            self._row_sums = module.get_function("nb_row_sums")
        except Exception as exc:
            raise EngineError(f"cannot build the CUDA kernels: {exc}") from exc

    def describe(self) -> str:
        props = self.xp.cuda.runtime.getDeviceProperties(self.xp.cuda.Device().id)
        name = props["name"]
        return name.decode() if isinstance(name, bytes) else name

    @staticmethod
    def address(array) -> int:
        return array.data.ptr

    def render(self, struct, row0, nrows, first, until, after, tile, omega, earliest):
        count = tile.size
        self._render(((count + THREADS - 1) // THREADS,), (THREADS,),
                     (struct, np.int32(row0), np.int32(nrows), np.int64(first), np.int64(until),
                      np.int64(after), tile, omega, earliest))

    def row_sums(self, omega, fpixels, nrows, sums):
        self._row_sums(((nrows + THREADS - 1) // THREADS,), (THREADS,),
                       (omega, np.int32(fpixels), np.int32(nrows), sums))

    @staticmethod
    def get(array) -> np.ndarray:
        return array.get()

    def timed(self, launch) -> float:
        """Run launch() between two CUDA events; seconds on the GPU."""
        start, stop = self.xp.cuda.Event(), self.xp.cuda.Event()
        start.record()
        launch()
        stop.record()
        stop.synchronize()
        return self.xp.cuda.get_elapsed_time(start, stop) / 1000.0

    def memory_in_use(self) -> int:
        return self.xp.get_default_memory_pool().total_bytes()


class HostDevice:
    """numpy buffers and the kernel's per-pixel body in C: the CUDA engine without a GPU."""

    class OutOfMemory(MemoryError):
        pass

    def __init__(self, precision):
        self.xp = np
        self._render = lib.nb_render_tile_single if precision == "single" else lib.nb_render_tile

    @staticmethod
    def describe() -> str:
        return "host emulation"

    @staticmethod
    def address(array) -> int:
        return array.ctypes.data

    def render(self, struct, row0, nrows, first, until, after, tile, omega, earliest):
        status = self._render(ffi.cast("nb_problem *", ffi.from_buffer(struct)), row0, nrows, first, until,
                              after, ffi.from_buffer("float[]", tile), ffi.from_buffer("double[]", omega),
                              ffi.cast("unsigned long long *", ffi.from_buffer(earliest)))
        if status != lib.NB_OK:
            raise EngineError("bad tile")

    @staticmethod
    def row_sums(omega, fpixels, nrows, sums):
        sums[:] = omega.reshape(nrows, fpixels).sum(axis=1)

    @staticmethod
    def get(array) -> np.ndarray:
        return np.array(array)

    @staticmethod
    def timed(launch) -> float:
        import time
        start = time.perf_counter()
        launch()
        return time.perf_counter() - start

    @staticmethod
    def memory_in_use() -> int:
        return 0


class CudaEngine:
    name = "cuda"

    def __init__(self, precision="double", device=None):
        self.precision = precision
        self.device = device or CupyDevice(precision)
        self._host = CEngine(precision)          # traces of single pixels
        self._uploaded = None
        self.tile_pixels = TILE_PIXELS
        self.kernel_seconds = 0.0          # time in the render kernels (CUDA events)
        self.peak_device_bytes = 0
    def describe(self) -> str:
        return f"the CUDA engine ({self.device.describe()}, {self.precision} precision)"

    def _device_problem(self, problem):
        """Tables and struct on the device, once per problem."""
        if self._uploaded is not None and self._uploaded[0] is problem:
            return self._uploaded[1]
        xp = self.device.xp
        try:
            arrays = {name: xp.asarray(np.frombuffer(ffi.buffer(array), ARRAY_TYPES[ffi.typeof(array).item.cname]))
                      for name, array in problem.arrays.items()}
            packed = pack_problem(problem, {name: self.device.address(a) for name, a in arrays.items()})
            struct = xp.asarray(np.frombuffer(packed, dtype=np.uint8))
        except self.device.OutOfMemory as exc:
            raise EngineError(f"the GPU has not enough memory for the problem's tables: {exc}") from exc
        self._uploaded = (problem, (struct, arrays))     # arrays stay referenced while in use
        return struct, arrays

    def new_state(self, interpolate):
        from .render import new_render_state
        return new_render_state(interpolate, single=self.precision == "single")

    def render_image(self, problem, pixels, state):
        """Every pixel of the detector into `pixels` (a float buffer): one launch, or tiles of
        rows while the GPU's memory is short; progress is reported when the image is done."""
        struct, _ = self._device_problem(problem)
        p = problem.struct
        image = np.frombuffer(ffi.buffer(pixels), dtype=np.float32).reshape(p.spixels, p.fpixels)
        omega_rows = np.zeros(p.spixels)
        first = state.first_pixel = lib.nb_first_sweep_pixel(p, 0, p.spixels)
        switch = None                      # the earliest switch-off so far, a pixel index
        row = 0
        while row < p.spixels:
            if state.cancel:
                state.cancelled = 1
                return
            rows = max(1, min(p.spixels - row, self.tile_pixels // max(1, p.fpixels)))
            interpolating = bool(state.interpolate) and switch is None
            try:
                tile_switch = self._render_tile(struct, row, rows, p.fpixels, first, interpolating,
                                                image, omega_rows)
            except self.device.OutOfMemory as exc:
                if rows == 1:
                    raise EngineError(f"the GPU is out of memory even for one row of pixels: {exc}") from exc
                self.tile_pixels = max(p.fpixels, self.tile_pixels // 2)
                continue
            if tile_switch is not None:
                switch = tile_switch
            row += rows
        total = 0.0
        for value in omega_rows.tolist():      # rows in order, as the C engine sums them
            total += value
        state.omega_sum = total
        if switch is not None:
            self._note_switch_off(problem, switch, first, state)
        state.done = problem.rendered_count()

    def _render_tile(self, struct, row0, nrows, fpixels, first, interpolating, image, omega_rows):
        """Rows [row0, row0 + nrows) into image and omega_rows; returns the pixel that switched
        interpolation off, or None."""
        xp = self.device.xp
        tile = xp.empty(nrows * fpixels, dtype=xp.float32)
        omega = xp.empty(nrows * fpixels, dtype=xp.float64)
        earliest = xp.full(1, NONE, dtype=xp.uint64)
        sums = xp.empty(nrows, dtype=xp.float64)
        self.kernel_seconds += self.device.timed(lambda: self.device.render(
            struct, row0, nrows, first, INTERP_ALL if interpolating else -1, -1, tile, omega, earliest))
        switch = None
        if interpolating:
            switch = int(self.device.get(earliest)[0])
            if switch == NONE:
                switch = None
            else:
                # every pixel after the earliest switch-off, again, without interpolation
                self.kernel_seconds += self.device.timed(lambda: self.device.render(
                    struct, row0, nrows, first, switch, switch, tile, omega, earliest))
        self.peak_device_bytes = max(self.peak_device_bytes, self.device.memory_in_use())
        self.device.row_sums(omega, fpixels, nrows, sums)
        image[row0:row0 + nrows] = self.device.get(tile).reshape(nrows, fpixels)
        omega_rows[row0:row0 + nrows] = self.device.get(sums)
        return switch

    def _note_switch_off(self, problem, pixel, first, state):
        """Report the switch-off with the indices of the evaluation that caused it, and
        nanoBragg's progress counter at that pixel."""
        spixel, fpixel = divmod(pixel, problem.struct.fpixels)
        _, pixel_state = self._host.trace_with_state(problem, fpixel, spixel, int(pixel == first), 1)
        state.switched_off, state.off_pixel = 1, pixel
        state.off_h, state.off_k, state.off_l = pixel_state.off_h, pixel_state.off_k, pixel_state.off_l
        state.off_h0, state.off_k0, state.off_l0 = pixel_state.off_h0, pixel_state.off_k0, pixel_state.off_l0
        state.off_done = lib.nb_rendered_before(problem.struct, pixel)
        state.off_known = 1

    def trace(self, problem, fpixel, spixel, first_sweep, interpolate):
        return self._host.trace(problem, fpixel, spixel, first_sweep, interpolate)

    def profile(self) -> dict:
        return {"kernel_seconds": self.kernel_seconds, "device_peak_bytes": self.peak_device_bytes}

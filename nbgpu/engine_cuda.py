"""The CUDA engine: nb_render.cu through CuPy (NVRTC), one kernel variant per feature set.

It renders what the C engine renders: the same nb_problem (in constant memory, with device
pointers in place of the host ones), the same physics header, the same handling of nanoBragg's
pixel-to-pixel state (the pixel that sees the first phi sweep is found on the host, and an
interpolation switch-off is resolved by rendering the pixels after the earliest one again).
The arithmetic is the GPU's (NB_KERNEL_ARITHMETIC in nb_physics.h): within the exact tier of the
C engine, not bit for bit.

Each problem is rendered by the kernel compiled for the features it uses (`Variant`): what it
does not use is compiled out, which keeps the register count within REGISTER_BUDGET (a variant
over it is compiled again with that cap).  The whole detector is one launch (a thread a pixel);
only when the GPU's memory is short is it rendered in tiles of rows.  While a launch runs, the
host reads the pixels done from a control word (the progress meter) and can set another to
stop the kernel (Ctrl-C); both words go through a small pinned buffer on a second stream, so
they never wait for the render.  A fault in a launch is an EngineError, not a raw CUDA one.

A process has one `__constant__` problem struct per compiled kernel (CuPy shares a module built
from the same source and options), so renders on the GPU take turns (CONSTANT_MEMORY).

The orchestration talks to a "device": CupyDevice on a GPU, HostDevice (numpy buffers, the
kernel's per-pixel body run by the C library, csrc/nb_kernel_host.c) in tests, so this logic
is tested everywhere.
"""
import re
import sys
import threading
import time
from pathlib import Path

import numpy as np

from ._nbcore import ffi, lib
from .errors import EngineError

KERNELS = Path(__file__).resolve().parent / "kernels"
HEADERS = ("nb_problem.h", "nb_physics.h", "nb_tile.h")
# the struct's pointer fields: replaced by device addresses when it is copied to the GPU
POINTER_FIELDS = tuple(name for name, field in ffi.typeof("nb_problem").fields if field.type.kind == "pointer")
NO_SWITCH_OFF = 0xFFFFFFFFFFFFFFFF     # the earliest switch-off before any: the atomicMin's start
INTERP_ALL = np.iinfo(np.int64).max
THREADS = 128
MAX_BLOCKS = 2**31 - 1          # a grid's x dimension
ROW_SUM_BLOCK = (32, 8)         # nb_row_sums: 32 rows a block
TILE_PIXELS = 1 << 26           # pixels per launch; halved when the GPU runs out of memory
REGISTER_BUDGET = {"double": 128, "single": 96}
CONTROL_DONE, CONTROL_CANCEL = 0, 1     # nb_render.cu's control words
POLL_SECONDS = 0.02
EVENT_NOT_READY = 600           # cudaErrorNotReady: what an event query returns while the work runs
CONSTANT_MEMORY = threading.Lock()      # held by a render on the GPU from its struct's upload to its end
ARRAY_TYPES = {"double": np.float64, "unsigned char": np.uint8}


def kernel_source() -> str:
    """nb_render.cu with the text of its headers in place of the #include lines: CuPy caches a
    compiled kernel by its source and options, so every change to a header must be in the
    source (with -I, an edited header would leave the old kernel in the cache).  #line
    directives keep the compiler's messages pointing at the right file and line."""
    path = KERNELS / "nb_render.cu"
    parts = [f'#line 1 "{path}"\n']
    for number, line in enumerate(path.read_text().splitlines(keepends=True), 1):
        included = re.match(r'#include "([^"]+)"', line)
        if not included:
            parts.append(line)
            continue
        name = included.group(1)
        if name not in HEADERS:
            raise EngineError(f"nb_render.cu includes {name}, which is not one of the shared headers")
        parts.append(f'#line 1 "{KERNELS / name}"\n{(KERNELS / name).read_text()}\n#line {number + 1} "{path}"\n')
    return "".join(parts)


def launch_grid(pixels: int) -> int:
    """Blocks of a launch: one thread per pixel, which nb_render_pixels requires.  The block
    scheduler hands each SM a new block as one ends, so pixels of different cost (ROI, mask,
    the switch-off pass) and any occupancy leave no idle last wave, as a fixed grid of resident
    blocks striding over the image would."""
    blocks = max(1, -(-pixels // THREADS))
    if blocks > MAX_BLOCKS:
        raise EngineError(f"a tile of {pixels} pixels is more than one launch can render")
    return blocks


class Variant:
    """The features one kernel is compiled for: the NB_V_* values of nb_physics.h."""
    __slots__ = ("shape", "interpolate", "curved", "absorb", "polar", "dmin")
    CHOICES = {"shape": (0, 1, 2, 3), "interpolate": (0, 1), "curved": (0, 1), "absorb": (0, 1),
               "polar": (0, 1, 2), "dmin": (0, 1)}

    def __init__(self, shape=0, interpolate=0, curved=0, absorb=0, polar=1, dmin=0):
        self.shape, self.interpolate, self.curved = shape, interpolate, curved
        self.absorb, self.polar, self.dmin = absorb, polar, dmin

    @classmethod
    def of(cls, p, interpolate) -> "Variant":
        """The variant for problem struct p, whose run starts with interpolation `interpolate`
        (the rules of nb_physics.h's run-time macros, so both agree on every such problem)."""
        if p.nopolar and not p.oversample_polar:
            polar = 0                       # polarization never computed
        else:
            polar = 1 if p.kahn_factor == 0.0 else 2
        return cls(shape=p.xtal_shape, interpolate=int(bool(interpolate)), curved=int(bool(p.curved_detector)),
                   absorb=int(p.detector_thick != 0.0 or bool(p.oversample_thick)), polar=polar,
                   dmin=int(p.dmin > 0.0))

    def key(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other):
        return isinstance(other, Variant) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return "Variant(" + ", ".join(f"{name}={getattr(self, name)}" for name in self.__slots__) + ")"

    def defines(self) -> tuple:
        return ("-DNB_VARIANT",) + tuple(f"-DNB_V_{name.upper()}={getattr(self, name)}" for name in self.__slots__)

    def as_compiled(self, struct):
        """The problem as this variant's kernel sees it (for the host emulation): the features the
        variant compiles out switched off in the struct.  For the variant chosen for a problem
        this changes nothing."""
        p = ffi.new("nb_problem *")
        ffi.memmove(p, struct, ffi.sizeof("nb_problem"))
        p.xtal_shape, p.curved_detector = self.shape, self.curved
        if not self.absorb:
            p.detector_thick, p.oversample_thick = 0.0, 0
        if self.polar == 0:
            p.nopolar, p.oversample_polar = 1, 0
        elif self.polar == 1:
            p.kahn_factor = 0.0
        if not self.dmin:
            p.dmin = 0.0
        return p


def compile_options(precision: str, variant: Variant | None = None, max_registers: int | None = None) -> tuple:
    """NVRTC options (nvcc takes the same: the kernel report and the compile tests use them
    without a GPU).  CuPy appends -ftz=true to whatever is given (nb_to_float keeps the image's
    subnormal values regardless)."""
    single = precision == "single"
    options = (f"-DNB_SINGLE={int(single)}", "-DNB_KERNEL_ARITHMETIC=1", "--fmad=" + ("true" if single else "false"))
    options += variant.defines() if variant is not None else ()
    return options + ((f"--maxrregcount={max_registers}",) if max_registers else ())


def within_budget(compile, registers_of, precision: str):
    """compile(None), or compile(cap) with the register budget as cap when the first build is
    over it: (what was built, whether capped).  The engine and the kernel report build so."""
    first = compile(None)
    budget = REGISTER_BUDGET[precision]
    if registers_of(first) > budget:
        return compile(budget), True
    return first, False


def pack_problem(problem, device_pointers: dict) -> bytes:
    """The bytes of problem.struct with each pointer field replaced by its device address."""
    data = bytearray(ffi.buffer(problem.struct))
    size = ffi.sizeof("void *")
    for name in POINTER_FIELDS:
        offset = ffi.offsetof("nb_problem", name)
        data[offset:offset + size] = int(device_pointers.get(name, 0)).to_bytes(size, sys.byteorder)
    return bytes(data)


def host_array(array) -> np.ndarray:
    """A C array of the problem as a numpy array over the same memory."""
    return np.frombuffer(ffi.buffer(array), ARRAY_TYPES[ffi.typeof(array).item.cname])


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


class CudaEngine:
    name = "cuda"

    def __init__(self, precision="double", device=None):
        self.precision = precision
        self.device = device or CupyDevice(precision)
        self._uploaded = None              # (problem, struct bytes, resident tables: name -> (host, device))
        self.uploads = 0                   # tables copied to the device so far
        self.tile_pixels = TILE_PIXELS
        self.kernel_seconds = 0.0          # time in the render kernels (CUDA events)
        self.peak_device_bytes = 0
        self.variant = None

    def describe(self) -> str:
        return f"the CUDA engine ({self.device.describe()}, {self.precision} precision)"

    def new_state(self, interpolate):
        from .render import new_render_state
        return new_render_state(interpolate, single=self.precision == "single")

    def prepare(self, problem, interpolate):
        """Build the problem's kernel variant and upload its tables: what can fail before a
        render (no NVRTC, no memory) fails here, while the C engine can still take over."""
        try:
            self.device.build(Variant.of(problem.struct, interpolate))
            self._device_problem(problem)
        except self.device.Errors as exc:
            raise EngineError(f"the GPU cannot take the problem: {exc}") from exc

    def _device_problem(self, problem):
        """The struct's bytes with the device addresses of its tables, uploaded once per problem.
        A table the previous problem shared (the structure factors of the frames of a sweep)
        stays on the device."""
        if self._uploaded is not None and self._uploaded[0] is problem:
            return self._uploaded[1]
        kept = self._uploaded[2] if self._uploaded is not None else {}
        resident = {}            # name -> (host array, device array)
        try:
            for name, array in problem.arrays.items():
                same = kept.get(name)
                resident[name] = same if same is not None and same[0] is array else \
                    (array, self.device.to_device(host_array(array)))
        except self.device.OutOfMemory as exc:
            raise EngineError(f"the GPU has not enough memory for the problem's tables: {exc}") from exc
        self.uploads += sum(1 for name in resident if resident[name] is not kept.get(name))
        packed = pack_problem(problem, {name: self.device.address(device) for name, (_, device) in resident.items()})
        self._uploaded = (problem, packed, resident)     # the device tables stay referenced while in use
        return packed

    def render_image(self, problem, pixels, state):
        """Every pixel of the detector into `pixels` (a float buffer): one launch, or tiles of
        rows while the GPU's memory is short.  Progress is published as the kernel goes when
        no interpolation switch-off can reorder it, else when the image is done."""
        with self.device.lock:
            try:
                self._render_image(problem, pixels, state)
            except self.device.Errors as exc:
                raise EngineError(f"the CUDA engine failed: {exc}") from exc

    def _render_image(self, problem, pixels, state):
        self.variant = Variant.of(problem.struct, state.interpolate)
        built = self.device.build(self.variant)
        packed = self._device_problem(problem)
        p = problem.struct
        image = np.frombuffer(ffi.buffer(pixels), dtype=np.float32).reshape(p.spixels, p.fpixels)
        omega_rows = np.zeros(p.spixels)
        rendered, total = problem.rendered_count(), max(1, p.fpixels * p.spixels)
        first = state.first_pixel = lib.nb_first_sweep_pixel(p, 0, p.spixels)
        switch = None                      # the earliest switch-off so far, a pixel index
        row = 0
        while row < p.spixels:
            rows = max(1, min(p.spixels - row, self.tile_pixels // max(1, p.fpixels)))
            interpolating = bool(state.interpolate) and switch is None

            def progress(processed, done_before=row * p.fpixels):
                if not state.interpolate:          # no warning to place: the counter may run ahead
                    state.done = (done_before + processed) * rendered // total
            try:
                tile_switch = self._render_tile(built, packed, row, rows, p.fpixels, first, interpolating,
                                                image, omega_rows, state, progress)
            except self.device.OutOfMemory as exc:
                if rows == 1:
                    raise EngineError(f"the GPU is out of memory even for one row of pixels: {exc}") from exc
                self.tile_pixels = max(p.fpixels, self.tile_pixels // 2)
                continue
            if state.cancel:
                state.cancelled = 1
                return
            if tile_switch is not None:
                switch = tile_switch
            row += rows
        total_omega = 0.0
        for value in omega_rows.tolist():      # rows in order, as the C engine sums them
            total_omega += value
        state.omega_sum = total_omega
        if switch is not None:
            self._note_switch_off(problem, switch, first, state)
        state.done = rendered

    def _render_tile(self, built, packed, row0, nrows, fpixels, first, interpolating, image, omega_rows, state,
                     progress):
        """Rows [row0, row0 + nrows) into image and omega_rows; returns the pixel that switched
        interpolation off, or None."""
        device = self.device
        buffers = device.buffers(nrows, fpixels)
        self._run(device.start(built, packed, row0, nrows, fpixels, first, INTERP_ALL if interpolating else -1, -1,
                               buffers), buffers, state, progress)
        switch = None
        if interpolating and not state.cancel:
            switch = device.earliest(buffers)
            if switch == NO_SWITCH_OFF:
                switch = None
            else:
                # every pixel after the earliest switch-off, again, without interpolation
                device.reset_control(buffers)
                self._run(device.start(built, packed, row0, nrows, fpixels, first, switch, switch, buffers),
                          buffers, state, lambda processed: None)
        self.peak_device_bytes = max(self.peak_device_bytes, device.memory_in_use())
        if not state.cancel:
            device.collect(built, buffers, nrows, fpixels, image[row0:row0 + nrows], omega_rows[row0:row0 + nrows])
        return switch

    def _run(self, launch, buffers, state, progress):
        """Wait for a pass, publishing its progress and passing on a cancel."""
        cancelled = False
        while not self.device.finished(launch, POLL_SECONDS):
            if state.cancel and not cancelled:
                self.device.cancel(buffers)
                cancelled = True
            progress(self.device.processed(buffers))
        self.kernel_seconds += self.device.seconds(launch)

    def _note_switch_off(self, problem, pixel, first, state):
        """Report the switch-off with the indices of the evaluation that caused it (the pixel
        traced with the GPU's arithmetic), and nanoBragg's progress counter at that pixel."""
        spixel, fpixel = divmod(pixel, problem.struct.fpixels)
        _, pixel_state = self.trace_with_state(problem, fpixel, spixel, int(pixel == first), 1)
        state.switched_off, state.off_pixel = 1, pixel
        state.off = pixel_state.off
        state.off_done = lib.nb_rendered_before(problem.struct, pixel)
        state.off_known = 1

    def trace(self, problem, fpixel, spixel, first_sweep, interpolate):
        return self.trace_with_state(problem, fpixel, spixel, first_sweep, interpolate)[0]

    def trace_with_state(self, problem, fpixel, spixel, first_sweep, interpolate):
        """A pixel recomputed on the host with the GPU's arithmetic (nb_kernel_host.c)."""
        state = ffi.new("nb_pixel_state *")
        state.first_sweep, state.interpolate = first_sweep, interpolate
        trace = ffi.new("nb_trace *")
        tracer = lib.nb_trace_pixel_single if self.precision == "single" else lib.nb_trace_pixel_kernel
        if tracer(problem.struct, fpixel, spixel, state, trace) != lib.NB_OK:
            raise EngineError(f"cannot trace pixel {fpixel} {spixel}: outside the detector")
        return trace, state

    def profile(self) -> dict:
        return {"kernel_seconds": self.kernel_seconds, "device_peak_bytes": self.peak_device_bytes,
                "variant": dict(zip(Variant.__slots__, self.variant.key())) if self.variant else None}

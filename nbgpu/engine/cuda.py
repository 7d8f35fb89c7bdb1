"""The CUDA engine: nb_render.cu through CuPy (NVRTC), one kernel variant per feature set.

It renders what the C engine renders: the same nb_problem (in constant memory, with device
pointers in place of the host ones), the same physics header, the same handling of nanoBragg's
pixel-to-pixel state (the pixel that sees the first phi sweep is found on the host, and an
interpolation switch-off is resolved by rendering the pixels after the earliest one again).
The arithmetic is the GPU's (NB_KERNEL_ARITHMETIC in nb_physics.h): within the exact tier of the
C engine, not bit for bit.

Each problem is rendered by the kernel compiled for the features it uses (cuda_kernels.Variant).
The whole detector is one launch (a thread a pixel); only when the GPU's memory is short is it
rendered in tiles of rows.  While a launch runs, the host reads the pixels done from a control
word (the progress meter) and can set another to stop the kernel (Ctrl-C).  The launches run
on a device (cuda_devices): the GPU, or the host emulation in tests.
"""
import numpy as np

from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import EngineError
from nbgpu.engine.cuda_devices import NO_SWITCH_OFF, CupyDevice
from nbgpu.engine.cuda_kernels import Variant, host_array, pack_problem
from nbgpu.engine.protocol import Engine

INTERP_ALL = np.iinfo(np.int64).max
TILE_PIXELS = 1 << 26           # pixels per launch; halved when the GPU runs out of memory
POLL_SECONDS = 0.02


def refuse_panels(problem):
    """A multi-panel problem (nb_problem.panels) renders on the C engine for now: the kernel
    would take each panel as the one-panel problem nb_panel_view makes of it, one launch per
    panel with the orchestration below; not built yet."""
    if problem.struct.npanels > 0:
        raise EngineError("multi-panel detectors (-geom/-expt) render on the C engine for now")


class CudaEngine(Engine):
    name = "cuda"

    def __init__(self, precision="double", device=None):
        self.precision = precision
        # traces recompute a pixel on the host with the GPU's arithmetic (nb_kernel_host.c)
        self.tracer = lib.nb_trace_pixel_single if precision == "single" else lib.nb_trace_pixel_kernel
        self.device = device or CupyDevice(precision)
        self._uploaded = None              # (problem, struct bytes, resident tables: name -> (host, device))
        self.uploads = 0                   # tables copied to the device so far
        self.tile_pixels = TILE_PIXELS
        self.kernel_seconds = 0.0          # time in the render kernels (CUDA events)
        self.peak_device_bytes = 0
        self.variant = None

    def describe(self) -> str:
        return f"the CUDA engine ({self.device.describe()}, {self.precision} precision)"

    def prepare(self, problem, interpolate):
        """Build the problem's kernel variant and upload its tables: what can fail before a
        render (no NVRTC, no memory) fails here, while the C engine can still take over."""
        refuse_panels(problem)
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
        refuse_panels(problem)
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

    def profile(self) -> dict:
        return {"kernel_seconds": self.kernel_seconds, "device_peak_bytes": self.peak_device_bytes,
                "variant": dict(zip(Variant.__slots__, self.variant.key())) if self.variant else None}

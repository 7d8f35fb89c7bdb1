"""The CUDA engine: nb_render.cu through CuPy (NVRTC), one kernel variant per feature set.

It renders what the C engine renders: the same nb_problem (in constant memory, with device
pointers in place of the host ones), the same physics header, the same handling of nanoBragg's
pixel-to-pixel state (the pixel that sees the first phi sweep is found on the host, and an
interpolation switch-off is resolved by rendering the pixels after the earliest one again).
The arithmetic is the GPU's (NB_KERNEL_ARITHMETIC in nb_physics.h): within the exact tier of the
C engine, not bit for bit.

Each problem is rendered by the kernel compiled for the features it uses (cuda_kernels.Variant).
The whole detector is one launch (a thread a pixel); only when the GPU's memory is short is it
rendered in tiles of rows.  A multi-panel detector is rendered panel by panel in one call, each
panel as the one-panel problem nb_panel_view makes of it (Problem.panel_views), with that
panel's own first phi sweep and switch-off, as the C engine renders it; the tables are uploaded
once for all panels.  While a launch runs, the host reads the pixels done from a control
word (the progress meter) and can set another to stop the kernel (Ctrl-C).  The launches run
on a device (cuda_devices): the GPU, or the host emulation in tests.
"""
import numpy as np

from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import EngineError
from nbgpu.engine.cuda_devices import NO_SWITCH_OFF, CupyDevice
from nbgpu.engine.cuda_kernels import HOST_TABLES, Variant, host_array, pack_problem
from nbgpu.engine.protocol import Engine

INTERP_ALL = np.iinfo(np.int64).max
TILE_PIXELS = 1 << 26           # pixels per launch; halved when the GPU runs out of memory
POLL_SECONDS = 0.02


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
        try:
            self.device.build(Variant.of(problem.struct, interpolate))
            self._device_problem(problem)
        except self.device.Errors as exc:
            raise EngineError(f"the GPU cannot take the problem: {exc}") from exc

    def _device_problem(self, problem):
        """[(struct, its bytes with the device addresses of its tables)] for each one-panel
        problem of problem.panel_views(); the tables are uploaded once per problem, for all its
        panels.  A table the previous problem shared (the structure factors of the frames of a
        sweep) stays on the device."""
        if self._uploaded is not None and self._uploaded[0] is problem:
            return self._uploaded[1]
        kept = self._uploaded[2] if self._uploaded is not None else {}
        resident = {}            # name -> (host array, device array)
        try:
            for name, array in problem.arrays.items():
                if name in HOST_TABLES:
                    continue
                same = kept.get(name)
                resident[name] = same if same is not None and same[0] is array else \
                    (array, self.device.to_device(host_array(array)))
        except self.device.OutOfMemory as exc:
            raise EngineError(f"the GPU has not enough memory for the problem's tables: {exc}") from exc
        self.uploads += sum(1 for name in resident if resident[name] is not kept.get(name))
        addresses = {name: self.device.address(device) for name, (_, device) in resident.items()}
        panels = [(view, pack_problem(view, addresses, uploaded=problem.struct)) for view in problem.panel_views()]
        self._uploaded = (problem, panels, resident)     # the device tables stay referenced while in use
        return panels

    def render_image(self, problem, pixels, state):
        """Every pixel of the detector into `pixels` (a float buffer): one launch, or tiles of
        rows while the GPU's memory is short; a multi-panel detector panel by panel.  Progress
        is published as the kernel goes when no interpolation switch-off can reorder it, and as
        each panel is done."""
        with self.device.lock:
            try:
                self._render_image(problem, pixels, state)
            except self.device.Errors as exc:
                raise EngineError(f"the CUDA engine failed: {exc}") from exc

    def _render_image(self, problem, pixels, state):
        p = problem.struct
        self.variant = Variant.of(p, state.interpolate)       # a panel's view changes no feature
        built = self.device.build(self.variant)
        panels = self._device_problem(problem)
        image = np.frombuffer(ffi.buffer(pixels), dtype=np.float32).reshape(p.spixels, p.fpixels)
        omega_rows = np.zeros(p.spixels)
        rendered, total = problem.rendered_count(), max(1, p.fpixels * p.spixels)
        noted = False                      # the earliest switch-off of all panels is reported
        state.done = 0
        for index, (view, packed) in enumerate(panels):
            rows = slice(index * view.spixels, (index + 1) * view.spixels)
            first, switch = self._render_panel(built, view, packed, rows.start, image[rows], omega_rows[rows], state,
                                               lambda done: done * rendered // total)
            if index == 0:
                state.first_pixel = first
            if state.cancel:
                state.cancelled = 1
                return
            if switch is not None and not noted:       # panels in row order: the first is the earliest
                self._note_switch_off(problem, view, switch, first, rows.start * p.fpixels, state)
                noted = True
            if index < len(panels) - 1:    # every pixel of the panels so far is final
                state.done = max(state.done, lib.nb_rendered_before(p, rows.stop * p.fpixels))
        total_omega = 0.0
        for value in omega_rows.tolist():      # rows in order, as the C engine sums them
            total_omega += value
        state.omega_sum = total_omega
        state.done = rendered

    def _render_panel(self, built, view, packed, row_offset, image, omega_rows, state, scaled):
        """One one-panel problem (`view`, `packed` for the device) into its rows of the image, as
        a one-panel render does: its own first-sweep pixel, its own interpolation switch-off and
        the pixels after it again.  row_offset: its first row in the stacked image, for the meter
        (`scaled`: pixels launched -> the counter).  Returns (first-sweep pixel, switch-off pixel
        or None), in the panel's pixels."""
        first = lib.nb_first_sweep_pixel(view, 0, view.spixels)
        switch = None                      # the earliest switch-off so far, a pixel index
        row = 0
        while row < view.spixels:
            rows = max(1, min(view.spixels - row, self.tile_pixels // max(1, view.fpixels)))
            interpolating = bool(state.interpolate) and switch is None

            def progress(processed, done_before=(row_offset + row) * view.fpixels):
                if not state.interpolate:          # no warning to place: the counter may run ahead
                    state.done = max(state.done, scaled(done_before + processed))
            try:
                tile_switch = self._render_tile(built, packed, row, rows, view.fpixels, first, interpolating,
                                                image, omega_rows, state, progress)
            except self.device.OutOfMemory as exc:
                if rows == 1:
                    raise EngineError(f"the GPU is out of memory even for one row of pixels: {exc}") from exc
                self.tile_pixels = max(view.fpixels, self.tile_pixels // 2)
                continue
            if state.cancel:
                break
            if tile_switch is not None:
                switch = tile_switch
            row += rows
        return first, switch

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

    def _note_switch_off(self, problem, view, pixel, first, offset, state):
        """Report the switch-off at `pixel` of panel `view` (whose pixels start at `offset` of
        the stacked image) with the indices of the evaluation that caused it (the pixel traced
        with the GPU's arithmetic), and nanoBragg's progress counter at that pixel, in the
        stacked image's pixels as the C engine reports it."""
        spixel, fpixel = divmod(pixel, view.fpixels)
        _, pixel_state = self.trace_with_state(view, fpixel, spixel, int(pixel == first), 1)
        state.switched_off, state.off_pixel = 1, offset + pixel
        state.off = pixel_state.off
        state.off_done = lib.nb_rendered_before(problem.struct, offset + pixel)
        state.off_known = 1

    def profile(self) -> dict:
        return {"kernel_seconds": self.kernel_seconds, "device_peak_bytes": self.peak_device_bytes,
                "variant": dict(zip(Variant.__slots__, self.variant.key())) if self.variant else None}

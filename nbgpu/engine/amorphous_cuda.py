"""nonBragg's CUDA engine: nb_amorphous.cu (one thread a rendered pixel) through CuPy (NVRTC), or
its host emulation (csrc/nb_amorphous.c's nba_render_pixels_host: the kernel's body, one pixel at
a time) where there is no GPU, and the choice between it and the C engine (-backend).

It renders what the C engine renders, with the same struct (nba_problem, device addresses in
place of the host ones) and the same per-pixel physics (nb_amorphous_physics.h), built with
--fmad=false: products, quotients, roots and sums are the C engine's to the bit.  sin, cos and
atan2 (the curved detector, a Kahn factor) are CUDA's own on the GPU and may differ in the last
bits; the host emulation uses the C library's.  Each sub-pixel's solid angle comes back to the
host and is added in nonBragg's order, so the printed sum is the C engine's too.  Everything
after the render (statistics, conversions, noise, -printout) is the C engine's, on the image.

Only a strictly increasing table renders here: a table that is not carries its search index
from pixel to pixel (nonBragg's `nearest`), and so do -img's bins; those stay on the C engine.
"""
from __future__ import annotations

import sys
from pathlib import Path

from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import EngineError
from nbgpu.engine.kernel_source import CupyKernel, HostKernel, inlined_source
from nbgpu.engine.amorphous import BLOCK_SUBPIXELS, Amorphous

KERNELS = Path(__file__).resolve().parent / "kernels"
KERNEL = "nb_amorphous.cu"
HEADERS = ("nb_amorphous_problem.h", "nb_amorphous_physics.h")
KERNEL_NAME = "nba_render_pixels"
OPTIONS = ("--fmad=false",)         # IEEE division and square root are NVRTC's defaults
THREADS = 128
REGISTER_BUDGET = 128               # cuda_kernels.REGISTER_BUDGET["double"]: the kernel report's
POINTER_FIELDS = tuple(name for name, field in ffi.typeof("nba_problem").fields if field.type.kind == "pointer")


def kernel_source() -> str:
    """The kernel with its shared headers pasted in (engine.kernel_source)."""
    return inlined_source(KERNELS, KERNEL, HEADERS)


def table_sizes(p) -> dict:
    """The element count of each array the struct points to that the kernel reads."""
    return {"polar_axis": 3 * p.polar_axes, "incident": 3 * p.sources, "incident_polar": 3 * p.sources,
            "source_lambda": p.sources, "source_I": p.sources, "stol_of": p.stols, "F_of": p.stols,
            "polint_den": 4 * p.stols, "bucket_start": p.buckets}


def unsupported(engine: Amorphous) -> str:
    """Why the kernel cannot render this problem ("" when it can)."""
    if not engine.struct.monotonic:
        return "a table that is not strictly increasing carries its search index from pixel to pixel"
    if engine.setup.img is not None:
        return "-img bins its pixels with the search index carried from pixel to pixel"
    return ""


class CupyAmorphous(CupyKernel):
    """The GPU, through CuPy."""
    kernel_name, options, register_budget = KERNEL_NAME, OPTIONS, REGISTER_BUDGET
    source = staticmethod(kernel_source)

    def upload(self, engine: Amorphous):
        """The struct (device addresses in it) and its tables on the device; a zero image."""
        import numpy as np
        cupy, p = self.xp, engine.struct
        data, size = bytearray(ffi.buffer(p)), ffi.sizeof("void *")
        self.tables = {}
        for name in POINTER_FIELDS:
            count = table_sizes(p).get(name, 0)
            address = 0
            if count and getattr(p, name) != ffi.NULL:
                cname = ffi.typeof(getattr(p, name)).item.cname
                dtype = np.int32 if cname == "int" else np.float64
                host = np.frombuffer(ffi.buffer(getattr(p, name), count * ffi.sizeof(cname)), dtype)
                self.tables[name] = cupy.asarray(host)
                address = self.tables[name].data.ptr
            offset = ffi.offsetof("nba_problem", name)
            data[offset:offset + size] = int(address).to_bytes(size, sys.byteorder)
        self.struct = cupy.asarray(np.frombuffer(bytes(data), np.uint8))
        self.image = cupy.zeros(engine.count, dtype=cupy.float32)

    def launch(self, s, rows, f0, width, subs):
        """One pass over rows [s, s + rows): the sub-pixels' solid angles, on the host."""
        import numpy as np
        omegas = self.xp.empty(rows * width * subs, dtype=self.xp.float64)
        blocks = max(1, -(-rows * width // THREADS))
        self.build()((blocks,), (THREADS,), (self.struct, np.int32(s), np.int32(rows), np.int32(f0),
                                             np.int32(width), self.image, omegas))
        return omegas.get()

    def image_bytes(self) -> bytes:
        return self.image.get().tobytes()


class HostAmorphous(HostKernel):
    """The kernel's launches run on the host (nba_render_pixels_host): the engine without a GPU."""

    def upload(self, engine: Amorphous):
        import numpy as np
        self.struct = engine.struct
        self.image = np.zeros(engine.count, np.float32)

    def launch(self, s, rows, f0, width, subs):
        import numpy as np
        omegas = np.empty(rows * width * subs, np.float64)
        lib.nba_render_pixels_host(self.struct, s, rows, f0, width, ffi.from_buffer("float[]", self.image),
                                   ffi.from_buffer("double[]", omegas))
        return omegas

    def image_bytes(self) -> bytes:
        return self.image.tobytes()


class AmorphousCuda(Amorphous):
    """Amorphous, rendered by the kernel on `device` (CupyAmorphous or HostAmorphous)."""

    def __init__(self, setup, threads: int = 0, device=None):
        super().__init__(setup, threads)
        reason = unsupported(self)
        if reason:
            raise EngineError(reason)
        self.device = device if device is not None else CupyAmorphous()

    def describe(self) -> str:
        return f"the CUDA engine ({self.device.describe()}, double precision)"

    def prepare(self):
        """Build the kernel and upload the problem: what can fail before the render fails here."""
        try:
            self.device.build()
            self.device.upload(self)
        except self.device.Errors as exc:
            raise EngineError(f"the GPU cannot take the problem: {exc}") from exc

    def render(self, done=None):
        import numpy as np
        f0, f1, s0, s1 = self.region()
        width, subs = f1 - f0 + 1, self.setup.oversample ** 2
        if width <= 0 or s1 < s0:
            return
        rows = max(1, BLOCK_SUBPIXELS // (width * subs))
        total = self.struct.omega_sum
        try:
            for s in range(s0, s1 + 1, rows):
                end = min(s + rows, s1 + 1)
                omegas = self.device.launch(s, end - s, f0, width, subs)
                # nonBragg's order, one addition at a time (accumulate does not regroup)
                total = float(np.add.accumulate(np.concatenate(([total], omegas)))[-1])
                if done is not None:
                    done((end - s0) * width)
            ffi.memmove(self.image, self.device.image_bytes(), 4 * self.count)
        except self.device.Errors as exc:
            raise EngineError(f"the CUDA kernel failed: {exc}") from exc
        self.struct.omega_sum = total


def c_describe(threads: int) -> str:
    count = threads or lib.nb_openmp_threads()
    where = f"{count} OpenMP threads" if count else "built without OpenMP: 1 thread"
    return f"the C engine ({where}, double precision)"


def select_amorphous(setup, threads, backend, note, device=None) -> Amorphous:
    """nonBragg's engine for -backend (or NBGPU_BACKEND; default auto), as engine.select picks
    nanoBragg's: "c" the C engine; "auto" the CUDA engine where it can run, else the C engine
    with one note saying why; "cuda" where it cannot run an error.  A problem the kernel does
    not render (see unsupported) goes to the C engine with a note whatever the backend.
    `device`: the CUDA engine's (the tests' host emulation); None: CuPy, probed first."""
    from nbgpu.engine.select import chosen_backend, cuda_unavailable, gpu_engine
    backend = chosen_backend(backend)
    c_engine = Amorphous(setup, threads)
    if backend == "c":
        return c_engine
    reason = unsupported(c_engine)
    if reason:
        note(f"rendering with {c_describe(threads)}: {reason}")
        return c_engine

    def build():
        engine = AmorphousCuda(setup, threads, device)
        engine.prepare()
        return engine
    engine, reason = gpu_engine(backend, "" if device is not None else cuda_unavailable(), build)
    if reason:
        note(f"rendering with {c_describe(threads)}: {reason}")
        return c_engine
    if backend == "auto":
        note(f"rendering with {engine.describe()}")
    return engine

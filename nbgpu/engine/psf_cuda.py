"""noisify's point-spread function on the GPU: nb_psf.cu (one thread an output pixel, gathering
its terms in noisify's order: kernels/nb_psf_gather.h) through CuPy (NVRTC), or its host
emulation (csrc/nb_psf.c's nb_psf_gather_host: the same body in C) where there is no GPU, and the
choice between it and the C engine (noisify's -backend).

The weights and each pixel's radius and lost photons are the C engine's, computed on the host
(nb_psf_kernel, nb_psf_radii: the C library's erf, atan, log and exp); the device only
multiplies, adds and converts, with --fmad=false, so the image is the C engine's to the bit.
The C engine (engine.noise) stays the reference and the fallback.
"""
from __future__ import annotations

from pathlib import Path

from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import EngineError
from nbgpu.engine import noise
from nbgpu.engine.kernel_source import CupyKernel, HostKernel, inlined_source

KERNELS = Path(__file__).resolve().parent / "kernels"
KERNEL = "nb_psf.cu"
HEADERS = ("nb_psf_gather.h",)
KERNEL_NAME = "nb_psf_gather"
OPTIONS = ("--fmad=false",)
THREADS = 128
INT_MAX = 2147483647
# the C engine's spreading, terms (a source pixel's disk) a second per thread, measured on the
# bench's noisify-psf case (2048^2, radii 2-3: about 1e8 terms in 0.2 s): the small-job rule's rate
C_TERMS_PER_THREAD_SECOND = 5e8


def kernel_source() -> str:
    """The kernel with its shared header pasted in (engine.kernel_source)."""
    return inlined_source(KERNELS, KERNEL, HEADERS)


class Spread:
    """What the gather needs from the host: each pixel's radius, each row's largest, the lost
    photons (their sum in pixel order) and the largest radius."""

    def __init__(self, photons, width: int, height: int, kind: str, fwhm_pixels: float, user_radius: int,
                 limit: int, what: str):
        self.photons, self.width, self.height = noise.c_view("float[]", photons), width, height
        self.radius, self.row_reach = ffi.new("int[]", width * height), ffi.new("int[]", height)
        lost, reach, bad = ffi.new("double *"), ffi.new("int *"), ffi.new("long *")
        status = lib.nb_psf_radii(self.photons, width, height, noise.PSF_TYPES[kind], fwhm_pixels, user_radius, limit,
                                  self.radius, self.row_reach, lost, reach, bad)
        noise.refuse_bad_pixel(status, bad, self.photons, width, kind, what)
        self.lost, self.reach, self.kind, self.fwhm_pixels = lost[0], reach[0], kind, fwhm_pixels


class CupyPsf(CupyKernel):
    """The GPU, through CuPy."""
    kernel_name, options = KERNEL_NAME, OPTIONS
    source = staticmethod(kernel_source)

    def gather(self, spread: Spread, kernel, each: float, out):
        import numpy as np
        cupy, count = self.xp, spread.width * spread.height

        def device(ctype, data, n, dtype):
            return cupy.asarray(np.frombuffer(ffi.buffer(data, n * ffi.sizeof(ctype)), dtype))
        size = 2 * spread.reach + 1
        on_device = (device("float", spread.photons, count, np.float32), device("int", spread.radius, count, np.int32),
                     device("int", spread.row_reach, spread.height, np.int32),
                     device("double", kernel, size * size, np.float64))
        image = cupy.empty(count, dtype=cupy.float32)
        self.build()((max(1, -(-count // THREADS)),), (THREADS,),
                     on_device + (np.int32(spread.reach), np.int32(spread.reach), np.int32(spread.width),
                                  np.int32(spread.height), np.float64(each), image))
        ffi.memmove(out, image.get().tobytes(), 4 * count)


class HostPsf(HostKernel):
    """The kernel's launch on the host (nb_psf_gather_host): the GPU path without a GPU."""

    @staticmethod
    def gather(spread: Spread, kernel, each: float, out):
        lib.nb_psf_gather_host(spread.photons, spread.radius, spread.row_reach, kernel, spread.reach, spread.reach,
                               spread.width, spread.height, each, out)


class PsfCuda:
    """noisify's spreading on `device` (CupyPsf or HostPsf); spread() is engine.noise.spread's."""

    def __init__(self, device=None):
        self.device = device if device is not None else CupyPsf()

    def describe(self) -> str:
        return f"the CUDA engine ({self.device.describe()}, double precision)"

    def prepare(self):
        """Build the kernel: what can fail before the run fails here."""
        try:
            self.device.build()
        except self.device.Errors as exc:
            raise EngineError(f"the GPU cannot build the kernel: {exc}") from exc

    def radii(self, photons, width, height, kind, fwhm_pixels, user_radius, what, limit=INT_MAX) -> Spread:
        return Spread(photons, width, height, kind, fwhm_pixels, user_radius, limit, what)

    def gather(self, spread: Spread):
        """The spread image, the lost photons added back evenly (a C float array)."""
        out = ffi.new("float[]", spread.width * spread.height)
        kernel = noise.psf_kernel(spread.reach, spread.kind, spread.fwhm_pixels)
        try:
            self.device.gather(spread, kernel, spread.lost / (spread.width * spread.height), out)
        except self.device.Errors as exc:
            raise EngineError(f"the CUDA kernel failed: {exc}") from exc
        return out

    def spread(self, photons, width: int, height: int, kind: str, fwhm_pixels: float, user_radius: int,
               kernel_radius: int, what: str) -> tuple:
        """As engine.noise.spread: (the new image, the photons added back)."""
        radii = self.radii(photons, width, height, kind, fwhm_pixels, user_radius, what, kernel_radius)
        return self.gather(radii), radii.lost


def small_job(pixels: int, radius: int, limit: float) -> bool:
    """Whether the C engine would spread `pixels` pixels of radius at most `radius` in under
    `limit` seconds, before the GPU had started (1-3 s for CuPy and a context)."""
    if limit == 0:
        return False
    terms = pixels * (2 * radius + 1) ** 2
    return terms / (C_TERMS_PER_THREAD_SECOND * max(1, lib.nb_openmp_threads())) < limit


def select_psf(backend: str, note, radius=None, pixels: int = 0, device=None) -> PsfCuda | None:
    """The PSF's engine for noisify's -backend (or NBGPU_BACKEND; default auto): None for the C
    engine.  "auto": the GPU when CuPy and a device are there and the job is not small (`radius`
    bounds every pixel's; None: unknown, not small), said in one note; else the C engine,
    silently (it is noisify's own arithmetic, and its reference).  "cuda" where the GPU cannot
    run: an error.  `device`: the GPU engine's (the tests' host emulation)."""
    from nbgpu.engine.select import auto_gpu_seconds, chosen_backend, cuda_unavailable, gpu_engine
    backend = chosen_backend(backend)
    if backend == "c" or (backend == "auto" and radius is not None and small_job(pixels, radius, auto_gpu_seconds())):
        return None

    def build():
        engine = PsfCuda(device)
        engine.prepare()
        return engine
    engine, reason = gpu_engine(backend, "" if device is not None else cuda_unavailable(), build)
    if reason:
        return None
    if backend == "auto":
        note(f"spreading the point-spread function with {engine.describe()}")
    return engine


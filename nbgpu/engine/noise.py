"""noisify's per-pixel work in C (csrc/nb_noise.c): integer conversions and the point-spread
function.  The noise draws themselves are the shared generator's (base.rng.Rng)."""
from __future__ import annotations

import numpy as np

from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import InputError

PSF_TYPES = {"fiber": 1, "gauss": 2}


def adu_words(photons: np.ndarray, gain: float, adc: float) -> tuple[np.ndarray, np.ndarray]:
    """The noiseless image as noisify converts it: photons*gain + adc, clamped at 2^31-1 and then
    at 65535, as 16-bit and 32-bit words (x86-64's truncation; negative values wrap)."""
    photons = np.ascontiguousarray(photons, dtype=np.float32)
    out16 = np.empty(photons.shape, np.uint16)
    out32 = np.empty(photons.shape, np.uint32)
    lib.nb_noiseless_adu(ffi.from_buffer("float[]", photons), photons.size, gain, adc,
                         ffi.from_buffer("unsigned short[]", out16), ffi.from_buffer("unsigned int[]", out32))
    return out16, out32


def psf_kernel(radius: int, kind: str, fwhm_pixels: float) -> np.ndarray:
    """The (2r+1)^2 kernel noisify spreads a pixel with (rows dy, columns dx): each pixel's
    integral of the Gaussian or fiber function, zero beyond the radius."""
    size = 2 * radius + 1
    kernel = np.empty((size, size), np.float64)
    lib.nb_psf_kernel(ffi.from_buffer("double[]", kernel), radius, PSF_TYPES[kind], fwhm_pixels)
    return kernel


def auto_radius(max_photons: float, kind: str, fwhm_pixels: float, what: str) -> int:
    """The kernel radius noisify picks from the image maximum (before the clamp to the image)."""
    radius = ffi.new("int *")
    if lib.nb_psf_auto_radius(max_photons, PSF_TYPES[kind], fwhm_pixels, radius) != 0:
        raise InputError(f"-psf {kind}: {what}: no automatic radius for a maximum of {max_photons:g} photons "
                         "(noisify would crash); give -psf_radius")
    return radius[0]


def spread(photons: np.ndarray, width: int, kind: str, fwhm_pixels: float, user_radius: int,
           kernel_radius: int, what: str) -> tuple[np.ndarray, float]:
    """noisify's point-spread function over `photons` (float32, width pixels a row): every pixel's
    photons spread with the kernel within its radius, the photons beyond it added back evenly.
    Returns (the new image, the photons added back)."""
    photons = np.ascontiguousarray(photons, dtype=np.float32)
    height = photons.size // width
    kernel = psf_kernel(kernel_radius, kind, fwhm_pixels)
    out = np.zeros(photons.shape, np.float32)
    lost, bad = ffi.new("double *"), ffi.new("long *")
    status = lib.nb_psf_apply(ffi.from_buffer("float[]", photons), ffi.from_buffer("float[]", out), width, height,
                              PSF_TYPES[kind], fwhm_pixels, user_radius, ffi.from_buffer("double[]", kernel),
                              kernel_radius, lost, bad)
    if status == -2:
        raise MemoryError
    if status != 0:
        y, x = divmod(int(bad[0]), width)
        value = float(photons.reshape(-1)[bad[0]])
        raise InputError(f"-psf {kind}: {what}: pixel ({x}, {y}) of {value:g} photons has no automatic "
                         "radius (noisify would crash); give -psf_radius")
    return out, lost[0]

"""noisify's per-pixel work in C (csrc/nb_noise.c): the photon image, the integer conversions,
the PGM bytes and the point-spread function.  The noise draws themselves are the shared
generator's (base.rng.Rng).  Images are C arrays (cffi), so the noisify command needs no numpy;
any buffer of the right type (a numpy array) is taken as it is."""
from __future__ import annotations

from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import InputError

PSF_TYPES = {"fiber": 1, "gauss": 2}


def c_view(ctype: str, data):
    """A C array as it is; any other buffer (bytes, numpy) as a C view of its memory."""
    return data if isinstance(data, ffi.CData) else ffi.from_buffer(ctype, data)


class PhotonImage:
    """The input on the photon scale, as noisify makes it: (float)(factor * value)."""

    def __init__(self, image, count: int, factor: float):
        values = c_view("float[]", image)
        # a factor of exactly 1 (noisify's default fluence and scale) leaves every float as it is
        # (a NaN is quieted by the first arithmetic on it either way): the input itself, read only
        self.photons = values if factor == 1.0 else ffi.new("float[]", count)
        top, below, odd = ffi.new("double *"), ffi.new("long *"), ffi.new("long *")
        lib.nb_photon_image(values, count, factor, ffi.NULL if factor == 1.0 else self.photons, top, below, odd)
        self.max_value, self.nonfinite = top[0], odd[0]
        self.negatives = [values[i] for i in negative_pixels(values, count, below[0])]


def negative_pixels(values, count: int, negatives: int) -> list:
    if not negatives:
        return []
    indices = ffi.new("long[]", negatives)
    lib.nb_negative_pixels(values, count, indices, negatives)
    return list(indices)


def statistics(photons, count: int) -> tuple:
    """(noisify's maximum: the largest value above 0, or 0; how many values are NaN or infinite)."""
    top, below, odd = ffi.new("double *"), ffi.new("long *"), ffi.new("long *")
    lib.nb_photon_image(c_view("float[]", photons), count, 1.0, ffi.NULL, top, below, odd)
    return top[0], odd[0]


def adu_words(photons, count: int, gain: float, adc: float, threads: int = 0) -> tuple:
    """The noiseless image as noisify converts it: photons*gain + adc, clamped at 2^31-1 and then
    at 65535, as 16-bit and 32-bit words (x86-64's truncation; negative values wrap); on
    `threads` threads (0: all)."""
    out16, out32 = ffi.new("unsigned short[]", count), ffi.new("unsigned int[]", count)
    lib.nb_noiseless_adu(c_view("float[]", photons), count, gain, adc, out16, out32, threads)
    return out16, out32


def pgm_pixels(words16, count: int, threads: int = 0):
    """noisify's PGM pixels: each 16-bit word, 255 at most."""
    out = ffi.new("unsigned char[]", count)
    lib.nb_pgm_pixels(words16, count, out, threads)
    return out


def psf_kernel(radius: int, kind: str, fwhm_pixels: float):
    """The (2r+1)^2 kernel noisify spreads a pixel with (rows dy, columns dx, row by row): each
    pixel's integral of the Gaussian or fiber function, zero beyond the radius."""
    size = 2 * radius + 1
    kernel = ffi.new("double[]", size * size)
    lib.nb_psf_kernel(kernel, radius, PSF_TYPES[kind], fwhm_pixels)
    return kernel


def auto_radius(max_photons: float, kind: str, fwhm_pixels: float, what: str) -> int:
    """The kernel radius noisify picks from the image maximum (before the clamp to the image)."""
    radius = ffi.new("int *")
    if lib.nb_psf_auto_radius(max_photons, PSF_TYPES[kind], fwhm_pixels, radius) != 0:
        raise InputError(f"-psf {kind}: {what}: no automatic radius for a maximum of {max_photons:g} photons "
                         "(noisify would crash); give -psf_radius")
    return radius[0]


def refuse_bad_pixel(status, bad, photons, width, kind, what):
    """A PSF call's failure as noisify's refusal: out of memory, or the first pixel with no radius."""
    if status == -2:
        raise MemoryError
    if status != 0:
        y, x = divmod(int(bad[0]), width)
        raise InputError(f"-psf {kind}: {what}: pixel ({x}, {y}) of {photons[bad[0]]:g} photons has no automatic "
                         "radius (noisify would crash); give -psf_radius")


def spread(photons, width: int, height: int, kind: str, fwhm_pixels: float, user_radius: int,
           kernel_radius: int, what: str) -> tuple:
    """noisify's point-spread function over `photons` (width x height floats): every pixel's
    photons spread with the kernel within its radius, the photons beyond it added back evenly.
    Returns (the new image, the photons added back)."""
    photons = c_view("float[]", photons)
    out = ffi.new("float[]", width * height)
    lost, bad = ffi.new("double *"), ffi.new("long *")
    status = lib.nb_psf_apply(photons, out, width, height, PSF_TYPES[kind], fwhm_pixels, user_radius,
                              kernel_radius, lost, bad)
    refuse_bad_pixel(status, bad, photons, width, kind, what)
    return out, lost[0]


def noise_and_spread(rng, expected, photons, width: int, height: int, flicker: float, calibration: float,
                     seed: int, calib_seed: int, kind: str, fwhm_pixels: float, user_radius: int, what: str,
                     words=None) -> tuple:
    """The noise draws (as Rng.noise_photons, expected -> photons) with the point-spread function
    spreading each row as soon as it is drawn (between the draws, or on a second thread).
    Returns (the spread image with the lost photons added back, the sum of the counts, the
    photons added back, the largest radius used, the new seed, None); with words = (gain, adc,
    bits, out16, out32) (no readout noise) the last is (the spread image's sum, overloads), its
    words made into out16 and out32 as Rng.noisy_adu makes them."""
    out = ffi.new("float[]", width * height)
    seed_box, calib_box = ffi.new("long *", seed), ffi.new("long *", calib_seed)
    total, lost, reach, bad = ffi.new("double *"), ffi.new("double *"), ffi.new("int *"), ffi.new("long *")
    image_sum, overloads = ffi.new("double *"), ffi.new("int *")
    gain, adc, bits, out16, out32 = words if words is not None else (0.0, 0.0, 0, ffi.NULL, ffi.NULL)
    status = lib.nb_noise_psf(rng.c_state(), expected, photons, out, width, height, flicker, calibration, seed_box,
                              calib_box, PSF_TYPES[kind], fwhm_pixels, user_radius, total, lost, reach, bad, gain, adc,
                              bits, out16, out32, overloads, image_sum)
    refuse_bad_pixel(status, bad, photons, width, kind, what)
    made = (image_sum[0], overloads[0]) if words is not None else None
    return out, total[0], lost[0], reach[0], seed_box[0], made

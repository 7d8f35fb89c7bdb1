"""One noisify run: a float image in photons/pixel -> the noiseless SMV image and its PGM, then
flicker, calibration, Poisson and readout noise (and a point-spread function) -> the noise
image, in noisify's order with its log.  Shared by the noisify command and the Python API
(noisify_image takes any float32 image, e.g. spots plus background summed with numpy)."""
from __future__ import annotations

import math
import time

from nbgpu._nbcore import ffi
from nbgpu.base.cnumbers import cformat
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.rng import Rng
from nbgpu.engine import noise
from nbgpu.io import save_files
from nbgpu.io.files import StagedFiles, as_bytes_view, read_input
from nbgpu.io.images import pgm_parts
from nbgpu.io.smv import read_smv_header, smv_header, smv_header_untyped
from nbgpu.setup import noisify as setup

# arrays whose every element is written before it is read: no clearing, so their pages are first
# touched by the thread that fills them (the draws' own), not by the one that starts them
UNCLEARED = ffi.new_allocator(should_clear_after_alloc=False)
BANNER = "noisify - add noise to pixels - James Holton 3-19-16\n"
USAGE = """usage: noisify -floatfile floatimage.bin
options:
\tfloatimage.bin\t nearBragg-style binary dump file
\t-scale\tscale factor to put floatimage.bin in photons/pixel
\t-gain\tpixel units per photon
\t-readout_noise\tgaussian noise added to every pixel
\t-flicker\t fractional 1/f noise in source
\t-calibration\t static fractional error per pixel
\t-calib_seed\t change seed for calibration error
\t-seed\t specify seed for all non-calibration errors
\t-gain\t pixel units per photon
\t-adc\t offset added to each pixel after noise
\t-distance\t distance from origin to detector center in mm
\t-detsize\t detector size in mm
\t-pixel\t detector pixel size in mm
\t-psf gauss|fiber\t point spread function type (gaussian or fiber)
\t-psf_fwhm\t point spread function size in um
\t-psf_radius\t radius to render PSF in pixels (default automatic)
\t-lambda\t incident x-ray wavelength in Angstrom
\t-intfile\t name of smv-formatted output file (arbitrary scale)
\t-pgmfile\tname of pgm-formatted output file (arbitrary scale)
\t-noisefile\t name of smv-formatted output file (with noise)
\t-Xbeam\t image X coordinate of direct-beam spot (mm)
\t-Ybeam\t image Y coordinate of direct-beam spot (mm)
\t-header\t import 512-byte header from specified SMV file
"""


class NoisifyResult(Record):
    """What a run made: the images as written (C arrays of SMV words: 16-bit with -bits 16, else
    32-bit), the PGM file's bytes, the photon count; noiseless_array()/noise_array() give them
    as numpy arrays (ypixels, xpixels)."""
    shape: tuple                     # (ypixels, xpixels)
    noiseless: object                # noiseless ADU words
    noise: object                    # ADU words with noise (None with -nonoise)
    pgm: bytes | None                # the PGM file (None with -nopgm)
    photons: float | None            # photons on the noise image, after the PSF
    overloads: int                   # pixels clamped on the noise image (of -bits 16 or 32)
    files: tuple                     # (path, parts) of every output, as written

    def noiseless_array(self):
        return _as_array(self.noiseless, self.shape)

    def noise_array(self):
        return None if self.noise is None else _as_array(self.noise, self.shape)


def _as_array(words, shape):
    import numpy as np
    dtype = np.uint16 if ffi.typeof(words).item.cname == "unsigned short" else np.uint32
    return np.frombuffer(ffi.buffer(words), dtype=dtype).reshape(shape).copy()


def _float32(image):
    """A buffer of C floats: bytes and C arrays as they are, anything else through numpy."""
    import mmap
    if isinstance(image, (bytes, bytearray, memoryview, mmap.mmap, ffi.CData)):
        return image
    import numpy as np
    return np.ascontiguousarray(image, dtype=np.float32)


def _silent(_text):
    pass


def smv_file(flags, det, header, words16, words32) -> list:
    """An SMV output: -header's header verbatim or noisify's own, then the words of -bits."""
    values = [("PIXEL_SIZE", det.pixel * 1000.0), ("DISTANCE", det.distance * 1000.0),
              ("WAVELENGTH", det.lambda0), ("BEAM_CENTER_X", det.Xbeam * 1000.0),
              ("BEAM_CENTER_Y", (det.detsize_y - det.Ybeam) * 1000), ("PHI", flags.phi0),
              ("OSC_START", flags.phi0), ("OSC_RANGE", flags.osc)]
    if header is not None:
        head = header.raw
    elif flags.bits == 16:
        head = smv_header(det.xpixels, det.ypixels, values, "unsigned_short")
    elif flags.bits == 32:
        head = smv_header(det.xpixels, det.ypixels, values, "long_integer")
    else:
        head = smv_header_untyped(det.xpixels, det.ypixels, values)
    data = {16: [words16], 32: [words32]}.get(flags.bits, [])
    return [head] + data


def writing_line(name, bits, pixels=None) -> str:
    size = {16: 2, 32: 4}.get(bits)
    if size is None:
        return ""
    count = f"{pixels} " if pixels is not None else ""
    return f"writing {name} as {count}{size}-byte integers\n"


def psf_width(flags, det) -> float:
    """The PSF's fwhm in pixels, refused where noisify's kernel would not be a number or its
    radius test would overflow an int."""
    fwhm_pixels = flags.psf_fwhm / det.pixel
    if not math.isfinite(fwhm_pixels):
        raise InputError(f"-psf {flags.psf_type}: a fwhm of {fwhm_pixels:g} pixels (pixel size {det.pixel:g} m)")
    maxwidth = max(det.xpixels, det.ypixels)
    if maxwidth > 46340:
        raise InputError(f"-psf {flags.psf_type}: an image {maxwidth} pixels wide is too large for noisify's kernel")
    return fwhm_pixels


def kernel_radius(photons, det, flags, fwhm_pixels, log, what) -> int | None:
    """apply_psf's kernel radius, with its log lines: -psf_radius, or from the image maximum
    (clamped to the image); None when there are no photons (the image becomes zeros)."""
    kind = flags.psf_type
    max_photons, nonfinite = noise.statistics(photons, det.pixels)
    if nonfinite:
        raise InputError(f"-psf {kind}: {what} has {nonfinite} pixels that are not finite numbers")
    radius = setup.psf_radius(flags)
    if radius <= 0:
        log(cformat("  maximum input photon/pixel: %g\n", max_photons))
        if max_photons <= 0.0:
            log("WARNING: no photons, PSF skipped\n")
            return None
        radius = noise.auto_radius(max_photons, kind, fwhm_pixels, what)
        log(f"  auto-selected psf_radius = {radius} pixels\n")
        radius = radius or 1
    return min(radius, max(det.xpixels, det.ypixels))


def apply_psf(photons, det, flags, log, what, psf=None):
    """noisify's apply_psf on the photon image (C floats), with its log lines; `psf`: the GPU's
    engine (engine.psf_cuda), None for the C engine."""
    fwhm_pixels = psf_width(flags, det)
    if fwhm_pixels <= 0.0:
        log("WARNING: apply_psf function has zero size\n")
        return photons
    radius = kernel_radius(photons, det, flags, fwhm_pixels, log, what)
    if radius is None:
        return ffi.new("float[]", det.pixels)
    out, lost = (psf or noise).spread(photons, det.xpixels, det.ypixels, flags.psf_type, fwhm_pixels,
                                      setup.psf_radius(flags), radius, what)
    log(cformat("adding back %g lost photons\n", lost))
    return out


def noise_with_psf(rng, expected, photons, det, flags, flicker, calibration, seed, log, psf=None):
    """The noise draws and the PSF on the counts; returns (the photon image, the new seed, its
    sum and (words16, words32, overloads) when the C engine made the noise image's words too (no
    readout noise), else None, None).  The C engine spreads each row as soon as it is drawn;
    the GPU (`psf`) gathers once all are."""
    what = "the noise image"
    fwhm_pixels = psf_width(flags, det)
    made = words = None
    if psf is None:
        if not flags.readout_noise > 0.0:
            words = (flags.quantum_gain, flags.adc_offset, flags.bits, UNCLEARED("unsigned short[]", det.pixels),
                     UNCLEARED("unsigned int[]", det.pixels))
        out, total, lost, reach, seed, made = noise.noise_and_spread(
            rng, expected, photons, det.xpixels, det.ypixels, flicker, calibration, seed, flags.calib_seed,
            flags.psf_type, fwhm_pixels, setup.psf_radius(flags), what, words)
    else:
        total, seed, _ = rng.noise_photons(expected, det.pixels, flicker, calibration, seed, flags.calib_seed, photons)
        out = psf.radii(photons, det.xpixels, det.ypixels, flags.psf_type, fwhm_pixels, setup.psf_radius(flags), what)
        lost, reach = out.lost, out.reach
    log(cformat("%.0f photons on noise image before PSF\n", total))
    log(cformat("  applying PSF width = %g um\n", flags.psf_fwhm * 1e6))
    radius = kernel_radius(photons, det, flags, fwhm_pixels, log, what)
    if radius is None:
        return ffi.new("float[]", det.pixels), seed, None, None
    if reach > radius:
        raise InputError(f"-psf {flags.psf_type}: {what}: a pixel's radius ({reach}) is beyond the kernel's "
                         f"({radius}): noisify would read past its kernel")
    log(cformat("adding back %g lost photons\n", lost))
    if made is not None:
        image_sum, overloads = made
        return out, seed, image_sum, (words[3], words[4], overloads)
    return (out if psf is None else psf.gather(out)), seed, None, None


def draw_noise(rng, expected, det, flags, flicker, calibration, seed, log, psf=None):
    """The noise draws from `expected` (left as it is), then the PSF when there is one (on the
    GPU with `psf`); returns (the photon image, the new seed, the sum of its photons when the
    draws have it: the counts themselves, no PSF; the noise image's (words16, words32, overloads)
    when they were made beside the draws: no PSF, no readout noise)."""
    count = det.pixels
    photons = ffi.new("float[]", count)
    if flags.psf_type and flags.psf_fwhm > 0.0 and psf_width(flags, det) > 0.0:
        return noise_with_psf(rng, expected, photons, det, flags, flicker, calibration, seed, log, psf)
    if not (flags.psf_type and flags.psf_fwhm > 0.0) and not flags.readout_noise > 0.0:
        out16, out32 = UNCLEARED("unsigned short[]", count), UNCLEARED("unsigned int[]", count)
        total, overloads, seed = rng.noise_words(expected, det.xpixels, det.ypixels, flicker, calibration, seed,
                                                 flags.calib_seed, flags.quantum_gain, flags.adc_offset, flags.bits,
                                                 photons, out16, out32)
        return photons, seed, total, (out16, out32, overloads)
    total, seed, _ = rng.noise_photons(expected, count, flicker, calibration, seed, flags.calib_seed, photons)
    if flags.psf_type and flags.psf_fwhm > 0.0:
        log(cformat("%.0f photons on noise image before PSF\n", total))
        log(cformat("  applying PSF width = %g um\n", flags.psf_fwhm * 1e6))
        return apply_psf(photons, det, flags, log, "the noise image", psf), seed, None, None
    return photons, seed, total, None


def psf_engine(flags, det, max_photons, note):
    """The PSF's engine for -backend (engine.psf_cuda.select_psf; None: the C engine), chosen only
    where a PSF will spread: a flag noisify refuses later is refused there, after its lines."""
    if not (flags.psf_type and flags.psf_fwhm > 0.0):
        return None
    try:
        fwhm_pixels = psf_width(flags, det)
        user = setup.psf_radius(flags)
        bound = min(abs(user), max(det.xpixels, det.ypixels)) if user else \
            noise.auto_radius(max(max_photons, 0.0), flags.psf_type, fwhm_pixels, "") if max_photons > 0 else 0
    except InputError:
        return None
    if fwhm_pixels <= 0.0:
        return None
    from nbgpu.engine.psf_cuda import select_psf
    return select_psf(flags.backend, note, bound, det.pixels)


class Background:
    """work(*args) on a thread of its own (the C loops let go of the GIL): the noise draws, one
    sequence on one core, while the noiseless image is converted and staged on another."""

    def __init__(self, work, *args):
        import threading
        self._outcome = None
        self._thread = threading.Thread(target=self._run, args=(work, args), daemon=True)
        self._thread.start()

    def _run(self, work, args):
        try:
            self._outcome = (True, work(*args))
        except BaseException as exc:          # handed to the caller by result()
            self._outcome = (False, exc)

    def result(self):
        self._thread.join()
        done, value = self._outcome
        if not done:
            raise value
        return value


def noisify_image(image, flags: setup.NoisifyFlags | None = None, det: setup.NoisifyDetector | None = None, *,
                  copy_header=None, log=_silent, warn=_silent, write=save_files,
                  input_name: str | None = None, note=_silent, **options) -> NoisifyResult:
    """noisify on a float image in photons/pixel (a 2-d numpy array (ypixels, xpixels), or any
    buffer of C floats with `det`), with parsed `flags` or noisify's flags as keywords (seed=7,
    psf="gauss", bits=32, nonoise=True): logs what noisify prints through `log`, hands the
    files to `write` ([(path, parts)], all or none; None: no file), returns the images.  copy_header: an io.smv.SmvHeader for the outputs.
    `note` receives the one line of -backend auto when the PSF goes to the GPU."""
    if flags is None:
        flags = setup.keyword_flags(**options)
    elif options:
        raise InputError(f"noisify_image: flags and keyword flags ({', '.join(options)}) together")
    flags = flags.replace(psf_fwhm=setup.float32(flags.psf_fwhm))     # noisify holds it as a C float
    header = copy_header
    image = _float32(image)
    name = input_name if input_name is not None else flags.floatfilename
    if det is None:
        shape = getattr(image, "shape", ())
        if len(shape) != 2:
            raise InputError(f"image: expected a 2-d array (rows, pixels a row), got shape {shape}")
        det, told = setup.detector(flags.replace(xpixels=shape[1], ypixels=shape[0]), shape[0] * shape[1])
        told.tell(log, warn)
    count = det.pixels
    seed = flags.seed if flags.seed is not None else -int(time.time())
    noisy = flags.calculate_noise
    calibration, readout, flicker = (flags.calibration_noise, flags.readout_noise, flags.flicker_noise) \
        if noisy else (0.0, 0.0, 0.0)
    for line in setup.summary(flags, det, seed):
        log(line)
    scaled = noise.PhotonImage(image, count, flags.fluence * setup.R_E_SQR * flags.photon_scale)
    if scaled.nonfinite and flags.psf_type and flags.psf_fwhm > 0.0:
        raise InputError(f"-psf {flags.psf_type}: {name} has {scaled.nonfinite} pixels that are NaN or infinite")
    if scaled.nonfinite:
        warn(f"{name}: {scaled.nonfinite} pixels are NaN or infinite")
    for value in scaled.negatives:
        log(cformat("WARNING: negative intensity in %s: %g\n", name, value))
    photons, max_value = scaled.photons, scaled.max_value
    log(cformat("maximum value in input file: %g ( %g on photon scale)\n", max_value,
                max_value * flags.photon_scale * flags.fluence * setup.R_E_SQR))
    psf = psf_engine(flags, det, max_value * flags.photon_scale * flags.fluence * setup.R_E_SQR, note)
    if not noisy and flags.psf_type and flags.psf_fwhm > 0.0:
        log(cformat("  applying PSF to noiseless image width = %g pixels\n", flags.psf_fwhm / det.pixel))
        photons = apply_psf(photons, det, flags, log, "the noiseless image", psf)
    if noisy:      # the draws start now: the noiseless image is made meanwhile
        rng, noise_lines = Rng(), []
        job = Background(draw_noise, rng, photons, det, flags, flicker, calibration, seed, noise_lines.append, psf)
    threads = 1 if noisy else 0          # one core is the draws'
    # with the default writer, the noiseless files go to their scratch files while the draws run
    staging = StagedFiles() if write is save_files and noisy else None
    try:
        int16, int32 = noise.adu_words(photons, count, flags.quantum_gain, flags.adc_offset, threads)
        files = []
        log(writing_line(flags.intfilename, flags.bits, count))
        files.append((flags.intfilename, smv_file(flags, det, header, int16, int32)))
        pgm = None
        if flags.write_pgm:
            log(f"writing {flags.pgmfilename} as 1-byte integers\n")
            pgm = b"".join(bytes(as_bytes_view(part)) for part in pgm_parts(det.xpixels, det.ypixels, 1.0,
                                                                            noise.pgm_pixels(int16, count, threads)))
            files.append((flags.pgmfilename, [pgm]))
        if staging is not None:
            staging.stage(files)
        noise_words = total = None
        overloads = 0
        if noisy:
            photons, seed, total, words = job.result()
            for line in noise_lines:
                log(line)
            if words is not None:
                out16, out32, overloads = words
            else:
                out16, out32 = ffi.new("unsigned short[]", count), ffi.new("unsigned int[]", count)
                total, overloads, seed = rng.noisy_adu(photons, count, flags.quantum_gain, flags.adc_offset, readout,
                                                       seed, flags.bits, out16, out32, total)
            log(cformat("%.0f photons on noise image (%d overloads)\n", total, overloads))
            log(writing_line(flags.noisefilename, flags.bits))
            files.append((flags.noisefilename, smv_file(flags, det, header, out16, out32)))
            noise_words = out16 if flags.bits == 16 else out32
        if staging is not None:
            staging.finish(files[len(staging.staged):])
        elif write is not None:
            write(files)
        return NoisifyResult(shape=(det.ypixels, det.xpixels), noiseless=int16 if flags.bits == 16 else int32,
                             noise=noise_words, pgm=pgm, photons=total, overloads=overloads, files=tuple(files))
    except BaseException:
        if staging is not None:
            staging.discard()        # no file, as when nothing was written yet
        raise


def noisify_argv(argv: list[str], log=_silent, warn=_silent, write=save_files, note=_silent) -> NoisifyResult | None:
    """The noisify command: parse, read the input (and -header), run, write (through `write`);
    `note`: -backend auto's line when the PSF goes to the GPU."""
    flags, warnings, named = setup.parse(list(argv))
    for message in warnings:
        warn(message)
    for word in flags.psf_warnings:
        log(f"WARNING: unknown psf type: {word}\n")
    log(BANNER)
    name = flags.floatfilename
    if not named:
        log(USAGE)
        raise InputError("no input image: give -floatfile NAME (float32 photons/pixel)")
    try:
        raw = read_input(name, "-floatfile", text=False, mapped=True)
    except InputError:
        log(USAGE)
        raise
    header = read_smv_header(flags.headerfilename, "-header") if flags.headerfilename is not None else None
    det, told = setup.detector(flags, len(raw) // 4, header, name)
    told.tell(log, warn)
    log(f"importing {det.pixels} pixel intensites: {name}\n")
    if len(raw) < det.pixels:
        raise InputError(f"-floatfile {name}: {len(raw)} bytes, the {det.xpixels}x{det.ypixels} image needs "
                         f"{4 * det.pixels} (4 a pixel)")
    if len(raw) < 4 * det.pixels:
        # noisify's fread(buffer, pixels, 4, file) succeeds from `pixels` bytes on: the bytes read
        # fill the image from its start (a partial last value included), the rest stays zero
        warn(f"-floatfile {name}: {len(raw)} bytes, the {det.xpixels}x{det.ypixels} image needs "
             f"{4 * det.pixels}: the missing pixels are zero (as noisify reads it)")
        raw = bytes(raw) + bytes(4 * det.pixels - len(raw))
    if len(raw) > 4 * det.pixels:
        warn(f"-floatfile {name}: {len(raw)} bytes, only the first {4 * det.pixels} are read "
             f"(a {det.xpixels}x{det.ypixels} image)")
    return noisify_image(raw, flags, det, copy_header=header, log=log, warn=warn, input_name=name, write=write,
                         note=note)

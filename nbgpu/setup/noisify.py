"""noisify's command line and its one setup stage: the flag table (setup.flagrules' machinery,
noisify's branches in its source order), the NoisifyFlags record it fills, and the image size
and header values noisify derives from the flags, the input's size and a -header file.

noisify's quirk outside its table: any argument containing "floatimage.bin" (a flag's value
too) is opened as the input image and skips the flag tests (input_name()).  Nothing here opens
a file or prints: the run reads the files and prints what these functions return.
"""
from __future__ import annotations

import math
import struct

from nbgpu.base.choices import BACKENDS
from nbgpu.base.cnumbers import INT_MAX, c_int, cformat
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.told import Told
from nbgpu.setup.flagrules import MM, FlagTable, R, integer, num, word
from nbgpu.setup.flags import choice_action

FLOATIMAGE = "floatimage.bin"
R_E_SQR = 7.94079248018965e-30           # Thomson cross section (m^2)
NOT_GIVEN = -1e99                        # noisify's "not set yet" for the beam centre


def float32(value: float) -> float:
    """A double rounded to a C float (overflowing to an infinity)."""
    try:
        return struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)


PSF_FWHM = float32(46e-6)               # noisify's default fwhm (m), a C float


class NoisifyFlags(Record):
    """noisify's parsed command line, with its defaults; lengths in metres as noisify keeps them."""
    floatfilename: str = FLOATIMAGE  # the input image (the last one named)
    headerfilename: str | None = None  # -header: an SMV file whose header the outputs copy
    intfilename: str = "intimage.img"     # noiseless SMV image
    pgmfilename: str = "image.pgm"        # noiseless PGM picture
    noisefilename: str = "noiseimage.img"  # SMV image with noise
    distance: float = 100.0e-3       # header value only
    detsize_x: float = 102.4e-3      # used only when a pixel count comes out 0
    detsize_y: float = 102.4e-3
    pixel: float = 0.1e-3            # header value, and the PSF's width in pixels
    Xbeam: float = NOT_GIVEN         # header value; default the detector's centre
    Ybeam: float = NOT_GIVEN
    xpixels: int = 0                 # 0: from the input's size
    ypixels: int = 0
    lambda0: float = 1.0             # -lambda as given (Angstrom), header value only
    phi0: float = 0.0                # header values (degrees)
    osc: float = 1.0
    psf_type: str = ""               # "", "gauss" or "fiber"
    psf_warnings: tuple = ()         # -psf words naming no known type (noisify warns at once)
    psf_fwhm: float = PSF_FWHM       # m, rounded to float32 as noisify holds it
    psf_radius: float = 0.0          # pixels, as typed; 0 automatic (converted to int by the stage)
    fluence: float = 125932015286227086360700780544.0   # photons/m^2: unity photon scale
    photon_scale: float = 1.0        # -scale
    quantum_gain: float = 1.0        # ADU per photon
    adc_offset: float = 40.0         # ADU
    readout_noise: float = 0.0       # ADU rms
    flicker_noise: float = 0.0       # fraction
    calibration_noise: float = 0.03  # fraction
    seed: int | None = None          # -seed N stored as -N; None: -time() at the run
    calib_seed: int = 123456789
    badpix_seed: int = 1234          # parsed, unused (as noisify)
    hotpix_seed: int = 5678
    bits: int = 16                   # SMV word size; other values write a header with no pixels
    calculate_noise: bool = True     # False: -nonoise
    write_pgm: bool = True           # False: -nopgm
    backend: str = ""                # nbgpu: -backend auto|cuda|c, the PSF's engine; "" = NBGPU_BACKEND or auto


def psf_action(s, flag, words, strict):
    kind = ""
    if "gauss" in words[0]:
        kind = "gauss"
    if "fiber" in words[0]:
        kind = "fiber"
    s.psf_type = kind
    if not kind:
        s.psf_warnings = list(s.psf_warnings) + [words[0]]


def negated(n):
    return -n


RULES = [
    R("-lambda", 1, lambda0=num()),
    R("-Xbeam", 1, Xbeam=num(0, MM)),
    R("-Ybeam", 1, Ybeam=num(0, MM)),
    R("-distance", 1, distance=num(0, MM)),
    R("-detsize", 1, match=8, detsize_x=num(0, MM), detsize_y=num(0, MM)),
    R("-detsize_x", 1, detsize_x=num(0, MM)),
    R("-detsize_y", 1, detsize_y=num(0, MM)),
    R("-detpixels", 1, match=10, xpixels=integer(), ypixels=integer()),
    R("-detpixels_x", 1, xpixels=integer()),
    R("-detpixels_y", 1, ypixels=integer()),
    R("-pixel", 1, pixel=num(0, MM, "positive")),
    R("-psf", 1, match="exact", action=psf_action),
    R(("-psf_rad", "-psf_radius"), 1, psf_radius=num()),
    R(("-psf_si", "-psf_fw", "-psf_wi", "-psf_fwhm", "-psf_sigma", "-psf_width"), 1,
      psf_fwhm=num(0, lambda um: float32(um / 1e6))),
    R("-fluence", 1, fluence=num()),
    R(("-floatfile", "-floatimage", "-bin"), 1, floatfilename=word()),
    R("-header", 1, headerfilename=word()),
    R(("-pgmfile", "-pgmimage"), 1, pgmfilename=word()),
    R(("-intfile", "-intimage"), 1, intfilename=word()),
    R("-bits", 1, bits=integer()),
    R(("-noisefile", "-noiseimage"), 1, noisefilename=word()),
    R("-nonoise", calculate_noise=False),
    R("-nopgm", write_pgm=False),
    R(("-readout", "-readnoi", "-readout_noise", "-readnoise"), 1, readout_noise=num()),
    R("-flicker", 1, flicker_noise=num()),
    R("-calibration", 1, calibration_noise=num()),
    R("-scale", 1, photon_scale=num()),
    R("-seed", 1, seed=integer(0, op=negated)),
    R("-calib_seed", 1, calib_seed=integer(0, op=negated)),
    R("-badpix_seed", 1, badpix_seed=integer(0, op=negated)),
    R("-hotpix_seed", 1, hotpix_seed=integer(0, op=negated)),
    R("-adc", 1, adc_offset=num()),
    R("-gain", 1, quantum_gain=num()),
    R("-phi", 1, phi0=num()),
    R("-osc", 1, osc=num()),
    # nbgpu's: matched exactly, and no rule above is a substring of it
    R("-backend", 1, match="exact", action=choice_action("backend", BACKENDS), nbgpu=True),
]

TABLE = FlagTable("noisify", RULES, NoisifyFlags)


def input_name(argv: list[str]) -> str | None:
    """The input image noisify opens last: a word containing floatimage.bin (wherever it is), or
    the word after -floatfile/-floatimage/-bin; None when there is none."""
    name = None
    for i, text in enumerate(argv):
        if FLOATIMAGE in text:
            name = text
            continue
        if text.startswith("-") and any(key in text for key in ("-floatfile", "-floatimage", "-bin")) \
                and i + 1 < len(argv):
            name = argv[i + 1]
    return name


def parse(argv: list[str]) -> tuple[NoisifyFlags, list[str], bool]:
    """argv -> (flags, warnings for stderr, whether an input was named)."""
    for text in argv:
        if text.startswith("-") and FLOATIMAGE in text:
            raise InputError(f"{text}: a flag containing {FLOATIMAGE} (noisify would open it as the input "
                             "and skip it as a flag)")
    flags, warnings = TABLE.parse(argv)
    warnings = [w for w in warnings if not (w.startswith("ignoring ") and FLOATIMAGE in w)]
    name = input_name(argv)
    if name is not None:
        flags = flags.replace(floatfilename=name)
    return flags, warnings, name is not None


def keyword_flags(args=None, **options) -> NoisifyFlags:
    """NoisifyFlags from noisify words (a string or a list) and keyword flags (seed=7,
    psf="gauss", nonoise=True), for the Python API; InputError as the command gives."""
    from nbgpu.setup.flags import command_words
    flags, _, _ = parse(command_words(args, options, TABLE))
    return flags


def psf_radius(flags: NoisifyFlags) -> int:
    """-psf_radius as noisify's int (truncated)."""
    if not -2147483648.0 < flags.psf_radius < 2147483648.0:
        raise InputError(f"-psf_radius: {flags.psf_radius:g} pixels does not fit an int")
    return c_int(flags.psf_radius)


class NoisifyDetector(Record):
    """The image size and the header values of a run."""
    xpixels: int                     # SIZE1: pixels a row
    ypixels: int                     # SIZE2: rows
    pixel: float                     # m
    distance: float                  # m
    detsize_x: float                 # m
    detsize_y: float
    Xbeam: float                     # m
    Ybeam: float
    lambda0: float                   # as noisify holds it (Angstrom, or metres from a header)

    @property
    def pixels(self) -> int:
        return self.xpixels * self.ypixels


def detector(flags: NoisifyFlags, input_pixels: int, header=None, input_name="") -> tuple:
    """noisify's image size from the flags, the input's size in floats and a -header
    (io.smv.SmvHeader) -> (NoisifyDetector, Told).  InputError where noisify would divide by
    zero or overflow an int."""
    lines = []
    x, y, pixels = flags.xpixels, flags.ypixels, input_pixels
    pixel, distance, lambda0 = flags.pixel, flags.distance, flags.lambda0
    detsize_x, detsize_y, Xbeam, Ybeam = flags.detsize_x, flags.detsize_y, flags.Xbeam, flags.Ybeam
    if x < 0 or y < 0:
        raise InputError(f"-detpixels: {min(x, y)} pixels")
    if header is not None:
        lines += [f"taking header from {flags.headerfilename}\n", f"reading {flags.headerfilename}\n"]
        x, y = header.width, header.height
        pixels = x * y
        value = header.value_of("PIXEL_SIZE")
        if not math.isnan(value):
            pixel = value / 1000.0
        detsize_x, detsize_y = pixel * x, pixel * y
        value = header.value_of("DISTANCE")
        if not math.isnan(value):
            distance = value / 1000.0
        value = header.value_of("WAVELENGTH")
        if not math.isnan(value):
            lambda0 = value / 1e10
        value = header.value_of("BEAM_CENTER_X")
        if not math.isnan(value):
            Xbeam = value / 1000.0
        value = header.value_of("BEAM_CENTER_Y")
        if not math.isnan(value):
            Ybeam = detsize_y - value / 1000.0
    if not x and not y:
        lines.append("WARNING: guessing xy pixel dimensions.\n")
        if pixels <= 0:
            raise InputError(f"-floatfile {input_name}: an empty image (fewer than 4 bytes) has no size to guess")
        x = int(math.sqrt(pixels))
        y = pixels // x
        while pixels != x * y and x > 0:
            x -= 1
            y = pixels // x
    if x and not y:
        y = pixels // x
    if not x and y:
        x = pixels // y
    if x:
        detsize_x = pixel * x
    else:
        x = c_int(math.ceil(detsize_x / pixel - 0.5)) if math.isfinite(detsize_x / pixel) else -1
    if y:
        detsize_y = pixel * y
    else:
        y = c_int(math.ceil(detsize_y / pixel - 0.5)) if math.isfinite(detsize_y / pixel) else -1
    if x <= 0 or y <= 0 or x * y > INT_MAX:
        raise InputError(f"-detpixels: no usable image size ({x}x{y} pixels)")
    if Xbeam <= NOT_GIVEN:
        Xbeam = detsize_x / 2.0
    if Ybeam <= NOT_GIVEN:
        Ybeam = detsize_y / 2.0
    record = NoisifyDetector(xpixels=x, ypixels=y, pixel=pixel, distance=distance, detsize_x=detsize_x,
                             detsize_y=detsize_y, Xbeam=Xbeam, Ybeam=Ybeam, lambda0=lambda0)
    return record, Told(lines=tuple(lines))


def summary(flags: NoisifyFlags, det: NoisifyDetector, seed: int) -> list[str]:
    """The lines noisify prints about the run before it reads the pixels' values."""
    noise = flags.calculate_noise
    out = [cformat("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)\n", det.distance, det.detsize_x,
                   det.detsize_y, det.pixel, det.xpixels, det.ypixels),
           cformat("  Xbeam=%g Ybeam=%g\n", det.Xbeam, det.Ybeam)]
    radius = psf_radius(flags)
    if flags.psf_type:
        name = "Gaussian" if flags.psf_type == "gauss" else "fiber"
        out.append(cformat(f"  {name} PSF fwhm = %g um ", flags.psf_fwhm * 1e6))
        if radius == 0:
            out.append("  with automatic rendering radius\n")
        if radius >= 0:
            out.append(f"  with rendering radius: {radius}\n")
    out += [f"  seed: {seed}\n", f"  calibration noise seed: {flags.calib_seed}\n",
            cformat("  calibration_noise = %g %%\n", (flags.calibration_noise if noise else 0.0) * 100),
            cformat("  input file scale = %g\n", flags.photon_scale),
            cformat("  readout_noise = %g ADU\n", flags.readout_noise if noise else 0.0),
            cformat("  flicker_noise = %g %%\n", (flags.flicker_noise if noise else 0.0) * 100),
            cformat("  quantum_gain = %g ADU/photon\n", flags.quantum_gain),
            cformat("  adc_offset = %g ADU\n", flags.adc_offset), "\n"]
    return out

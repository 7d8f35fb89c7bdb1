"""Detector setup: size, beam centres, conventions, pivots and the detector origin.

Each function is one step of nanoBragg's main() (pipeline.md §4-§6, §9) and updates the
Settings in place, printing what nanoBragg prints.
"""
import math

from .errors import InputError
from .memory import check_allocation
from .vec import DBL_MIN, cross, dot, rotate_axis, rotate_xyz, unitize

# vectors each convention imposes (pipeline.md §5); CUSTOM keeps what the flags set
CONVENTION_VECTORS = {
    "mosflm": dict(beam=(1, 0, 0), fdet=(0, 0, 1), sdet=(0, -1, 0), odet=(1, 0, 0),
                   twotheta=(0, 0, -1), polar=(0, 0, 1), spindle=(0, 0, 1), pivot="beam"),
    "denzo": dict(beam=(1, 0, 0), fdet=(0, 0, 1), sdet=(0, -1, 0), odet=(1, 0, 0),
                  twotheta=(0, 0, -1), polar=(0, 0, 1), spindle=(0, 0, 1), pivot="beam"),
    "adxv": dict(beam=(0, 0, 1), fdet=(1, 0, 0), sdet=(0, -1, 0), odet=(0, 0, 1),
                 twotheta=(-1, 0, 0), polar=(1, 0, 0), spindle=(1, 0, 0), pivot="beam"),
    "xds": dict(beam=(0, 0, 1), fdet=(1, 0, 0), sdet=(0, 1, 0), odet=(0, 0, 1),
                twotheta=(1, 0, 0), polar=(1, 0, 0), spindle=(1, 0, 0), pivot="sample"),
    "dials": dict(beam=(0, 0, 1), fdet=(1, 0, 0), sdet=(0, 1, 0), odet=(0, 0, 1),
                  twotheta=(0, 1, 0), polar=(0, 1, 0), spindle=(0, 1, 0), pivot="sample"),
}

MAX_PIXELS = 2**31 - 1      # the engines index rows and pixels with 32-bit ints
BYTES_PER_PIXEL = 16        # float image, int image, PGM, mask flags and working copies


def derive_detector_size(s, log):
    """Pixel counts from sizes (a known count wins), fluence from flux, beam clipping (§4)."""
    if s.fpixels:
        s.detsize_f = s.pixel_size * s.fpixels
    if s.spixels:
        s.detsize_s = s.pixel_size * s.spixels
    s.fpixels = math.ceil(s.detsize_f / s.pixel_size - 0.5)
    s.spixels = math.ceil(s.detsize_s / s.pixel_size - 0.5)
    if s.fpixels <= 0 or s.spixels <= 0:
        raise InputError(f"detector has {s.fpixels}x{s.spixels} pixels: check -detsize and -pixel")
    if s.fpixels * s.spixels > MAX_PIXELS or s.fpixels > 2**30 or s.spixels > 2**30:
        raise InputError(f"detector of {s.fpixels}x{s.spixels} pixels is too large to render "
                         "(at most 2^31-1 pixels): check -detpixels, -detsize and -pixel")
    check_allocation(s.fpixels * s.spixels * BYTES_PER_PIXEL, f"a detector of {s.fpixels}x{s.spixels} pixels",
                     "check -detpixels, -detsize and -pixel")

    if s.flux != 0.0 and s.exposure > 0.0 and s.beamsize >= 0:
        if s.beamsize == 0.0:
            raise InputError("-beamsize: must be greater than 0 when -flux is given")
        s.fluence = s.flux * s.exposure / s.beamsize / s.beamsize
    if s.beamsize >= 0:
        if s.beamsize < s.sample_y:
            log("WARNING: clipping sample (%g m high) with beam (%g m)\n" % (s.sample_y, s.beamsize))
            s.sample_y = s.beamsize
        if s.beamsize < s.sample_z:
            log("WARNING: clipping sample (%g m wide) with beam (%g m)\n" % (s.sample_z, s.beamsize))
            s.sample_z = s.beamsize
    if s.exposure > 0.0:
        s.flux = s.fluence / s.exposure * s.beamsize * s.beamsize

    # near point and ROI defaults
    s.Fclose = (s.ORGX - 0.5) * s.pixel_size if not math.isnan(s.ORGX) else math.nan
    s.Sclose = (s.ORGY - 0.5) * s.pixel_size if not math.isnan(s.ORGY) else math.nan
    if math.isnan(s.Fclose):
        s.Fclose = (s.detsize_f - 0 * s.pixel_size) / 2.0
    if math.isnan(s.Sclose):
        s.Sclose = (s.detsize_s + 0 * s.pixel_size) / 2.0
    if math.isnan(s.Xclose):
        s.Xclose = s.Fclose
    if math.isnan(s.Yclose):
        s.Yclose = s.Sclose
    s.Fbeam, s.Sbeam = s.Fclose, s.Sclose
    defaults = [0, s.fpixels, 0, s.spixels]
    s.roi = [default if value < 0 else value for value, default in zip(s.roi, defaults)]
    xmin, xmax, ymin, ymax = s.roi
    s.progress_pixels = (xmax - xmin + 1) * (ymax - ymin + 1)


def apply_convention(s):
    """Vectors, default beam centre, Fbeam/Sbeam and the forced pivot of the convention (§5)."""
    conv = s.beam_convention
    if conv in CONVENTION_VECTORS:
        table = CONVENTION_VECTORS[conv]
        s.beam_vector, s.fdet_vector, s.sdet_vector, s.odet_vector, s.twotheta_axis, \
            s.polar_vector, s.spindle_vector = (
                [float(x) for x in table[key]]
                for key in ("beam", "fdet", "sdet", "odet", "twotheta", "polar", "spindle"))
        s.detector_pivot = table["pivot"]
    px = s.pixel_size
    if conv == "adxv":
        if math.isnan(s.Xbeam):
            s.Xbeam = (s.detsize_f + px) / 2.0
        if math.isnan(s.Ybeam):
            s.Ybeam = (s.detsize_s - px) / 2.0
        s.Fbeam, s.Sbeam = s.Xbeam, s.detsize_s - s.Ybeam
    elif conv in ("mosflm", "denzo"):
        if math.isnan(s.Xbeam):
            s.Xbeam = (s.detsize_s + px) / 2.0
        if math.isnan(s.Ybeam):
            s.Ybeam = (s.detsize_f + px) / 2.0
        shift = 0.5 if conv == "mosflm" else 0.0     # MOSFLM's half pixel, on every centre
        s.Fbeam, s.Sbeam = s.Ybeam + shift * px, s.Xbeam + shift * px
    else:   # xds, dials, custom: the beam centre defaults to the near point
        if math.isnan(s.Xbeam):
            s.Xbeam = s.Xclose
        if math.isnan(s.Ybeam):
            s.Ybeam = s.Yclose
        s.Fbeam, s.Sbeam = s.Xbeam, s.Ybeam
        if conv == "custom":
            s.Fclose, s.Sclose = s.Xbeam, s.Ybeam


def normalize_vectors(s, log):
    """Unit vectors; odet is rebuilt as fdet x sdet unless typed with length exactly 1 (§6)."""
    s.beam_vector, _ = unitize(s.beam_vector)
    s.fdet_vector, _ = unitize(s.fdet_vector)
    s.sdet_vector, _ = unitize(s.sdet_vector)
    s.odet_vector, length = unitize(s.odet_vector)
    if length != 1.0:
        log("WARNING: auto-generating odet_vector\n")
        s.odet_vector, _ = unitize(cross(s.fdet_vector, s.sdet_vector))
    s.polar_vector, _ = unitize(s.polar_vector)
    s.spindle_vector, _ = unitize(s.spindle_vector)
    s.vert_vector, _ = unitize(cross(s.beam_vector, s.polar_vector))


def place_detector(s, log):
    """Rotations, two-theta and the pivot give pix0 and the final distances (§9)."""
    log("%s convention selected.\n" % s.beam_convention)
    rot = (s.detector_rotx, s.detector_roty, s.detector_rotz)
    axis, twotheta = s.twotheta_axis, s.detector_twotheta
    ratio = dot(s.beam_vector, rotate_xyz(s.odet_vector, *rot))
    if ratio == 0.0:
        ratio = DBL_MIN
    if math.isnan(s.close_distance):
        s.close_distance = abs(ratio * s.distance)
    s.distance = s.close_distance / ratio

    if s.detector_pivot == "sample":
        log("pivoting detector around sample\n")
        pix0 = [-s.Fclose * f - s.Sclose * sd + s.close_distance * o
                for f, sd, o in zip(s.fdet_vector, s.sdet_vector, s.odet_vector)]
        pix0 = rotate_axis(rotate_xyz(pix0, *rot), axis, twotheta)
    s.fdet_vector = rotate_axis(rotate_xyz(s.fdet_vector, *rot), axis, twotheta)
    s.sdet_vector = rotate_axis(rotate_xyz(s.sdet_vector, *rot), axis, twotheta)
    s.odet_vector = rotate_axis(rotate_xyz(s.odet_vector, *rot), axis, twotheta)
    if s.detector_pivot == "beam":
        log("pivoting detector around direct beam spot\n")
        pix0 = [-s.Fbeam * f - s.Sbeam * sd + s.distance * b
                for f, sd, b in zip(s.fdet_vector, s.sdet_vector, s.beam_vector)]
    s.pix0_vector = pix0

    s.Fclose = -dot(pix0, s.fdet_vector)
    s.Sclose = -dot(pix0, s.sdet_vector)
    s.close_distance = dot(pix0, s.odet_vector)
    beam_spot = [s.close_distance / ratio * b - p for b, p in zip(s.beam_vector, pix0)]
    s.Fbeam = dot(s.fdet_vector, beam_spot)
    s.Sbeam = dot(s.sdet_vector, beam_spot)
    s.distance = s.close_distance / ratio
    s.ORGX = s.Fclose / s.pixel_size + 0.5
    s.ORGY = s.Sclose / s.pixel_size + 0.5
    s.dials_origin = [1000.0 * dot(pix0, (0.0, 0.0, 1.0)),
                      1000.0 * dot(pix0, (0.0, 1.0, 0.0)),
                      1000.0 * dot(pix0, (-1.0, 0.0, 0.0))]
    log("XDS incident beam: %g %g %g\n" % (dot(s.beam_vector, s.fdet_vector),
                                           dot(s.beam_vector, s.sdet_vector),
                                           dot(s.beam_vector, s.odet_vector)))


def pix0_warning(s) -> str | None:
    """nbgpu: say so when the origin asked for with -pix0_vector[_mm] is not the one used."""
    if s.pix0_given_m is None:
        return None
    used = s.pix0_vector
    if max(abs(a - b) for a, b in zip(used, s.pix0_given_m)) <= 1e-9:
        return None
    unit, factor = ("mm", 1000.0) if s.pix0_flag.endswith("_mm") else ("m", 1.0)
    given = " ".join("%g" % (v * factor) for v in s.pix0_given_m)
    actual = " ".join("%g" % (v * factor) for v in used)
    return (f"{s.pix0_flag} {given} is not the detector origin used: as nanoBragg does, the origin "
            f"is recomputed from the beam centre, distance and pivot; origin used: {actual} {unit}")

"""Detector setup: pixel counts, beam centres, conventions, pivots and the detector origin.

Three steps of nanoBragg's main() (pipeline.md §4-§6, §9), each a function from what it needs
to a record it returns, printing what nanoBragg prints: the pixel grid, the frame (conventions,
beam centres, unit vectors, ROI) and the placed detector (rotations, pivot, origin, distances).
"""
from __future__ import annotations

import math

from nbgpu.base.errors import InputError
from nbgpu.base.memory import check_allocation
from nbgpu.base.records import Record
from nbgpu.base.told import tells
from nbgpu.base.vectors import DBL_MIN, cross, dot, rotate_axis, rotate_xyz, unitize

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


class PixelGrid(Record):
    """How many pixels, and the detector's size (m)."""
    fpixels: int
    spixels: int
    pixel_size: float
    detsize_f: float
    detsize_s: float


class Frame(Record):
    """The detector before it is placed: the grid, the convention's vectors (unit), the beam
    centre (Xbeam/Ybeam as typed or defaulted, Fbeam/Sbeam along the detector axes), the near
    point and the rendered region."""
    grid: PixelGrid
    convention: str
    pivot: str                       # "beam" or "sample"
    beam: tuple                      # from the sample toward the detector
    fdet: tuple
    sdet: tuple
    odet: tuple
    twotheta_axis: tuple
    polar: tuple                     # the polarization (E) vector
    vert: tuple                      # beam x polar: the vertical of divergence
    spindle: tuple
    Xbeam: float
    Ybeam: float
    Fbeam: float
    Sbeam: float
    Xclose: float
    Yclose: float
    Fclose: float
    Sclose: float
    roi: tuple                       # xmin xmax ymin ymax, inclusive
    progress_pixels: int             # nanoBragg's meter total: the ROI's size as it computes it


class Detector(Record):
    """The placed detector: everything the render and the image headers need of it."""
    frame: Frame
    fdet: tuple                      # rotated
    sdet: tuple
    odet: tuple
    pix0: tuple                      # the origin (m): the corner of pixel (0, 0)
    distance: float                  # along the beam to the detector plane
    close_distance: float            # along the detector normal
    Fbeam: float                     # where the direct beam hits, along fdet and sdet (m)
    Sbeam: float
    Fclose: float                    # the near point
    Sclose: float
    ORGX: float                      # the near point in pixels (XDS)
    ORGY: float
    dials_origin: tuple              # pix0 in DIALS' frame (mm)
    twotheta: float
    curved: bool
    point_pixel: bool

    # what the frame holds, under the names users and the headers look for
    @property
    def fpixels(self) -> int:
        return self.frame.grid.fpixels

    @property
    def spixels(self) -> int:
        return self.frame.grid.spixels

    @property
    def pixel_size(self) -> float:
        return self.frame.grid.pixel_size

    @property
    def beam(self) -> tuple:
        return self.frame.beam

    @property
    def roi(self) -> tuple:
        return self.frame.roi


def pixel_grid(f) -> PixelGrid:
    """Pixel counts from sizes (a known count wins), checked against what can be rendered (§4)."""
    detsize_f = f.pixel_size * f.fpixels if f.fpixels else f.detsize_f
    detsize_s = f.pixel_size * f.spixels if f.spixels else f.detsize_s
    fpixels = math.ceil(detsize_f / f.pixel_size - 0.5)
    spixels = math.ceil(detsize_s / f.pixel_size - 0.5)
    if fpixels <= 0 or spixels <= 0:
        raise InputError(f"detector has {fpixels}x{spixels} pixels: check -detsize and -pixel")
    if fpixels * spixels > MAX_PIXELS or fpixels > 2**30 or spixels > 2**30:
        raise InputError(f"detector of {fpixels}x{spixels} pixels is too large to render "
                         "(at most 2^31-1 pixels): check -detpixels, -detsize and -pixel")
    check_allocation(fpixels * spixels * BYTES_PER_PIXEL, f"a detector of {fpixels}x{spixels} pixels",
                     "check -detpixels, -detsize and -pixel")
    return PixelGrid(fpixels=fpixels, spixels=spixels, pixel_size=f.pixel_size, detsize_f=detsize_f,
                     detsize_s=detsize_s)


@tells
def frame(f, grid: PixelGrid, tell) -> Frame:
    """The near point and ROI defaults (§4), the convention's vectors, beam centre and pivot (§5),
    unit vectors with odet rebuilt as fdet x sdet unless typed with length exactly 1 (§6)."""
    px = grid.pixel_size
    Fclose = (f.ORGX - 0.5) * px if not math.isnan(f.ORGX) else (grid.detsize_f - 0 * px) / 2.0
    Sclose = (f.ORGY - 0.5) * px if not math.isnan(f.ORGY) else (grid.detsize_s + 0 * px) / 2.0
    Xclose = Fclose if math.isnan(f.Xclose) else f.Xclose
    Yclose = Sclose if math.isnan(f.Yclose) else f.Yclose
    roi = tuple(default if value < 0 else value for value, default in zip(f.roi, (0, grid.fpixels, 0, grid.spixels)))
    xmin, xmax, ymin, ymax = roi

    conv, pivot = f.beam_convention, f.detector_pivot
    vectors = dict(beam=f.beam_vector, fdet=f.fdet_vector, sdet=f.sdet_vector, odet=f.odet_vector,
                   twotheta=f.twotheta_axis, polar=f.polar_vector, spindle=f.spindle_vector)
    if conv in CONVENTION_VECTORS:
        table = CONVENTION_VECTORS[conv]
        vectors = {key: tuple(float(x) for x in table[key]) for key in vectors}
        pivot = table["pivot"]
    Xbeam, Ybeam = f.Xbeam, f.Ybeam
    if conv == "adxv":
        Xbeam = (grid.detsize_f + px) / 2.0 if math.isnan(Xbeam) else Xbeam
        Ybeam = (grid.detsize_s - px) / 2.0 if math.isnan(Ybeam) else Ybeam
        Fbeam, Sbeam = Xbeam, grid.detsize_s - Ybeam
    elif conv in ("mosflm", "denzo"):
        Xbeam = (grid.detsize_s + px) / 2.0 if math.isnan(Xbeam) else Xbeam
        Ybeam = (grid.detsize_f + px) / 2.0 if math.isnan(Ybeam) else Ybeam
        shift = 0.5 if conv == "mosflm" else 0.0     # MOSFLM's half pixel, on every centre
        Fbeam, Sbeam = Ybeam + shift * px, Xbeam + shift * px
    else:   # xds, dials, custom: the beam centre defaults to the near point
        Xbeam = Xclose if math.isnan(Xbeam) else Xbeam
        Ybeam = Yclose if math.isnan(Ybeam) else Ybeam
        Fbeam, Sbeam = Xbeam, Ybeam
        if conv == "custom":
            Fclose, Sclose = Xbeam, Ybeam

    beam, _ = unitize(vectors["beam"])
    fdet, _ = unitize(vectors["fdet"])
    sdet, _ = unitize(vectors["sdet"])
    odet, length = unitize(vectors["odet"])
    if length != 1.0:
        tell.say("WARNING: auto-generating odet_vector\n")
        odet, _ = unitize(cross(fdet, sdet))
    polar, _ = unitize(vectors["polar"])
    spindle, _ = unitize(vectors["spindle"])
    vert, _ = unitize(cross(beam, polar))
    return Frame(grid=grid, convention=conv, pivot=pivot, beam=tuple(beam), fdet=tuple(fdet), sdet=tuple(sdet),
                 odet=tuple(odet), twotheta_axis=tuple(vectors["twotheta"]), polar=tuple(polar), vert=tuple(vert),
                 spindle=tuple(spindle), Xbeam=Xbeam, Ybeam=Ybeam, Fbeam=Fbeam, Sbeam=Sbeam, Xclose=Xclose,
                 Yclose=Yclose, Fclose=Fclose, Sclose=Sclose, roi=roi,
                 progress_pixels=(xmax - xmin + 1) * (ymax - ymin + 1))


@tells
def place(f, fr: Frame, tell) -> Detector:
    """Rotations, two-theta and the pivot give pix0 and the final distances (§9)."""
    tell.say("%s convention selected.\n" % fr.convention)
    rot = (f.detector_rotx, f.detector_roty, f.detector_rotz)
    axis, twotheta = fr.twotheta_axis, f.detector_twotheta
    ratio = dot(fr.beam, rotate_xyz(fr.odet, *rot))
    if ratio == 0.0:
        ratio = DBL_MIN
    close_distance = abs(ratio * f.distance) if math.isnan(f.close_distance) else f.close_distance
    distance = close_distance / ratio

    if fr.pivot == "sample":
        tell.say("pivoting detector around sample\n")
        pix0 = [-fr.Fclose * fd - fr.Sclose * sd + close_distance * o
                for fd, sd, o in zip(fr.fdet, fr.sdet, fr.odet)]
        pix0 = rotate_axis(rotate_xyz(pix0, *rot), axis, twotheta)
    fdet = rotate_axis(rotate_xyz(fr.fdet, *rot), axis, twotheta)
    sdet = rotate_axis(rotate_xyz(fr.sdet, *rot), axis, twotheta)
    odet = rotate_axis(rotate_xyz(fr.odet, *rot), axis, twotheta)
    if fr.pivot == "beam":
        tell.say("pivoting detector around direct beam spot\n")
        pix0 = [-fr.Fbeam * fd - fr.Sbeam * sd + distance * b for fd, sd, b in zip(fdet, sdet, fr.beam)]

    Fclose, Sclose = -dot(pix0, fdet), -dot(pix0, sdet)
    close_distance = dot(pix0, odet)
    beam_spot = [close_distance / ratio * b - p for b, p in zip(fr.beam, pix0)]
    px = fr.grid.pixel_size
    tell.say("XDS incident beam: %g %g %g\n" % (dot(fr.beam, fdet), dot(fr.beam, sdet), dot(fr.beam, odet)))
    return Detector(frame=fr, fdet=tuple(fdet), sdet=tuple(sdet), odet=tuple(odet), pix0=tuple(pix0),
                    distance=close_distance / ratio, close_distance=close_distance,
                    Fbeam=dot(fdet, beam_spot), Sbeam=dot(sdet, beam_spot), Fclose=Fclose, Sclose=Sclose,
                    ORGX=Fclose / px + 0.5, ORGY=Sclose / px + 0.5,
                    dials_origin=(1000.0 * dot(pix0, (0.0, 0.0, 1.0)), 1000.0 * dot(pix0, (0.0, 1.0, 0.0)),
                                  1000.0 * dot(pix0, (-1.0, 0.0, 0.0))),
                    twotheta=twotheta, curved=bool(f.curved_detector), point_pixel=bool(f.point_pixel))


def pix0_warning(f, detector: Detector) -> str | None:
    """nbgpu: say so when the origin asked for with -pix0_vector[_mm] is not the one used."""
    if f.pix0_given_m is None:
        return None
    used = detector.pix0
    if max(abs(a - b) for a, b in zip(used, f.pix0_given_m)) <= 1e-9:
        return None
    unit, factor = ("mm", 1000.0) if f.pix0_flag.endswith("_mm") else ("m", 1.0)
    given = " ".join("%g" % (v * factor) for v in f.pix0_given_m)
    actual = " ".join("%g" % (v * factor) for v in used)
    return (f"{f.pix0_flag} {given} is not the detector origin used: as nanoBragg does, the origin "
            f"is recomputed from the beam centre, distance and pivot; origin used: {actual} {unit}")

"""nonBragg's setup stages: the sample and exposure, the detector (its own defaults: the near
point half a pixel off centre, the beam centre on it, no conventions, odet always fdet x sdet),
the divergence and dispersion sampling, the sources and the padded F table.

Each stage is a function of records returning its record and what nonBragg prints there
(base.told); none opens a file (setup.nonbragg_prepare reads them).  Arithmetic is scalar
Python in nonBragg's order, so the geometry is the same to the last bit.
"""
from __future__ import annotations

import math

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.told import tells
from nbgpu.base.vectors import DBL_MIN, cross, dot, rotate_axis, rotate_xyz, unitize
from nbgpu.base.memory import check_allocation
from nbgpu.setup.detector import BYTES_PER_PIXEL, MAX_PIXELS
from nbgpu.setup.beam import fluence_and_sample, generated_sources, sources_from_file
from nbgpu.setup.sampling import Spreads, phi_sampling, spreads

AVOGADRO = 6.02214179e23
R_E_SQR = 7.94079248018965e-30          # Thomson cross section, m^2
TABLE_TAIL = 6                          # NaN entries after the padded table, as nonBragg's allocation has


class Sample(Record):
    """What the beam sees of the sample."""
    fluence: float                   # photons/m^2
    size: tuple                      # thickness, height, width (m), after the beam's clipping
    volume: float                    # m^3
    density: float                   # g/m^3
    molecular_weight: float          # g/mol
    molecules: float


class Geometry(Record):
    """The placed detector, and the unit vectors of the beam."""
    fpixels: int
    spixels: int
    pixel_size: float
    detsize_x: float
    detsize_y: float
    roi: tuple                       # xmin xmax ymin ymax as nonBragg keeps them (xmax may be fpixels)
    progress_pixels: int             # the meter's total, from the ROI as nonBragg computes it
    pivot: str
    beam: tuple
    polar: tuple                     # the unit E-vector
    vert: tuple                      # beam x polar
    fdet: tuple                      # rotated
    sdet: tuple
    odet: tuple
    pix0: tuple                      # the corner of pixel (0, 0) (m)
    distance: float                  # along the beam
    close_distance: float            # along the detector normal
    Xbeam: float                     # where the direct beam hits, along fdet and sdet (m)
    Ybeam: float
    Xclose: float                    # the near point (m)
    Yclose: float
    twotheta: float                  # rad
    curved: bool
    point_pixel: bool


class Spread(Spreads):
    """Divergence and dispersion (nanoBragg's rules), and the oscillation of the header."""
    osc: float                       # rad


class Sources(Record):
    """The X-ray sources: position (only its direction matters), weight and wavelength."""
    X: tuple
    Y: tuple
    Z: tuple
    I: tuple
    wavelength: tuple                # m
    divsteps: int                    # divergence points kept (-1 with -sourcefile)


class Table(Record):
    """F against sin(theta)/lambda, padded at both ends for the 4-point interpolation."""
    stol: tuple                      # 1/m: -1e99, -1e98, the table, 1e98, 1e99, then NaN
    F: tuple
    count: int                       # padded entries (the table's rows + 4)
    monotonic: bool                  # stol strictly increasing: the search result is where it starts


@tells
def sample(f, tell) -> Sample:
    """Fluence from flux, the sample clipped by the beam, its molecules from the density (or
    the density from -molecules)."""
    fluence, size = fluence_and_sample(f, tell)
    volume = size[0] * size[1] * size[2]
    density = f.density
    if f.molecules != 0:
        if volume == 0.0 or f.molecular_weight == 0.0:
            raise InputError("-molecules: the sample has no volume (or -MW is 0): nonBragg's density is then "
                             "not a number")
        density = f.molecules / volume / AVOGADRO * f.molecular_weight
    if f.molecular_weight == 0.0:
        raise InputError("-MW: the molecular weight must not be 0")
    molecules = volume * density * AVOGADRO / f.molecular_weight
    return Sample(fluence=fluence, size=tuple(size), volume=volume, density=density,
                  molecular_weight=f.molecular_weight, molecules=molecules)


def pixel_counts(f) -> tuple:
    """(fpixels, spixels, detsize_x, detsize_y): a given count fixes the size on its axis."""
    detsize_x = f.pixel_size * f.fpixels if f.fpixels else f.detsize_x
    detsize_y = f.pixel_size * f.spixels if f.spixels else f.detsize_y
    fpixels, spixels = math.ceil(detsize_x / f.pixel_size), math.ceil(detsize_y / f.pixel_size)
    if fpixels <= 0 or spixels <= 0:
        raise InputError(f"detector has {fpixels}x{spixels} pixels: check -detsize and -pixel")
    if fpixels * spixels > MAX_PIXELS:
        raise InputError(f"detector of {fpixels}x{spixels} pixels is too large (at most 2^31-1 pixels)")
    check_allocation(fpixels * spixels * BYTES_PER_PIXEL, f"a detector of {fpixels}x{spixels} pixels",
                     "check -detpixels, -detsize and -pixel")
    return fpixels, spixels, detsize_x, detsize_y


@tells
def geometry(f, tell) -> Geometry:
    """Pixel counts, the near point and beam centre defaults, the ROI, the unit vectors, then
    rotations, two-theta and the pivot: pix0 and the final distances and centres."""
    fpixels, spixels, detsize_x, detsize_y = pixel_counts(f)
    px = f.pixel_size
    Xclose = f.ORGX * px if not math.isnan(f.ORGX) else f.Xclose
    Yclose = f.ORGY * px if not math.isnan(f.ORGY) else f.Yclose
    Xclose = (detsize_x - px) / 2.0 if math.isnan(Xclose) else Xclose
    Yclose = (detsize_y + px) / 2.0 if math.isnan(Yclose) else Yclose
    Xbeam = Xclose if math.isnan(f.Xbeam) else f.Xbeam
    Ybeam = Yclose if math.isnan(f.Ybeam) else f.Ybeam
    roi = tuple(default if value < 0 else value for value, default in zip(f.roi, (0, fpixels, 0, spixels)))
    beam, _ = unitize(f.beam_vector)
    fdet, _ = unitize(f.fdet_vector)
    sdet, _ = unitize(f.sdet_vector)
    odet, _ = unitize(cross(fdet, sdet))
    polar, _ = unitize(f.polar_vector)
    vert, _ = unitize(cross(beam, polar))

    rot = (f.detector_rotx, f.detector_roty, f.detector_rotz)
    axis, twotheta = f.twotheta_axis, f.detector_twotheta
    ratio = dot(beam, rotate_xyz(odet, *rot))
    if ratio == 0.0:
        ratio = DBL_MIN
    close_distance = ratio * f.distance if math.isnan(f.close_distance) else f.close_distance
    distance = close_distance / ratio
    if f.detector_pivot == "sample":
        tell.say("pivoting detector around sample\n")
        pix0 = [-Xclose * fd - Yclose * sd + close_distance * o for fd, sd, o in zip(fdet, sdet, odet)]
        pix0 = rotate_axis(rotate_xyz(pix0, *rot), axis, twotheta)
    fdet = rotate_axis(rotate_xyz(fdet, *rot), axis, twotheta)
    sdet = rotate_axis(rotate_xyz(sdet, *rot), axis, twotheta)
    odet = rotate_axis(rotate_xyz(odet, *rot), axis, twotheta)
    if f.detector_pivot == "beam":
        tell.say("pivoting detector around direct beam spot\n")
        pix0 = [-Xbeam * fd - Ybeam * sd + distance * b for fd, sd, b in zip(fdet, sdet, beam)]
    Xclose, Yclose = -dot(pix0, fdet), -dot(pix0, sdet)
    close_distance = dot(pix0, odet)
    spot = [close_distance / ratio * b - p for b, p in zip(beam, pix0)]
    xmin, xmax, ymin, ymax = roi
    return Geometry(fpixels=fpixels, spixels=spixels, pixel_size=px, detsize_x=detsize_x, detsize_y=detsize_y,
                    roi=roi, progress_pixels=(xmax - xmin + 1) * (ymax - ymin + 1), pivot=f.detector_pivot,
                    beam=tuple(beam), polar=tuple(polar), vert=tuple(vert), fdet=tuple(fdet), sdet=tuple(sdet),
                    odet=tuple(odet), pix0=tuple(pix0), distance=close_distance / ratio,
                    close_distance=close_distance, Xbeam=dot(fdet, spot), Ybeam=dot(sdet, spot), Xclose=Xclose,
                    Yclose=Yclose, twotheta=twotheta, curved=bool(f.curved_detector),
                    point_pixel=bool(f.point_pixel))


def spread(f) -> Spread:
    """The divergence and dispersion left unset filled in and reset as nanoBragg does (nonBragg's
    source is the same); the phi rules give the header's oscillation."""
    osc, _, _ = phi_sampling(f.osc, f.phistep, f.phisteps)
    return Spread(**spreads(f), osc=osc)


@tells
def sources(f, table, sp: Spread, geo: Geometry, tell) -> Sources:
    """The -sourcefile rows (missing values: the position along the beam at -source_distance,
    weight 1, the wavelength of -lambda), or the divergence grid x the wavelengths."""
    if table is not None:
        rows, divsteps = sources_from_file(f, table, geo.beam, f.source_distance)
    else:
        rows, divsteps = generated_sources(f, sp, geo, tell, f.source_distance, weight=1.0)
    if not rows:
        raise InputError("no source is left: -round_div trimmed the whole divergence grid (nonBragg divides "
                         "by zero); check -divsteps/-hdivsteps/-vdivsteps or use -square_div")
    tell.say("  created a total of %d sources:\n" % len(rows))
    for n, (x, y, z, weight, wavelength) in enumerate(rows):
        tell.say("%g %g %g   %g %g\n" % (x, y, z, weight, wavelength))
        if not (wavelength > 0.0 and math.isfinite(wavelength)) or not any((x, y, z)):
            tell.warn(f"source {n + 1} has position {x:g} {y:g} {z:g} and wavelength {wavelength:g} m: its "
                      "pixels are not numbers, as in nonBragg (a '#' line of -sourcefile reads as zeros)")
    columns = list(zip(*rows))
    check_allocation(8 * 12 * len(rows) * max(1, f.oversample) ** 2 * geo.fpixels, f"{len(rows)} sources at "
                     f"oversample {f.oversample}", "check -oversample, -divsteps, -dispsteps and -sourcefile")
    return Sources(X=columns[0], Y=columns[1], Z=columns[2], I=columns[3], wavelength=columns[4],
                   divsteps=divsteps)


@tells
def table(f, rows, tell) -> Table:
    """The -stol table in 1/m, padded with two entries at each end (F of the first and last
    rows), a missing F read as 0."""
    if len(rows) == 0:
        raise InputError(f"-stol {f.stolfilename}: no data in input file")
    F_values = [float(row[1]) for row in rows if not math.isnan(row[1])]
    if not F_values:
        raise InputError(f"-stol {f.stolfilename}: no F values (the second column) in the table")
    stol = [-1e99, -1e98] + [float(row[0]) * f.stol_file_mult for row in rows] + [1e98, 1e99]
    F = [F_values[0]] * 2 + [0.0 if math.isnan(row[1]) else float(row[1]) for row in rows] + [F_values[-1]] * 2
    monotonic = all(math.isfinite(a) and a < b for a, b in zip(stol, stol[1:]))
    if len(set(stol)) < len(stol):
        tell.warn(f"-stol {f.stolfilename}: repeated sin(theta)/lambda values: the interpolation divides by "
                  "zero there and those pixels are not numbers, as in nonBragg")
    nan = [math.nan] * TABLE_TAIL
    return Table(stol=tuple(stol + nan), F=tuple(F + nan), count=len(stol), monotonic=monotonic)


def polar_axes(polar: tuple) -> tuple:
    """The E-vector as successive polarization calls see it: nonBragg renormalizes it at every
    call, which may move its last bits a few times before it stops changing."""
    axes = [tuple(unitize(polar)[0])]
    while len(axes) < 16:
        again = tuple(unitize(axes[-1])[0])
        if again == axes[-1]:
            break
        axes.append(again)
    return tuple(axes)

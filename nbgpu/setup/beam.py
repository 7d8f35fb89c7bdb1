"""The beam: the exposure (fluence, flux, the sample clipped by the beam) and the X-ray sources,
from -sourcefile or generated from divergence and dispersion (§4, §15).

Every source counts equally (nanoBragg ignores the weight column); the wavelength column is
used.  Sources are unit vectors from the sample toward the source.
"""
import math

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.told import tells
from nbgpu.base.vectors import ieee_div, rotate_axis, unitize

SOURCE_DISTANCE = 10.0      # m; nanoBragg's -source_distance flag is commented out


class Exposure(Record):
    """Photons on the sample, and the sample size the beam leaves (it clips y and z)."""
    fluence: float                   # photons/m^2
    flux: float                      # photons/s
    exposure: float                  # s
    beamsize: float                  # m
    sample_size: tuple               # x, y, z (m; 0: not given)


class Beam(Record):
    """The incident beam: its exposure, direction and polarization, and its sources."""
    exposure: Exposure
    lambda0: float                   # the central wavelength (m)
    direction: tuple                 # unit, from the sample toward the detector
    polar: tuple                     # unit polarization (E) vector
    kahn_factor: float
    nopolar: bool
    source_dir: tuple                # unit vectors from the sample toward each source
    source_lambda: tuple             # each source's wavelength (m)
    divsteps: int                    # the divergence points kept (-1: from -sourcefile)

    @property
    def fluence(self) -> float:
        return self.exposure.fluence

    @property
    def sources(self) -> int:
        return len(self.source_lambda)


def fluence_and_sample(f, tell) -> tuple:
    """(fluence from flux, the sample [x, y, z] clipped by the beam): nanoBragg's and nonBragg's
    code alike."""
    fluence, sample = f.fluence, [f.sample_x, f.sample_y, f.sample_z]
    if f.flux != 0.0 and f.exposure > 0.0 and f.beamsize >= 0:
        if f.beamsize == 0.0:
            raise InputError("-beamsize: must be greater than 0 when -flux is given")
        fluence = f.flux * f.exposure / f.beamsize / f.beamsize
    if f.beamsize >= 0:
        if f.beamsize < sample[1]:
            tell.say("WARNING: clipping sample (%g m high) with beam (%g m)\n" % (sample[1], f.beamsize))
            sample[1] = f.beamsize
        if f.beamsize < sample[2]:
            tell.say("WARNING: clipping sample (%g m wide) with beam (%g m)\n" % (sample[2], f.beamsize))
            sample[2] = f.beamsize
    return fluence, sample


@tells
def exposure(f, tell) -> Exposure:
    """Fluence from flux, and the sample clipped by the beam, as nanoBragg does (§4, quirk Q34)."""
    fluence, sample = fluence_and_sample(f, tell)
    flux = f.flux
    if f.exposure > 0.0:
        flux = fluence / f.exposure * f.beamsize * f.beamsize
    return Exposure(fluence=fluence, flux=flux, exposure=f.exposure, beamsize=f.beamsize, sample_size=tuple(sample))


def sources_from_file(f, table, direction, distance=SOURCE_DISTANCE):
    """The rows of the -sourcefile table, defaults filled in (a missing position: along the beam
    at `distance`, nonBragg's -source_distance): (rows, divsteps = -1)."""
    if len(table) == 0:
        raise InputError(f"-sourcefile {f.sourcefilename}: no sources in the file")
    defaults = [-distance * b for b in direction] + [1.0, f.lambda0]
    return [[default if math.isnan(x) else float(x) for x, default in zip(row, defaults)] for row in table], -1


def generated_sources(f, sampling, frame, tell, distance=SOURCE_DISTANCE, weight=None):
    """Divergence grid (h outer, v inner; optionally trimmed to an ellipse) x wavelengths:
    (rows, the divergence points kept).  nonBragg's loops are nanoBragg's but for its
    -source_distance and a weight of 1 (None: nanoBragg's 1 / the sources)."""
    sm = sampling
    points = []
    for ih in range(sm.hdivsteps):
        for iv in range(sm.vdivsteps):
            hdiv = sm.hdivstep * ih - sm.hdivrange / 2.0
            vdiv = sm.vdivstep * iv - sm.vdivrange / 2.0
            test = ieee_div(ieee_div(hdiv * hdiv - sm.hdivstep * sm.hdivstep / 4.0 * (1 - sm.hdivsteps % 2),
                                     sm.hdivrange), sm.hdivrange)
            test += ieee_div(ieee_div(vdiv * vdiv - sm.vdivstep * sm.vdivstep / 4.0 * (1 - sm.vdivsteps % 2),
                                      sm.vdivrange), sm.vdivrange)
            if f.round_div and test * 4.0 > 1.1:
                continue
            points.append((hdiv, vdiv))
            tell.say("divergence deviation: %g %g\n" % (hdiv, vdiv))
    lambdas = [f.lambda0 * (1.0 + sm.dispstep * j - sm.dispersion / 2.0) for j in range(sm.dispsteps)]
    for j, wavelength in enumerate(lambdas):
        tell.say("lambda%d = %.15g\n" % (j, wavelength))
    if weight is None:
        weight = ieee_div(1.0, len(points) * len(lambdas))
    rows = []
    for hdiv, vdiv in points:
        toward = [-distance * b for b in frame.beam]
        toward = rotate_axis(rotate_axis(toward, frame.polar, vdiv), frame.vert, hdiv)
        rows += [toward + [weight, wavelength] for wavelength in lambdas]
    return rows, len(points)


@tells
def sources(f, table, exposed: Exposure, sampling, frame, tell) -> Beam:
    """Source directions and wavelengths (from the -sourcefile table, or generated when it is
    None), printed as nanoBragg prints them.

    A wavelength of 0 (a '#' comment line or a CRLF line of -sourcefile reads as zeros) makes
    nanoBragg's image NaN, unless -dmin culls that source everywhere: then it is kept, with a
    warning, else refused.
    """
    rows, divsteps = sources_from_file(f, table, frame.beam) if table is not None else \
        generated_sources(f, sampling, frame, tell)
    if not rows:
        raise InputError("no source is left: -round_div trimmed the whole divergence grid (nanoBragg renders "
                         "NaN); check -divsteps/-hdivsteps/-vdivsteps or use -square_div")
    tell.say("  created a total of %d sources:\n" % len(rows))
    directions = []
    for n, (x, y, z, weight, wavelength) in enumerate(rows):
        tell.say("%g %g %g   %g %g\n" % (x, y, z, weight, wavelength))
        if not (wavelength > 0.0 and math.isfinite(wavelength)) or not all(map(math.isfinite, (x, y, z))):
            origin = f"-sourcefile {f.sourcefilename}" if f.sourcefilename else "source generation"
            what = (f"{origin}: source {n + 1} has position {x:g} {y:g} {z:g} and wavelength {wavelength:g} m "
                    "(a '#' comment line, a line ending in CR, or a last line without a newline reads "
                    "as zeros, as in nanoBragg)")
            if not (f.dmin > 0 and wavelength == 0.0):
                raise InputError(what + ": a wavelength must be > 0")
            tell.warn(what + "; kept because -dmin discards it, as nanoBragg does")
        directions.append(tuple(unitize([x, y, z])[0]))
    return Beam(exposure=exposed, lambda0=f.lambda0, direction=frame.beam, polar=frame.polar,
                kahn_factor=f.polarization, nopolar=bool(f.nopolar), source_dir=tuple(directions),
                source_lambda=tuple(row[4] for row in rows), divsteps=divsteps)

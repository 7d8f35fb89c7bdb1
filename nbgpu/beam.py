"""X-ray sources: from -sourcefile, or generated from divergence and dispersion (§15).

Every source counts equally (nanoBragg ignores the weight column); the wavelength column is
used.  Sources are returned as unit vectors from the sample toward the source.
"""
import math

from .errors import InputError
from .formats import read_text_file
from .vec import ieee_div, rotate_axis, unitize

SOURCE_DISTANCE = 10.0      # m; nanoBragg's -source_distance flag is commented out


def sources_from_file(s):
    table = read_text_file(s.sourcefilename, 5, "-sourcefile")
    if len(table) == 0:
        raise InputError(f"-sourcefile {s.sourcefilename}: no sources in the file")
    defaults = [-SOURCE_DISTANCE * b for b in s.beam_vector] + [1.0, s.lambda0]
    rows = [[default if math.isnan(x) else float(x) for x, default in zip(row, defaults)] for row in table]
    s.divsteps = -1
    return rows


def generated_sources(s, log):
    """Divergence grid (h outer, v inner; optionally trimmed to an ellipse) x wavelengths."""
    points = []
    for ih in range(s.hdivsteps):
        for iv in range(s.vdivsteps):
            hdiv = s.hdivstep * ih - s.hdivrange / 2.0
            vdiv = s.vdivstep * iv - s.vdivrange / 2.0
            test = ieee_div(ieee_div(hdiv * hdiv - s.hdivstep * s.hdivstep / 4.0 * (1 - s.hdivsteps % 2),
                                     s.hdivrange), s.hdivrange)
            test += ieee_div(ieee_div(vdiv * vdiv - s.vdivstep * s.vdivstep / 4.0 * (1 - s.vdivsteps % 2),
                                      s.vdivrange), s.vdivrange)
            if s.round_div and test * 4.0 > 1.1:
                continue
            points.append((hdiv, vdiv))
            log("divergence deviation: %g %g\n" % (hdiv, vdiv))
    lambdas = [s.lambda0 * (1.0 + s.dispstep * j - s.dispersion / 2.0) for j in range(s.dispsteps)]
    for j, wavelength in enumerate(lambdas):
        log("lambda%d = %.15g\n" % (j, wavelength))
    s.divsteps = len(points)
    weight = ieee_div(1.0, len(points) * len(lambdas))
    rows = []
    for hdiv, vdiv in points:
        toward = [-SOURCE_DISTANCE * b for b in s.beam_vector]
        toward = rotate_axis(rotate_axis(toward, s.polar_vector, vdiv), s.vert_vector, hdiv)
        rows += [toward + [weight, wavelength] for wavelength in lambdas]
    return rows


def make_sources(s, log, warn):
    """Source directions and wavelengths, printed as nanoBragg prints them.

    A wavelength of 0 (a '#' comment line or a CRLF line of -sourcefile reads as zeros) makes
    nanoBragg's image NaN, unless -dmin culls that source everywhere: then it is kept, with a
    warning, else refused.
    """
    rows = sources_from_file(s) if s.sourcefilename else generated_sources(s, log)
    if not rows:
        raise InputError("no source is left: -round_div trimmed the whole divergence grid (nanoBragg renders "
                         "NaN); check -divsteps/-hdivsteps/-vdivsteps or use -square_div")
    log("  created a total of %d sources:\n" % len(rows))
    directions = []
    for n, (x, y, z, weight, wavelength) in enumerate(rows):
        log("%g %g %g   %g %g\n" % (x, y, z, weight, wavelength))
        if not (wavelength > 0.0 and math.isfinite(wavelength)) or not all(map(math.isfinite, (x, y, z))):
            origin = f"-sourcefile {s.sourcefilename}" if s.sourcefilename else "source generation"
            what = (f"{origin}: source {n + 1} has position {x:g} {y:g} {z:g} and wavelength {wavelength:g} m "
                    "(a '#' comment line, a line ending in CR, or a last line without a newline reads "
                    "as zeros, as in nanoBragg)")
            if not (s.dmin > 0 and wavelength == 0.0):
                raise InputError(what + ": a wavelength must be > 0")
            warn(what + "; kept because -dmin discards it, as nanoBragg does")
        directions.append(unitize([x, y, z])[0])
    s.sources = len(rows)
    s.source_dir = directions                        # unit vectors, one per source
    s.source_lambda = [row[4] for row in rows]

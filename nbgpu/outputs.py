"""nanoBragg's output files and the lines it prints about them (pipeline.md §19-§24).

Every file is written to a temporary name and renamed into place (formats.atomic_write_all).
"""
import os

from . import engine_c
from ._nbcore import ffi
from .cnum import cformat
from .errors import InputError
from .formats import SmvGeometry, atomic_write_all, float_image_parts, pgm_parts, smv_header_bytes, smv_parts


def output_names(f) -> list[tuple[str, str]]:
    """(flag, file) for every image this run will write."""
    names = [("-floatfile", f.floatfilename), ("-intfile", f.intfilename)]
    if f.write_pgm:
        names.append(("-pgmfile", f.pgmfilename))
    if f.calculate_noise:
        names.append(("-noisefile", f.noisefilename))
    return names


def check_writable(f):
    """Fail before rendering, not after, when an output cannot be written."""
    for flag, name in output_names(f):
        if not name:
            raise InputError(f"{flag}: empty file name")
        folder = os.path.dirname(os.path.abspath(name))
        if os.path.isdir(name):
            raise InputError(f"{flag} {name}: is a directory")
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise InputError(f"{flag} {name}: cannot write in {folder}")


def print_stats(stats, log):
    log(cformat("max_I = %g  at %g %g\n", stats.max_I, stats.max_I_x, stats.max_I_y))
    log(cformat("mean= %g rms= %g rmsd= %g\n", stats.mean, stats.rms, stats.rmsd))


def int_scale(requested, stats) -> float:
    """-scale, or nanoBragg's automatic one (55000 at the brightest pixel)."""
    if requested > 0.0:
        return requested
    return 55000.0 / stats.max_I if stats.max_I > 0.0 else 1.0


def pgm_scale(requested, stats, intfile_scale) -> float:
    """-pgmscale, or nanoBragg's automatic one (250 at five rmsd)."""
    if requested > 0.0:
        return requested
    return 250.0 / (5.0 * stats.rmsd) if stats.rmsd > 0.0 else intfile_scale


def smv_geometry(setup) -> SmvGeometry:
    """What the SMV headers say about the run's detector, beam and rotation."""
    d, fr, sm = setup.detector, setup.detector.frame, setup.sampling
    return SmvGeometry(fpixels=d.fpixels, spixels=d.spixels, pixel_size=d.pixel_size, distance=d.distance,
                       lambda0=setup.beam.lambda0, Xbeam=fr.Xbeam, Ybeam=fr.Ybeam, Fbeam=d.Fbeam, Sbeam=d.Sbeam,
                       detsize_s=fr.grid.detsize_s, close_distance=d.close_distance, dials_origin=d.dials_origin,
                       ORGX=d.ORGX, ORGY=d.ORGY, phi0=sm.phi0, osc=sm.osc, detector_twotheta=d.twotheta)


def write_outputs(problem, pixels, stats, noise, log, write=atomic_write_all):
    """Float, integer, PGM and noise images, in nanoBragg's order and with its messages; the
    files appear together at the end, all or none (`write`: atomic_write_all, or a writer that
    does the same in the background).  `noise` draws the noise image (NoiseSource)."""
    setup = problem.setup
    f, d = setup.flags, setup.detector
    log("writing %s as %d %d-byte floats\n" % (f.floatfilename, d.fpixels * d.spixels, 4))
    files = [(f.floatfilename, float_image_parts(pixels))]
    print_stats(stats, log)
    scale = int_scale(f.intfile_scale, stats)
    scale_pgm = pgm_scale(f.pgm_scale, stats, scale) if f.write_pgm else None
    ints, pgm = engine_c.convert_image(problem, pixels, scale, f.adc_offset, scale_pgm)
    geometry = smv_geometry(setup)
    log("intfile_scale = %g\n" % scale)
    log("writing %s as %d-byte integers\n" % (f.intfilename, 2))
    files.append((f.intfilename, smv_parts(smv_header_bytes(geometry), ints)))
    if f.write_pgm:
        log("pgm_scale = %g\n" % scale_pgm)
        log("writing %s as %d-byte integers\n" % (f.pgmfilename, 1))
        files.append((f.pgmfilename, pgm_parts(d.fpixels, d.spixels, scale_pgm, pgm)))
    if f.calculate_noise:
        image, photons, overloads = noise.draw(problem, pixels)
        log(cformat("%.0f photons on noise image (%d overloads)\n", photons, overloads))
        log("writing %s as %d-byte integers\n" % (f.noisefilename, 2))
        files.append((f.noisefilename, smv_parts(smv_header_bytes(geometry, noise=True), image)))
    write(files)


class NoiseSource:
    """The run's random generator and noise seed (-seed, stored negated), which every noise
    image draws from in turn, as nanoBragg's one generator state does."""

    def __init__(self, rng, seed: int):
        self.rng, self.seed = rng, seed

    def draw(self, problem, pixels):
        """(Poisson image as a C array of unsigned short, photons, overloads)."""
        d = problem.setup.detector
        out = ffi.new("unsigned short[]", d.fpixels * d.spixels)
        photons, overloads, self.seed = self.rng.noise_image(self.seed, problem, pixels,
                                                             problem.setup.flags.adc_offset, out)
        return out, photons, overloads

"""nanoBragg's output files and the lines it prints about them (pipeline.md §19-§24).

Every file is written to a temporary name and renamed into place (formats.atomic_write_all).
"""
import os

from . import engine_c
from ._nbcore import ffi
from .cnum import cformat
from .errors import InputError
from .formats import atomic_write_all, float_image_parts, pgm_parts, smv_header_bytes, smv_parts


def output_names(s) -> list[tuple[str, str]]:
    """(flag, file) for every image this run will write."""
    names = [("-floatfile", s.floatfilename), ("-intfile", s.intfilename)]
    if s.write_pgm:
        names.append(("-pgmfile", s.pgmfilename))
    if s.calculate_noise:
        names.append(("-noisefile", s.noisefilename))
    return names


def check_writable(s):
    """Fail before rendering, not after, when an output cannot be written."""
    for flag, name in output_names(s):
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


def int_scale(s, stats) -> float:
    if s.intfile_scale > 0.0:
        return s.intfile_scale
    return 55000.0 / stats.max_I if stats.max_I > 0.0 else 1.0


def pgm_scale(s, stats, intfile_scale) -> float:
    if s.pgm_scale > 0.0:
        return s.pgm_scale
    return 250.0 / (5.0 * stats.rmsd) if stats.rmsd > 0.0 else intfile_scale


def write_outputs(s, problem, pixels, stats, rng, log):
    """Float, integer, PGM and noise images, in nanoBragg's order and with its messages; the
    files appear together at the end, all or none."""
    log("writing %s as %d %d-byte floats\n" % (s.floatfilename, s.fpixels * s.spixels, 4))
    files = [(s.floatfilename, float_image_parts(pixels))]
    print_stats(stats, log)
    scale = int_scale(s, stats)
    scale_pgm = pgm_scale(s, stats, scale) if s.write_pgm else None
    ints, pgm = engine_c.convert_image(problem, pixels, scale, s.adc_offset, scale_pgm)
    log("intfile_scale = %g\n" % scale)
    log("writing %s as %d-byte integers\n" % (s.intfilename, 2))
    files.append((s.intfilename, smv_parts(smv_header_bytes(s), ints)))
    if s.write_pgm:
        log("pgm_scale = %g\n" % scale_pgm)
        log("writing %s as %d-byte integers\n" % (s.pgmfilename, 1))
        files.append((s.pgmfilename, pgm_parts(s.fpixels, s.spixels, scale_pgm, pgm)))
    if s.calculate_noise:
        noise, photons, overloads = noise_image(s, problem, pixels, rng)
        log(cformat("%.0f photons on noise image (%d overloads)\n", photons, overloads))
        log("writing %s as %d-byte integers\n" % (s.noisefilename, 2))
        files.append((s.noisefilename, smv_parts(smv_header_bytes(s, noise=True), noise)))
    atomic_write_all(files)


def noise_image(s, problem, pixels, rng):
    """Poisson image (a C array of unsigned short) from the run's shared generator state
    (seed -seed, stored negated)."""
    out = ffi.new("unsigned short[]", s.fpixels * s.spixels)
    photons, overloads, s.seed = rng.noise_image(s.seed, problem, pixels, s.adc_offset, out)
    return out, photons, overloads

"""The statistics nanoBragg prints and the conversions it writes, over a rendered float image
(csrc/nb_image.c, whichever engine rendered it): max, mean, rms, rmsd over the ROI; the SMV
integers and the PGM bytes in one pass."""
from nbgpu._nbcore import ffi, lib


def image_stats(problem, pixels):
    stats = ffi.new("nb_stats *")
    lib.nb_image_stats(problem.struct, pixels, stats)
    return stats


def convert_image(problem, pixels, int_scale, adc, pgm_scale=None):
    """The SMV integers and (when pgm_scale is given) the PGM bytes, as C arrays, in one pass."""
    size = problem.struct.fpixels * problem.struct.spixels
    ints = ffi.new("unsigned short[]", size)
    pgm = ffi.new("unsigned char[]", size) if pgm_scale is not None else ffi.NULL
    lib.nb_convert_image(problem.struct, pixels, int_scale, adc, ints, pgm_scale or 0.0, pgm)
    return ints, (pgm if pgm_scale is not None else None)

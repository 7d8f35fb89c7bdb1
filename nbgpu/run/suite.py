"""The Python API's calls of the suite's other programs: nbgpu.nonbragg (nonBragg's background
image) and nbgpu.noisify (noisify on any float image), with the library's conventions: flags as
words or keywords, no file unless write_files=True, the log on stdout only when verbose,
warnings on stderr, bad input as one InputError."""
from __future__ import annotations

from nbgpu.base import messages
from nbgpu.base.errors import InputError
from nbgpu.io import save_files
from nbgpu.setup.flags import command_words


def loggers(verbose: bool):
    """(log, warn) as nbgpu.simulate has them."""
    from nbgpu.run.simulate import library_loggers
    log, _ = library_loggers(verbose)
    return (lambda text, flush=False: log(text)), messages.printer(messages.warning)


def nonbragg(args=None, *, write_files=False, verbose=False, **options):
    """nonBragg with its flags as words or keywords -> run.nonbragg.NonbraggResult."""
    from nbgpu.run.nonbragg import nonbragg_argv
    from nbgpu.setup.nonbragg_flags import TABLE
    log, warn = loggers(verbose)
    return nonbragg_argv(command_words(args, options, TABLE), log, warn, write=save_files if write_files else None)


def check_image(image, where: str = "noisify"):
    """A non-empty 2-d numpy array of real numbers, or one InputError."""
    import numpy as np
    if not isinstance(image, np.ndarray):
        raise InputError(f"{where}: image: expected a 2-d numpy array of floats (photons/pixel), "
                         f"got {type(image).__name__}")
    if image.ndim != 2 or image.size == 0:
        raise InputError(f"{where}: image: expected a non-empty 2-d array (rows, pixels a row), "
                         f"got shape {image.shape}")
    if image.dtype.kind not in "fiu":
        raise InputError(f"{where}: image: expected real numbers (photons/pixel), got dtype {image.dtype}")


def noisify(image, args=None, *, write_files=False, verbose=False, **options):
    """noisify on a 2-d array (photons/pixel, any real dtype: float32 as noisify reads it) with
    noisify's flags as words or keywords -> run.noisify.NoisifyResult.  -floatfile is not read
    (the image is the input); -header NAME copies that SMV file's header and must give the
    image's size."""
    from nbgpu.run.noisify import noisify_image
    from nbgpu.setup import noisify as setup
    check_image(image)
    log, warn = loggers(verbose)
    flags = setup.keyword_flags(args, **options)
    det = header = None
    if flags.headerfilename is not None:
        from nbgpu.io.smv import read_smv_header
        header = read_smv_header(flags.headerfilename, "-header")
        rows, width = image.shape
        det, told = setup.detector(flags.replace(xpixels=width, ypixels=rows), image.size, header, "image")
        if (det.ypixels, det.xpixels) != image.shape:
            raise InputError(f"-header {flags.headerfilename}: a {det.xpixels}x{det.ypixels} image, the array is "
                             f"{width}x{rows} (pixels a row x rows)")
        told.tell(log, warn)
    return noisify_image(image, flags, det, copy_header=header, log=log, warn=warn,
                         write=save_files if write_files else None, input_name="image")


UNNAMED = "<unnamed: nbgpu placeholder>"


def named_outputs(words: list) -> set:
    """The output names noisify's words name themselves (-intfile, -noisefile, -pgmfile, in any
    of their spellings): the table parses them after placeholders, so a name left is a name given."""
    from nbgpu.setup import noisify as setup
    probe = ["-intfile", UNNAMED, "-noisefile", UNNAMED, "-pgmfile", UNNAMED]
    flags, _, _ = setup.parse(probe + list(words))
    return {name for name in (flags.intfilename, flags.noisefilename, flags.pgmfilename) if name != UNNAMED}

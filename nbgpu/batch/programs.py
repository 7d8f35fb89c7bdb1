"""The programs a line of a job file may run: nanoBragg (also named nbgpu, the default), nonBragg
and noisify.  For each: the files a line reads and writes (for the batch's checks and its order
on Dask), how a line is set up before the batch begins (the setup its render then uses), and how
it runs, so that the line gives the files `PROGRAM LINE` gives."""
from __future__ import annotations

import os

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.io.files import check_output
from nbgpu.setup import flags

NAMES = {"nanoBragg": "nanoBragg", "nbgpu": "nanoBragg", "nonBragg": "nonBragg", "noisify": "noisify"}


class Files(Record):
    """What a line's flags say about its files."""
    reads: tuple                     # input paths as given (None: not given)
    writes: tuple                    # (flag, path) of each output, Fdump.bin included
    hkl: object                      # nanoBragg: the -hkl file its Fdump.bin comes from, or None
    check: object                    # the values the line can be checked by without its input files


class Program(Record):
    name: str
    files: object                    # words -> Files (InputError for bad flags or values)
    prepare: object                  # (words, cache) -> the line's setup (reads its input files), or None
    run: object                      # (words, setup or None, log, warn, note, inputs, engines, write) -> result
    pixels: object                   # setup -> the image's pixel count (--resume's size checks), or None
    quiet: object                    # words -> the same run with its progress meter off (None: it has none)
    setup_writes: object = lambda setup, writes: writes   # (setup or None, writes) -> the files it writes


# -- nanoBragg ----------------------------------------------------------------------------------

def nanobragg_files(words) -> Files:
    from nbgpu.run import outputs
    from nbgpu.setup.prepare import check_values
    f, _ = flags.parse(words)
    check_values(f, lambda message: None)
    img, mask = flags.header_files(words)
    reads = [img, mask, f.hklfilename, f.matfilename, f.sourcefilename, f.stolfilename]
    if f.hklfilename is None:
        reads.append(f.dumpfilename)
    writes = list(outputs.output_names(f))
    if f.geomfilename is not None or f.exptfilename is not None:      # the files of each panel
        from nbgpu.run.panel_outputs import output_names
        writes = output_names(f, words)
        reads.append(f.geomfilename or f.exptfilename)
    if f.hklfilename is not None:
        writes.append(("Fdump.bin", f.dumpfilename))
    return Files(reads=tuple(reads), writes=tuple((flag, name) for flag, name in writes if name),
                 hkl=f.hklfilename, check=f)


def nanobragg_setup_writes(setup, writes) -> list:
    """The files the prepared run writes: with a detector file, each panel's own names (known
    once the file is read; nanobragg_files has only their base names), so that another line's
    NAME_<i>.EXT is seen as the same file."""
    if setup is None or setup.panels is None:
        return writes
    from nbgpu.run.panel_outputs import output_names
    per_panel = output_names(setup.flags, setup.panels.argv, setup.panels)
    return [(flag, os.path.abspath(name)) for flag, name in per_panel] + [w for w in writes if w[0] == "Fdump.bin"]


def nanobragg_prepare(words, cache):
    from nbgpu.setup.prepare import prepare
    return prepare(words, cache)


def nanobragg_run(words, setup, log, warn, note, inputs, engines, write):
    from nbgpu.run.simulate import simulate_argv, simulate_setup
    if setup is None:
        return simulate_argv(words, log, warn, note=note, inputs=inputs, engines=engines, write=write)
    return simulate_setup(setup, log, warn, note=note, inputs=inputs, engines=engines, write=write)


def nanobragg_pixels(setup):
    """The image's pixel count for --resume's size checks; None (run again) for a multi-panel
    detector, whose files are per panel (run.panel_outputs)."""
    return None if setup.panels is not None else setup.detector.fpixels * setup.detector.spixels


# -- nonBragg -----------------------------------------------------------------------------------

def nonbragg_files(words) -> Files:
    from nbgpu.run.nonbragg import output_names
    from nbgpu.setup import nonbragg_flags
    f, _ = nonbragg_flags.TABLE.parse(words)
    reads = (nonbragg_flags.header_file(words), f.stolfilename, f.sourcefilename)
    return Files(reads=reads, writes=tuple(output_names(f)), hkl=None, check=f)


def nonbragg_prepare(words, cache):
    from nbgpu.setup.nonbragg_prepare import prepare
    return prepare(words, cache)


def nonbragg_run(words, setup, log, warn, note, inputs, engines, write):
    from nbgpu.run.nonbragg import nonbragg_argv
    return nonbragg_argv(words, log, warn, write=write, as_numpy=False, setup=setup)


def nonbragg_quiet(words):
    from nbgpu.setup import nonbragg_flags
    return nonbragg_flags.TABLE.extended(words, ["-noprogress"])


# -- noisify ------------------------------------------------------------------------------------

def noisify_files(words) -> Files:
    from nbgpu.setup import noisify
    f, _, named = noisify.parse(words)
    if not named:
        raise InputError("no input image: give -floatfile NAME (float32 photons/pixel)")
    writes = [("-intfile", f.intfilename)]
    if f.write_pgm:
        writes.append(("-pgmfile", f.pgmfilename))
    if f.calculate_noise:
        writes.append(("-noisefile", f.noisefilename))
    return Files(reads=(f.floatfilename, f.headerfilename), writes=tuple(writes), hkl=None, check=f)


def noisify_prepare(words, cache):
    """The input image's size against the detector's, and the -header file: what stops noisify
    before it writes anything (the image itself is read when the line runs)."""
    from nbgpu.io.smv import read_smv_header
    from nbgpu.setup import noisify
    f, _, _ = noisify.parse(words)
    try:
        size = os.stat(f.floatfilename).st_size
    except OSError as exc:
        raise InputError(f"-floatfile {f.floatfilename}: {exc.strerror}") from None
    header = read_smv_header(f.headerfilename, "-header") if f.headerfilename is not None else None
    det, _ = noisify.detector(f, size // 4, header, f.floatfilename)
    if size < 4 * det.pixels:
        raise InputError(f"-floatfile {f.floatfilename}: {size} bytes, the {det.xpixels}x{det.ypixels} image "
                         f"needs {4 * det.pixels} (4 a pixel)")
    return None                          # noisify reads its image when it runs


def noisify_run(words, setup, log, warn, note, inputs, engines, write):
    from nbgpu.run.noisify import noisify_argv
    return noisify_argv(words, log, warn, write=write)


PROGRAMS = {
    "nanoBragg": Program(name="nanoBragg", files=nanobragg_files, prepare=nanobragg_prepare, run=nanobragg_run,
                         pixels=nanobragg_pixels, setup_writes=nanobragg_setup_writes,
                         quiet=lambda words: flags.TABLE.extended(words, ["-noprogress"])),
    "nonBragg": Program(name="nonBragg", files=nonbragg_files, prepare=nonbragg_prepare, run=nonbragg_run,
                        pixels=lambda setup: setup.geometry.fpixels * setup.geometry.spixels,
                        quiet=nonbragg_quiet),
    "noisify": Program(name="noisify", files=noisify_files, prepare=noisify_prepare, run=noisify_run,
                       pixels=lambda setup: None,          # run again: it is quick, and its input may be new
                       quiet=None),
}


def check_outputs(program: str, files: Files, setup=None):
    """Every output refusal the line's run would make, before anything renders: with its setup,
    all of them (run.simulate.check_outputs: also what a CBF can describe), else what the flags
    tell; nanoBragg's Fdump.bin is not checked (a dump that cannot be written is only a warning,
    as in nanoBragg)."""
    if program == "nanoBragg":
        if setup is not None:
            from nbgpu.run.simulate import check_outputs as check_run
            check_run(setup)
        else:
            from nbgpu.run import outputs
            outputs.check_flags(files.check)
        return
    for flag, name in files.writes:
        check_output(flag, name)

"""Every input file of one run, read in one step, so that the setup stages are functions of
records: the -img/-mask SMV headers (and the mask's pixels), the structure factors (-hkl, or the
dump of an earlier run), the -mat matrix, the -sourcefile and -stol tables.

nanoBragg reads these at different points of its setup, printing as it goes, and stops at the
first that cannot be read, after what it printed before.  So each reading is kept as an Outcome
(its value or its error, and the lines the reader printed), and setup.prepare tells them where
nanoBragg reads that file.  Files are read through the cache (setup.cache) that a Simulator or a
batch keeps between runs.  The headers are read first, from argv: their values are where the
flags start from.
"""
from __future__ import annotations

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.io import read_fdump, read_matrix, read_smv, read_text_file
from nbgpu.io.model import NoCell, fcalc_grid
from nbgpu.io.crystfel import read_crystfel_geometry
from nbgpu.io.dials import read_dials_experiments
from nbgpu.io.structure_factors import is_model, read_structure_factors
from nbgpu.io.text import read_text_columns
from nbgpu.setup import flags, panels


class Outcome(Record):
    """One file's reading: its value, or the error to raise where nanoBragg would stop."""
    value: object = None
    error: object = None             # an InputError, or None
    said: tuple = ()                 # what the reader printed, before the error if any

    def take(self, tell):
        """Say what the reading printed, then raise its error or give its value."""
        for text in self.said:
            tell.say(text)
        if self.error is not None:
            raise self.error
        return self.value


NOT_GIVEN = Outcome()


class Headers(Record):
    """The -mask and -img SMV files named on the command line (nanoBragg's pre-scan)."""
    names: tuple                     # (-img name, -mask name), None where not given
    mask: Outcome                    # io.SmvFile; its pixels mask the render
    img: Outcome                     # io.SmvFile; only its header is used


class Inputs(Record):
    """What the input files hold, read once for one run."""
    headers: Headers
    structure_factors: Outcome       # io.StructureFactors from -hkl or the dump, or None (a model's: later)
    model: Outcome                   # -hkl's coordinate model (io.model.Model), whose structure factors
                                     # wait for the geometry (computed_structure_factors), or None
    from_dump: bool                  # no -hkl, and the dump file of an earlier run is readable
    matrix: Outcome                  # the nine numbers of -mat's A matrix, or None
    sources: Outcome                 # the -sourcefile table (rows of 5 columns), or None
    stol: Outcome                    # the -stol table (read and checked, never used), or None


def outcome(work) -> Outcome:
    """work(log) as an Outcome: its value or its InputError, and what it printed."""
    said = []
    try:
        value = work(lambda text, flush=False: said.append(text))
    except InputError as exc:
        return Outcome(error=exc, said=tuple(said))
    return Outcome(value=value, said=tuple(said))


def read(cache, reader, path, *args) -> Outcome:
    """reader(path, *args, log) through the cache, as an Outcome."""
    if path is None:
        return NOT_GIVEN
    return outcome(lambda log: cache.read(reader, path, *args, log=log))


def read_headers(argv, cache) -> Headers:
    """-mask, then -img (the last of each in argv, as nanoBragg finds them)."""
    img, mask = flags.header_files(argv)
    return Headers(names=(img, mask), mask=read(cache, read_smv, mask, "-mask"), img=read(cache, read_smv, img, "-img"))


def read_detector_file(argv, cache) -> Outcome:
    """-geom or -expt (io.panels.DetectorFile), read before the flags: what it says about the
    experiment is where the flags start from (setup.panels)."""
    flag, path = panels.file_flag(argv)
    reader = read_crystfel_geometry if flag == "-geom" else read_dials_experiments
    return read(cache, reader, path)


def readable(path) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def model_without_cell(inputs: Inputs) -> bool:
    """Whether -hkl named a model read whole but without a cell (io.model.NoCell)."""
    return isinstance(inputs.structure_factors.error, NoCell)


def computed_structure_factors(cache, model, request, default_F) -> Outcome:
    """The model's Fcalc as requested (setup.resolution.FcalcRequest), as an Outcome: computed
    once per version of the model file and request, since the cache keeps it."""
    return outcome(lambda log: cache.computed(fcalc_grid, model, request.dmin, request.k_sol, request.B_sol,
                                              request.B_add, default_F, log=log))


def read_sources(path, log):
    return read_text_file(path, 5, "-sourcefile")


def read_stol(path, log):
    """-stol is read and must hold data, though nanoBragg never uses it."""
    log("reading %s\n" % path)
    table = read_text_file(path, 2, "-stol")
    if len(table) == 0:
        raise InputError(f"-stol {path}: no data in input file")
    return table


def read_inputs(f, headers: Headers, cache) -> Inputs:
    """Every file the flags name (headers: read_headers' record, read before the flags)."""
    from_dump = f.hklfilename is None and readable(f.dumpfilename)
    model = NOT_GIVEN
    if f.hklfilename is not None:
        structure_factors = read(cache, read_structure_factors, f.hklfilename, f.default_F, f.sf_column)
        if is_model(structure_factors.value):     # its lines are said where -hkl is read
            structure_factors, model = Outcome(said=structure_factors.said), Outcome(value=structure_factors.value)
    elif from_dump:
        structure_factors = read(cache, read_fdump, f.dumpfilename)
    else:
        structure_factors = NOT_GIVEN
    return Inputs(headers=headers, structure_factors=structure_factors, model=model, from_dump=from_dump,
                  matrix=read(cache, read_matrix, f.matfilename),
                  sources=read(cache, read_sources, f.sourcefilename),
                  stol=read(cache, read_stol, f.stolfilename))


# ------------------------------------------------------------------ nonBragg's inputs

def read_columns(path, ncols, flag, log):
    """A multi-column text table (nonBragg's -stol, -sourcefile): rows of ncols floats."""
    return read_text_columns(path, ncols, flag)


def read_table(cache, path, ncols, flag) -> Outcome:
    """nonBragg's -stol (2 columns) or -sourcefile (5) table, as an Outcome (NOT_GIVEN for None)."""
    return read(cache, read_columns, path, ncols, flag)


def read_image(cache, path) -> Outcome:
    """nonBragg's -img: the SMV header and pixels, as an Outcome (NOT_GIVEN for None)."""
    return read(cache, read_smv, path, "-img")

"""`nbgpu sf`: the files nanoBragg's CCP4 scripts make, from an MTZ, an SF-mmCIF or a coordinate
model: the P1 `h k l F` list (mtz_to_P1hkl.com's job) and nonBragg's -stol table of the
radially averaged |F|^2 (mtz_to_stol.com's job).  The list is the very text -hkl builds its grid
from (io.p1), so rendering it gives the image of `-hkl FILE` itself, given the same resolution.
"""
from __future__ import annotations

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.io.files import check_output, read_input, save_files
from nbgpu.io.model import MODEL_KINDS, fcalc, read_model
from nbgpu.io.mtz import kind_of, read_reflections
from nbgpu.io.p1 import list_text, within
from nbgpu.io.stol import WIDTH, stol_text

COMMAND = "nbgpu sf"


class Export(Record):
    """What `nbgpu sf` is asked for."""
    source: str                      # the MTZ, SF-mmCIF or model file
    hkl: str | None = None           # the P1 list to write
    stol: str | None = None          # the -stol table to write
    dmin: float | None = None        # A; needed for a model, optional for reflections
    column: str | None = None        # the MTZ/mmCIF column of amplitudes
    k_sol: float = 0.0               # a model's bulk solvent (e/A^3), its B, and a B added (A^2)
    B_sol: float = 46.0
    B_add: float = 0.0
    stol_width: float = WIDTH        # 1/A


def reflections_of(job: Export, log):
    """The source's P1 reflections to job.dmin (a model's Fcalc to it)."""
    flag = COMMAND
    data = read_input(job.source, flag)
    kind = kind_of(data)
    if kind == "text":
        raise InputError(f"{flag} {job.source}: not an MTZ, SF-mmCIF or coordinate model file")
    if kind in MODEL_KINDS:
        if job.dmin is None:
            raise InputError(f"{flag} {job.source}: a model's structure factors need a resolution: give --dmin")
        model = read_model(data, job.source, kind, log, flag)
        return fcalc(model, job.dmin, job.k_sol, job.B_sol, job.B_add, log, flag)
    reflections = read_reflections(data, job.source, kind, job.column, log, flag, "--column")
    return reflections if job.dmin is None else within(reflections, job.dmin)


def export(job: Export, log) -> list:
    """Read, compute and write (every file or none); the names written."""
    if job.hkl is None and job.stol is None:
        raise InputError(f"{COMMAND}: nothing to write: give --hkl FILE and/or --stol FILE")
    if job.dmin is not None and not job.dmin > 0:
        raise InputError(f"{COMMAND} --dmin {job.dmin:g}: must be greater than 0")
    if not job.stol_width > 0:
        raise InputError(f"{COMMAND} --stol-width {job.stol_width:g}: must be greater than 0")
    outputs = [(option, name) for option, name in (("--hkl", job.hkl), ("--stol", job.stol)) if name is not None]
    for option, name in outputs:
        check_output(option, name)
    reflections = reflections_of(job, log)
    files = []
    if job.hkl is not None:
        files.append((job.hkl, [list_text(reflections.hkl, reflections.F)]))
    if job.stol is not None:
        files.append((job.stol, [stol_text(reflections, job.stol_width)]))
    save_files(files)
    for option, name in outputs:
        what = f"{len(reflections.F)} reflections (P1 h k l F)" if option == "--hkl" else "the stol F table"
        log(f"wrote {what} to {name}\n")
    return [name for _, name in outputs]

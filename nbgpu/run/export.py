"""`nbgpu sf`: the files nanoBragg's CCP4 scripts make, from an MTZ, an SF-mmCIF or a coordinate
model: the P1 `h k l F` list (mtz_to_P1hkl.com's job) and nonBragg's -stol table of the
radially averaged |F|^2 (mtz_to_stol.com's job).  The list is the very text whose grid -hkl
renders (io.p1), so rendering it gives the image of `-hkl FILE` itself, given the same resolution.
"""
from __future__ import annotations

from nbgpu.base.cnumbers import checked
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.io.files import check_output, file_key, save_files
from nbgpu.io.model import Model, fcalc
from nbgpu.io.p1 import list_text, within
from nbgpu.io.stol import WIDTH, stol_text
from nbgpu.io.structure_factors import TextList, read_source
from nbgpu.setup.flags import MODEL_CHECKS

COMMAND = "nbgpu sf"
OPTIONS = {"k_sol": "--k-sol", "B_sol": "--B-sol", "B_add": "--B-add"}


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


def check_job(job: Export):
    """InputError for a number -hkl's flags would refuse too (setup.flags.MODEL_CHECKS,
    the one rule for both), a missing output, or one file asked for twice or over the source."""
    if job.hkl is None and job.stol is None:
        raise InputError(f"{COMMAND}: nothing to write: give --hkl FILE and/or --stol FILE")
    if job.dmin is not None:
        checked("--dmin", job.dmin, "positive")
    checked("--stol-width", job.stol_width, "positive")
    for name, option in OPTIONS.items():
        checked(option, getattr(job, name), MODEL_CHECKS[name])
    outputs = [(option, name) for option, name in (("--hkl", job.hkl), ("--stol", job.stol)) if name is not None]
    source = file_key(job.source)
    for option, name in outputs:
        check_output(option, name)
        if source is not None and file_key(name) == source:
            raise InputError(f"{option} {name}: it is the source file {job.source}: give another name")
    if len(outputs) == 2 and file_key(job.hkl) is not None and file_key(job.hkl) == file_key(job.stol):
        raise InputError(f"--stol {job.stol}: also written by --hkl {job.hkl}: give each its own file name")
    return outputs


def reflections_of(job: Export, log):
    """The source's P1 reflections to job.dmin (a model's Fcalc to it)."""
    source = read_source(job.source, job.column, log, COMMAND, "--column")
    if isinstance(source, TextList):
        raise InputError(f"{COMMAND} {job.source}: not an MTZ, SF-mmCIF or coordinate model file")
    if isinstance(source, Model):
        if job.dmin is None:
            raise InputError(f"{COMMAND} {job.source}: a model's structure factors need a resolution: give --dmin")
        return fcalc(source, job.dmin, job.k_sol, job.B_sol, job.B_add, log, COMMAND, OPTIONS)
    return source if job.dmin is None else within(source, job.dmin, f"{COMMAND} {job.source}")


def export(job: Export, log) -> list:
    """Read, compute and write (every file or none); the names written."""
    outputs = check_job(job)
    reflections = reflections_of(job, log)
    files = []
    if job.hkl is not None:
        files.append((job.hkl, [list_text(reflections.hkl, reflections.F)]))
    if job.stol is not None:
        files.append((job.stol, [stol_text(reflections, f"{COMMAND} {job.source}", job.stol_width)]))
    save_files(files)
    for option, name in outputs:
        what = f"{len(reflections.F)} reflections (P1 h k l F)" if option == "--hkl" else "the stol F table"
        log(f"wrote {what} to {name}\n")
    return [name for _, name in outputs]

"""The job file of `nbgpu batch JOBS`: one command line per line (nanoBragg's, or nonBragg's or
noisify's after that program's name), each giving the files `PROGRAM LINE` gives, byte for
byte, in the current directory.  Every line is checked before
anything renders; a line that uses a file an earlier line writes is checked as far as it can be
before that file exists, and fully when its turn comes.
"""
from __future__ import annotations

import os
import shlex

from nbgpu.base.errors import InputError, NbgpuError
from nbgpu.batch.programs import NAMES, PROGRAMS, check_outputs
from nbgpu.io.files import file_key
from nbgpu.run import outputs
from nbgpu.setup.cache import InputCache


class Job:
    """One line of the job file: its words, and the files it reads and writes (absolute paths;
    io.files.file_key tells which of them are one file)."""

    def __init__(self, where: str, line: int, words: list[str], program: str = "nanoBragg"):
        self.where, self.line, self.words, self.program = where, line, words, program
        self.reads: list[str] = []
        self.writes: list[tuple[str, str]] = []       # (flag, path), Fdump.bin included
        self.hkl = None                               # the file_key of the HKL file its Fdump.bin comes from
        self.depends = False                          # reads a file an earlier job writes
        self.streams = False                          # reads a device or FIFO (it can be read once)
        self.setup = None                             # prepared when checked, until it renders


def read_jobs(path: str) -> list[Job]:
    """Lines with shell-style quoting and # comments; blank lines are skipped.  A leading
    program name (nanoBragg, nbgpu, nonBragg, noisify: a line copied from a shell script) says
    which program runs the line; nanoBragg when there is none."""
    try:
        with open(path) as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the job file ({getattr(exc, 'strerror', None) or exc})") from None
    jobs, errors = [], []
    for number, text in enumerate(lines, 1):
        try:
            words = shlex.split(text, comments=True)
        except ValueError as exc:
            errors.append(f"{path}:{number}: {exc} (shell quoting)")
            continue
        program = "nanoBragg"
        if words and os.path.basename(words[0]) in NAMES:
            program, words = NAMES[os.path.basename(words[0])], words[1:]
        if words:
            jobs.append(Job(path, number, words, program))
    if errors:
        raise BatchInvalid(errors)
    if not jobs:
        raise InputError(f"{path}: no command line in the job file")
    return jobs


class BatchInvalid(NbgpuError):
    """Lines of the job file that cannot run: one message per line."""

    def __init__(self, messages):
        super().__init__("\n".join(messages))
        self.messages = messages


def quiet(message):
    pass


def describe_files(job: Job, words=None):
    """The files the job reads and writes, as its program names them (InputError: bad flags);
    `words`: the command line that renders (BatchRun.words), job.words by default."""
    files = PROGRAMS[job.program].files(job.words if words is None else words)
    job.reads = [os.path.abspath(p) for p in files.reads if p]
    job.writes = [(flag, os.path.abspath(name)) for flag, name in files.writes]
    job.hkl = file_key(files.hkl) if files.hkl is not None else None
    job.streams = any(os.path.exists(p) and not os.path.isfile(p) for p in job.reads)
    return files


KEPT_SETUPS = 1000      # jobs whose validation setup is kept for the render (memory stays bounded)


def validate(jobs: list[Job], inputs: InputCache, nexus=None, words=lambda job: job.words, keep=True):
    """Every job's flags and files, no two jobs writing one file, whatever names lead to it
    (but Fdump.bin from the same HKL file; devices and FIFOs are shared), none writing the job
    file or the --nexus file, and with --nexus one detector for all; raises BatchInvalid with a
    line per problem.  With `keep`, the first KEPT_SETUPS jobs set up here keep their setup for
    the render (Job.setup; the others are set up again when their turn comes); `words` gives the
    command line that renders."""
    errors = []
    written = {file_key(jobs[0].where): (None, "the job file")}     # file_key -> (job, flag)
    if nexus is not None:
        written[file_key(nexus)] = (None, "--nexus")
    first = None                         # (job, NeXus geometry) of the first job set up
    kept = 0
    for job in jobs:
        place = f"{job.where}:{job.line}"
        setup = None
        try:
            files = describe_files(job, words(job))
            job.depends = any(file_key(path) in written for path in job.reads)
            if nexus is not None and job.program != "nanoBragg":
                raise InputError(f"--nexus {nexus}: a {job.program} line (the stack holds nanoBragg's frames)")
            if not (job.depends or job.streams):        # else checked fully when its turn comes
                setup = PROGRAMS[job.program].prepare(words(job), inputs)
                job.writes = PROGRAMS[job.program].setup_writes(setup, job.writes)
                if keep and kept < KEPT_SETUPS and setup is not None:
                    job.setup, kept = setup, kept + 1
                if nexus is not None:
                    geometry = outputs.nexus_geometry(setup, f"--nexus {nexus}").sweep_key()
                    if first is None:
                        first = (job, geometry, files.check.calculate_noise)
                    elif (geometry, files.check.calculate_noise) != first[1:]:
                        raise InputError(f"--nexus {nexus}: the detector, spindle, wavelength or noise setting "
                                         f"differs from line {first[0].line}'s (one NeXus file, one detector)")
            check_outputs(job.program, files, setup)
        except NbgpuError as exc:
            errors.append(f"{place}: {exc}")
            continue
        for flag, path in job.writes:
            key = file_key(path)
            earlier = written.get(key)
            if key is None:                  # a device or FIFO
                continue
            if earlier is not None:
                other, other_flag = earlier
                if other is None:
                    errors.append(f"{place}: {flag} {os.path.relpath(path)} is {other_flag}")
                    continue
                if not (flag == other_flag == "Fdump.bin" and job.hkl == other.hkl):
                    errors.append(f"{place}: {flag} {os.path.relpath(path)} is also written by line {other.line} "
                                  f"({other_flag}): give each job its own file names")
                    continue
            written[key] = (job, flag)
    if errors:
        raise BatchInvalid(errors)


def complete(job: Job, pixels: int) -> bool:
    """Whether every image the job writes exists with the size the program's file of a detector
    of `pixels` pixels has (nbgpu writes files whole or not at all, so a file of the right size
    is the job's)."""
    for flag, path in job.writes:
        try:
            size = os.path.getsize(path)
        except OSError:
            return False
        if flag == "-floatfile" and size != 4 * pixels:
            return False
        if flag in ("-intfile", "-noisefile") and size < 512 + 2 * pixels:
            return False
        if flag == "-pgmfile" and size <= pixels:
            return False
    return True


def log_name(logs: str, job: Job, width: int) -> str:
    return os.path.join(logs, f"{os.path.basename(job.where)}.{job.line:0{width}d}.log")

"""What a setup step tells the user, kept instead of printed: the lines of nanoBragg's log
(stdout) and nbgpu's warnings (stderr), in order.

Setup steps return it with their record, so that they print nothing and one place prints it, and
so that a prepared setup can tell it again to the run that renders it (a batch job's log, the
Simulator's frames).  A step that fails carries what it told before failing on its error
(NbgpuError.told): nanoBragg prints those lines before it stops.
"""
from __future__ import annotations

import functools

from nbgpu.base.errors import NbgpuError
from nbgpu.base.records import Record


class Told(Record):
    lines: tuple = ()                # text for stdout as nanoBragg prints it; or a file it writes there
    warnings: tuple = ()             # one-line messages for stderr

    def __add__(self, other: Told | None) -> Told:
        if not other:
            return self
        return Told(lines=self.lines + other.lines, warnings=self.warnings + other.warnings)

    def __bool__(self) -> bool:
        return bool(self.lines or self.warnings)

    def tell(self, log, warn, write=None):
        """Hand it on: warnings to `warn`, lines to `log`; a file written at that point in
        nanoBragg's log (any line that is not text) to write(file, log), when given."""
        for message in self.warnings:
            warn(message)
        for line in self.lines:
            if isinstance(line, str):
                log(line)
            elif write is not None:
                write(line, log)


class Teller:
    """What a step says as it goes; told() gives the record."""

    def __init__(self):
        self.lines, self.warnings = [], []

    def say(self, text: str):
        self.lines.append(text)

    def write_here(self, file):
        """A file nanoBragg writes at this point of its log (the caller of tell() writes it)."""
        self.lines.append(file)

    def warn(self, message: str):
        self.warnings.append(message)

    def take(self, step):
        """A step's (record, Told): keeps what it told, returns the record."""
        record, told = step
        self.add(told)
        return record

    def add(self, told: Told):
        self.lines += told.lines
        self.warnings += told.warnings

    def told(self) -> Told:
        return Told(lines=tuple(self.lines), warnings=tuple(self.warnings))


def run_telling(step, *args):
    """step(*args, teller) with a new Teller: (its result, the Teller).  An NbgpuError raised on
    the way gets what was told before it in front of what it already carries, since the program
    prints that before it stops (a stage, or a program's whole setup)."""
    teller = Teller()
    try:
        return step(*args, teller), teller
    except NbgpuError as exc:
        exc.told = teller.told() + exc.told
        raise


def tells(step):
    """A setup step written as step(*args, tell) that says its lines through tell.say and
    tell.warn becomes step(*args) -> (record, Told), as run_telling runs it."""
    @functools.wraps(step)
    def told_step(*args):
        record, teller = run_telling(step, *args)
        return record, teller.told()
    return told_step

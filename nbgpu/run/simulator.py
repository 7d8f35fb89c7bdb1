"""nbgpu.Simulator: many frames from one command line, in one process.

The input files are read once (and again only when they change), the engine stays warm (on a
GPU: context, compiled kernels and the structure factors resident), and each frame is the
command line plus that frame's flags, rendered exactly as `nbgpu.simulate` would render it.
"""
from __future__ import annotations

import math
import numbers
import os
import sys

from nbgpu.base import messages
from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError
from nbgpu.setup.flags import argv_from_keywords, command_words
from nbgpu.setup.cache import InputCache
from nbgpu.run.result import Result
from nbgpu.run.simulate import library_loggers, prepared, simulate_argv


def frame_words(changes: dict) -> list[str]:
    """A frame's keyword flags as words; rotation= (a 3x3 rotation matrix, applied to the
    crystal as -misset random would apply it) becomes -misset angles."""
    changes = dict(changes)
    rotation = changes.pop("rotation", None)
    if rotation is not None:
        from nbgpu.base.rng import umat2misset
        try:
            flat = [float(x) for row in rotation for x in row]
        except (TypeError, ValueError):
            flat = []
        if len(flat) != 9 or not all(math.isfinite(x) for x in flat):
            raise InputError("rotation=: expected a 3x3 matrix of finite numbers")
        changes["misset"] = tuple(angle * RTD for angle in umat2misset(flat))
    return argv_from_keywords(changes)


def each_frame(frames, where: str):
    """The frames of an iterable, or InputError."""
    try:
        return iter(frames)
    except TypeError:
        raise InputError(f"{where}: frames must be an iterable of Results or dicts, not "
                         f"{type(frames).__name__}") from None


def number(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{where}: expected a number, got {type(value).__name__}")
    return float(value)


def frame_result(simulator, frame, where: str) -> Result:
    """A frame given as a Result, or as a dict of changes to render."""
    if isinstance(frame, Result):
        return frame
    if not isinstance(frame, dict):
        raise InputError(f"{where}: each frame is a Result or a dict of flags, not {type(frame).__name__}")
    return simulator.render(**frame)


class Simulator:
    """Built once from nanoBragg's flags (a command line, words, keywords: as nbgpu.simulate
    takes them); render() takes one frame's changes as keyword flags (phi=, osc=, phisteps=,
    misset=, rotation=, seed=, mosaic_seed=, fluence=, flux=, exposure=, mat=, or any other
    flag) and returns the Result nbgpu.simulate gives for the command line with those flags
    appended.  Bad input raises nbgpu.NbgpuError, here for the command line itself."""

    def __init__(self, args=None, *, verbose=False, max_evaluations=None, **options):
        self.words = command_words(args, options)
        self.max_evaluations = max_evaluations
        self.inputs = InputCache()
        self.engines = {}
        self._warned = set()
        self._log, self._note = library_loggers(verbose)
        quiet = lambda text, flush=False: None      # the command line checked; each frame is set up
        prepared(self.words, quiet, self._warn, False, self.inputs).told.tell(quiet, self._warn)   # when it renders

    def _warn(self, message):
        """Each warning once, not once per frame."""
        if message not in self._warned:
            self._warned.add(message)
            print(messages.warning(message), file=sys.stderr)

    def render(self, write_files=False, **changes) -> Result:
        """One frame: the command line with `changes` appended as flags.  No file is written
        unless write_files=True (then nanoBragg's files for that frame)."""
        return simulate_argv(self.words + frame_words(changes), self._log, self._warn, write_files=write_files,
                             note=self._note, max_evaluations=self.max_evaluations, inputs=self.inputs,
                             engines=self.engines)

    def sweep(self, frames: int, step: float, start: float = 0.0, **changes):
        """The frames of a rotation series: frame i turns from start + i*step over step degrees
        (-phi, -osc), with `changes` (e.g. phisteps=2) on every frame."""
        if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 0:
            raise InputError(f"sweep: frames must be a count, got {type(frames).__name__}")
        step, start = number("sweep: step", step), number("sweep: start", start)
        for i in range(int(frames)):
            yield self.render(phi=start + i * step, osc=step, **changes)

    def write_nexus(self, path, frames, noise: bool = False, compression: str = "auto"):
        """Frames (Results, e.g. sweep(...), or change dicts) into one NXmx file, with each
        frame's phi; noise=True adds each frame's noise image (/entry/noise).  The file appears
        only once complete."""
        from nbgpu.io.nexus import NexusStack, check_available
        from nbgpu.run.outputs import nexus_frame
        check_available("write_nexus", compression)
        if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
            raise InputError(f"write_nexus: expected a file name, got {type(path).__name__}")
        stack = NexusStack(os.fspath(path), compression, "write_nexus")
        try:
            for frame in each_frame(frames, "write_nexus"):
                result = frame_result(self, frame, "write_nexus")
                stack.add(*nexus_frame(result.setup, result.int_image(), result.noise_image() if noise else None))
            stack.commit()
        except BaseException:
            stack.discard()
            raise

    def render_stack(self, frames):
        """Many frames into one float32 numpy array (frames, slow, fast); `frames` is an iterable
        of change dicts, or of Results (e.g. sweep(...))."""
        import numpy as np
        images = []
        for frame in each_frame(frames, "render_stack"):
            images.append(frame_result(self, frame, "render_stack").image)
        if not images:
            raise InputError("render_stack: no frames")
        return np.stack(images)

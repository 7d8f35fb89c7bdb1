"""nbgpu.Simulator: many frames from one command line, in one process.

The input files are read once (and again only when they change), the engine stays warm (on a
GPU: context, compiled kernels and the structure factors resident), and each frame is the
command line plus that frame's flags, rendered exactly as `nbgpu.simulate` would render it.

background= (nonBragg's flags) adds an amorphous background, rendered once on the first frame
and kept (it does not turn with phi); detector_noise= (noisify's flags) runs noisify on each
frame's image + background.  Frame i of sweep() draws its noise with seed S + i (S: the -seed
of detector_noise, else the time when the Simulator was built, noisify's default), so a fixed
seed gives a reproducible series without the same pattern on every frame; render() draws with
S + n, n the frames this Simulator noisified before, unless given noise_seed=.
"""
from __future__ import annotations

import math
import numbers
import os
import sys
import time

from nbgpu.base import messages
from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError
from nbgpu.setup.flags import TABLE, argv_from_keywords, command_words
from nbgpu.setup.cache import InputCache
from nbgpu.run.result import Result
from nbgpu.run.simulate import library_loggers, prepared, simulate_argv
from nbgpu.run.suite import named_outputs


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


def wrapped(seed: int) -> int:
    """A seed as a C int (wrapping, as seed + i would in C)."""
    return (seed + 2 ** 31) % 2 ** 32 - 2 ** 31


def check_sizes(background, frames):
    """The background's (rows, pixels a row) against the frames'."""
    if tuple(background) != tuple(frames):
        raise InputError(f"background: nonBragg's detector is {background[1]}x{background[0]} pixels, the frames "
                         f"are {frames[1]}x{frames[0]} (give both the same -detpixels)")


class Simulator:
    """Built once from nanoBragg's flags (a command line, words, keywords: as nbgpu.simulate
    takes them); render() takes one frame's changes as keyword flags (phi=, osc=, phisteps=,
    misset=, rotation=, seed=, mosaic_seed=, fluence=, flux=, exposure=, mat=, or any other
    flag) and returns the Result nbgpu.simulate gives for the command line with those flags
    appended (before a last word nanoBragg ignores, -curved_det, which stays ignored).  Bad input raises nbgpu.NbgpuError, here for the command line itself.

    background: nonBragg's flags (a string or words) for a background added to every frame
    (Result.background, Result.total); its detector must have the frames' pixel counts.
    detector_noise: noisify's flags (a string or words) for detector noise on every frame's
    total (Result.detector_noise, Result.noise_seed; see the module's note on seeds); the
    frame's pixel size, distance and wavelength come first, so noisify's headers and a PSF's
    width in pixels are the frame's unless the flags name others.  With write_files=True a
    frame writes nanoBragg's files, and noisify's only where detector_noise names them
    (-intfile, -noisefile, -pgmfile: the same names for every frame)."""

    def __init__(self, args=None, *, verbose=False, max_evaluations=None, background=None, detector_noise=None,
                 **options):
        self.words = command_words(args, options)
        self.max_evaluations = max_evaluations
        self.inputs = InputCache()
        self.engines = {}
        self._warned = set()
        self._log, self._note = library_loggers(verbose)
        quiet = lambda text, flush=False: None      # the command line checked; each frame is set up
        setup = prepared(self.words, quiet, self._warn, False, self.inputs)   # when it renders
        setup.told.tell(quiet, self._warn)
        self.background_words = self.noise_words = None     # nonBragg's, noisify's
        self.noise_seed = None          # S: frame i of a sweep draws with S + i
        self._noise_files = set()       # the noisify outputs detector_noise names
        self._background = None         # the NonbraggResult, once rendered
        if background is not None:
            from nbgpu.setup.nonbragg_prepare import prepare as prepare_nonbragg
            self.background_words = command_words(background, {})
            g = prepare_nonbragg(self.background_words).geometry
            check_sizes((g.spixels, g.fpixels), (setup.detector.spixels, setup.detector.fpixels))
        if detector_noise is not None:
            from nbgpu.setup.noisify import keyword_flags
            self.noise_words = command_words(detector_noise, {})
            seed = keyword_flags(self.noise_words).seed      # checked now; -seed N is held as -N
            self.noise_seed = -seed if seed is not None else int(time.time())
            self._noise_files = named_outputs(self.noise_words)
        self._noised = 0

    def _warn(self, message):
        """Each warning once, not once per frame."""
        if message not in self._warned:
            self._warned.add(message)
            print(messages.warning(message), file=sys.stderr)

    def render(self, write_files=False, noise_seed=None, **changes) -> Result:
        """One frame: the command line with `changes` appended as flags (flags.TABLE.extended).  No file is written
        unless write_files=True (then nanoBragg's files for that frame, and the noisify files
        detector_noise names); noise_seed: the frame's noisify -seed (default: see the module)."""
        if noise_seed is not None and self.noise_words is None:
            raise InputError("noise_seed=: the Simulator has no detector_noise")
        if noise_seed is not None and (isinstance(noise_seed, bool) or not isinstance(noise_seed, numbers.Integral)):
            raise InputError(f"noise_seed=: expected an integer, got {type(noise_seed).__name__}")
        result = simulate_argv(TABLE.extended(self.words, frame_words(changes)), self._log, self._warn, write_files=write_files,
                               note=self._note, max_evaluations=self.max_evaluations, inputs=self.inputs,
                               engines=self.engines)
        if self.background_words is not None or self.noise_words is not None:
            self._add_background_and_noise(result, write_files, noise_seed)
        return result

    def _add_background_and_noise(self, result, write_files, noise_seed):
        image = result.image
        if self.background_words is not None:
            if self._background is None:
                from nbgpu.run.nonbragg import nonbragg_argv
                self._background = nonbragg_argv(self.background_words, self._log, self._warn, write=None)
                self._background.image.flags.writeable = False
            check_sizes(self._background.image.shape, image.shape)
            result.background = self._background.image
            result.total = image + result.background
        else:
            result.total = image.copy()
        if self.noise_words is None:
            return
        from nbgpu.io import save_files
        from nbgpu.run.noisify import noisify_image
        from nbgpu.setup.noisify import keyword_flags
        if noise_seed is None:
            noise_seed = wrapped(self.noise_seed + self._noised)
        self._noised += 1
        frame = dict(pixel=result.detector.pixel_size * 1000.0, distance=result.detector.distance * 1000.0,
                     lambda_=result.beam.lambda0 * 1e10)
        flags = keyword_flags(argv_from_keywords(frame) + self.noise_words + ["-seed", str(int(noise_seed))])
        noisy = noisify_image(result.total, flags, log=self._log, warn=self._warn, write=None,
                              input_name="the frame's image")
        if write_files:
            files = [(path, parts) for path, parts in noisy.files if path in self._noise_files]
            if files:
                save_files(files)
        result.detector_noise, result.noise_seed = noisy, noise_seed

    def sweep(self, frames: int, step: float, start: float = 0.0, **changes):
        """The frames of a rotation series: frame i turns from start + i*step over step degrees
        (-phi, -osc), with `changes` (e.g. phisteps=2) on every frame."""
        if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 0:
            raise InputError(f"sweep: frames must be a count, got {type(frames).__name__}")
        step, start = number("sweep: step", step), number("sweep: start", start)
        if "noise_seed" in changes:
            raise InputError("sweep: noise_seed= is not a frame's flag: frame i draws with S + i, S the -seed of "
                             "detector_noise")
        for i in range(int(frames)):
            seed = None if self.noise_words is None else wrapped(self.noise_seed + i)
            yield self.render(phi=start + i * step, osc=step, noise_seed=seed, **changes)

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
                stack.add(*nexus_frame(result.setup, result.int_image(), result.noise_image() if noise else None,
                                      "write_nexus"))
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

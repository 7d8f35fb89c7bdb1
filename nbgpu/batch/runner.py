"""One job as `nbgpu LINE` runs it, the same in the batch's own process and on a Dask worker:
its log, its files (handed to a writer), its frame for a --nexus stack."""
from __future__ import annotations

import queue
import threading

from nbgpu.base import messages
from nbgpu.base.errors import NbgpuError
from nbgpu.batch.programs import PROGRAMS
from nbgpu.io import read_smv, save_file, save_files
from nbgpu.run import outputs


def render_job(words, log_path, inputs, engines, warn, note, want_frame, write=save_files, setup=None,
               program="nanoBragg"):
    """One job as `PROGRAM LINE` would run it, its log to log_path: (error message or None, its
    frame for a --nexus stack or None); `setup`: the job's, when it was prepared already (from
    the same words).  The same here and on Dask workers (batch.cluster)."""
    lines = []
    error = frame = None

    def log(text, flush=False):
        lines.append(text)
    try:
        result = PROGRAMS[program].run(words, setup, log, warn, note, inputs, engines, write)
        frame = frame_of(result.setup, result.written) if want_frame else None
    except NbgpuError as exc:
        lines.append(messages.error(exc) + "\n")
        error = str(exc)
    finally:                             # interrupted too: the log of what ran
        log_error = write_log(log_path, lines)
    if error is None and log_error is not None:
        return f"its log could not be written: {log_error}", None
    return error, frame


def write_log(path, lines) -> str | None:
    """A job's log; one that cannot be written (a full disk) fails that job, not the batch:
    returns why, or None."""
    if not path or not lines:
        return None
    try:
        save_file(path, ["".join(lines).encode("utf-8", "surrogateescape")])
    except NbgpuError as exc:
        return str(exc)
    return None


def frame_of(setup, written):
    """A job's frame for the --nexus stack, (geometry, int image, phi, osc, noise image or None):
    from this run's images, or (written None) read back from the SMV files of a job --resume
    skipped."""
    f = setup.flags
    if written is None:
        ints = read_smv(f.intfilename, "-intfile").data
        noise = read_smv(f.noisefilename, "-noisefile").data if f.calculate_noise else None
    else:
        ints = outputs.as_image(written[0], setup)
        noise = None if written[1] is None else outputs.as_image(written[1], setup)
    return outputs.nexus_frame(setup, ints, noise, "--nexus")


class BackgroundWriter:
    """Output files written by one thread while the next frame renders, each job's files all or
    none (save_files); at most `depth` jobs wait, so memory stays bounded."""

    def __init__(self, depth: int = 4):
        self._queue = queue.Queue(maxsize=depth)
        self.failures = []               # (job, message)
        self._thread = threading.Thread(target=self._run, name="nbgpu-writer", daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                job, files = item
                try:
                    save_files(files)
                except Exception as exc:      # the job fails, the others go on
                    self.failures.append((job, str(exc) if isinstance(exc, NbgpuError)
                                          else f"internal error writing its files: {type(exc).__name__}: {exc}"))
            finally:
                self._queue.task_done()

    def writer_for(self, job):
        return lambda files: self._queue.put((job, files))

    def wait(self):
        """Until every file handed over so far is in place."""
        self._queue.join()

    def close(self):
        self._queue.put(None)
        self._thread.join()

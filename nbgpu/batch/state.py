"""What one batch keeps while its jobs render, wherever they render: progress, logs, failures,
the --resume check and the --nexus stack."""
from __future__ import annotations

import sys
import time

from nbgpu.base import messages
from nbgpu.base.errors import NbgpuError
from nbgpu.batch.jobs import complete, log_name
from nbgpu.batch.programs import PROGRAMS
from nbgpu.batch.runner import frame_of
from nbgpu.io.nexus import NexusStack
from nbgpu.setup.cache import InputCache

EXIT_FAILED = 1                   # some jobs failed (bad lines: NbgpuError's 9, before anything renders)


class Progress:
    """done/total, frames per second and time left, on stderr: one line kept up to date on a
    terminal, a line every few seconds otherwise."""

    def __init__(self, total, stream=sys.stderr):
        self.total, self.stream = total, stream
        self.started = time.monotonic()
        self.shown = 0.0
        self.terminal = stream.isatty()

    def update(self, done, rendered, final=False):
        now = time.monotonic()
        if not final and now - self.shown < (0.2 if self.terminal else 5.0):
            return
        self.shown = now
        elapsed = now - self.started
        rate = rendered / elapsed if elapsed > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else 0.0
        text = f"nbgpu batch: {done}/{self.total} jobs, {rate:.1f} frames/s, {left:.0f} s left"
        if self.terminal:
            self.stream.write("\r" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class BatchRun:
    """What one batch keeps while its jobs render, wherever they render (here, or on Dask
    workers: batch.cluster): progress, logs, failures, the --resume check and the --nexus stack
    (frames added in line order, whatever order they finish in)."""

    def __init__(self, jobs, logs=None, meter=False, resume=False, nexus=None, nexus_compression="auto",
                 stream=sys.stderr, warn=None, note=None):
        self.jobs, self.logs, self.meter, self.resume, self.stream = jobs, logs, meter, resume, stream
        self.warn = warn or messages.printer(messages.warning, stream)
        self.note = note or messages.printer(messages.note, stream)
        self.nexus, self.nexus_error = nexus, None
        self.stack = NexusStack(nexus, nexus_compression) if nexus is not None else None
        self.inputs = InputCache()
        self.width = len(str(jobs[-1].line))
        self.progress = Progress(len(jobs), stream)
        self.failed, self.rendered, self.skipped = [], 0, 0
        self._frames, self._next_frame = {}, 0       # job index -> frame waiting for its turn

    def words(self, job) -> list[str]:
        """The command line the job is validated by and renders: its words, with nanoBragg's and
        nonBragg's progress meters off unless --meter (where -noprogress changes nothing else:
        a trailing -curved_det stays last, ignored as `PROGRAM LINE` ignores it)."""
        quiet = PROGRAMS[job.program].quiet
        return job.words if self.meter or quiet is None else quiet(job.words)

    def log_path(self, job) -> str | None:
        return log_name(self.logs, job, self.width) if self.logs else None

    def already_complete(self, index, job) -> bool:
        """With --resume: whether the job's files are all there (then its frame, if stacked,
        is read back from them)."""
        if not self.resume or job.streams:         # a FIFO read here would be gone for the render
            return False
        program = PROGRAMS[job.program]
        if job.setup is None:
            try:
                job.setup = program.prepare(self.words(job), self.inputs)
            except NbgpuError:
                return False              # it will fail again when rendered, and say why
        setup = job.setup
        pixels = None if setup is None else program.pixels(setup)
        if pixels is None or not complete(job, pixels):
            return False
        self.skipped += 1
        job.setup = None
        self.add_frame(index, frame_of(setup, None) if self.stack is not None else None)
        return True

    def add_frame(self, index, frame):
        """The frame of job `index` (None: nothing to stack); frames go into the stack in order."""
        self._frames[index] = frame
        while self._next_frame in self._frames:
            frame = self._frames.pop(self._next_frame)
            if frame is not None and self.stack is not None and not self.failed:
                try:
                    self.stack.add(*frame)
                except NbgpuError as exc:    # e.g. a full disk: the jobs' own files go on
                    self.drop_stack(str(exc))
            self._next_frame += 1
        self.progress.update(self.rendered + self.skipped + len(self.failed), self.rendered)

    def succeeded(self, index, frame=None):
        self.rendered += 1
        self.add_frame(index, frame)

    def job_failed(self, index, job, message):
        self.failed.append((job, message))
        self.add_frame(index, None)

    def drop_stack(self, why):
        """No --nexus file after all (the jobs go on without gathering frames)."""
        self.stack.discard()
        self.stack, self.nexus_error = None, why

    def stopped(self):
        """Ctrl-C or SIGTERM: say what is complete; no stacked file is left."""
        if self.stack is not None:
            self.stack.discard()
        self.stream.write(f"\nnbgpu batch: stopped after {self.rendered + self.skipped} of {len(self.jobs)} jobs: "
                          "every file written is complete; run again with --resume to finish\n")

    def finish(self) -> int:
        """The stacked file, the last progress line and the summary; the exit status."""
        if self.stack is not None:
            if self.failed:
                self.drop_stack("not every frame rendered")
            else:
                try:
                    self.stack.commit()
                except NbgpuError as exc:
                    self.stack, self.nexus_error = None, str(exc)
        if self.nexus_error is not None:
            self.stream.write(f"nbgpu batch: --nexus {self.nexus} was not written: {self.nexus_error}\n")
        self.progress.update(len(self.jobs), self.rendered, final=True)
        if self.skipped:
            self.stream.write(f"nbgpu batch: {self.skipped} jobs were already complete (--resume)\n")
        if self.failed:
            reasons = {}                     # a job whose log and files both failed is listed once
            for job, message in sorted(self.failed, key=lambda item: item[0].line):
                reasons.setdefault(job, []).append(message)
            self.stream.write(f"nbgpu batch: {len(reasons)} of {len(self.jobs)} jobs failed:\n")
            for job, why in reasons.items():
                self.stream.write(f"  {job.where}:{job.line}: {'; '.join(why)}\n")
        return EXIT_FAILED if self.failed or self.nexus_error is not None else 0

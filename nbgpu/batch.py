"""nbgpu batch JOBS: one nanoBragg command line per line, rendered in one process (or on Dask
workers: nbgpu.cluster, --workers/--scheduler).

Each line gives the files `nbgpu LINE` gives, byte for byte, in the current directory.  What
jobs share is reused: input files are parsed once per version (inputs.InputCache), engines stay
warm, and the files are written by a background thread while the next frame renders.  Every
line is checked before anything renders; a line that uses a file an earlier line writes is
checked as far as it can be before that file exists, and fully when its turn comes.
"""
from __future__ import annotations

import os
import queue
import shlex
import sys
import threading
import time

from . import flags, outputs
from .errors import InputError, NbgpuError
from .formats import read_smv, save_file, save_files
from .formats.files import check_output, file_key, leftover_temporaries, strerror
from .formats.nexus import NexusStack, check_available
from .inputs import InputCache
from .simulation import check_values, prepare, simulate_argv

PROGRAM_NAMES = ("nanoBragg", "nbgpu")
EXIT_FAILED = 1                   # some jobs failed (bad lines: NbgpuError's 9, before anything renders)


class Job:
    """One line of the job file: its words, and the files it reads and writes (absolute paths;
    formats.files.file_key tells which of them are one file)."""

    def __init__(self, where: str, line: int, words: list[str]):
        self.where, self.line, self.words = where, line, words
        self.reads: list[str] = []
        self.writes: list[tuple[str, str]] = []       # (flag, path), Fdump.bin included
        self.hkl = None                               # the file_key of the HKL file its Fdump.bin comes from
        self.depends = False                          # reads a file an earlier job writes
        self.streams = False                          # reads a device or FIFO (it can be read once)


def read_jobs(path: str) -> list[Job]:
    """Lines with shell-style quoting and # comments; blank lines are skipped, and a leading
    nanoBragg or nbgpu (a line copied from a shell script) is dropped."""
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
        if words and os.path.basename(words[0]) in PROGRAM_NAMES:
            words = words[1:]
        if words:
            jobs.append(Job(path, number, words))
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


def quiet(text, flush=False):
    pass


def describe_files(job: Job, f):
    """The files the job reads and writes, as nanoBragg names them."""
    img, mask = flags.header_files(job.words)
    reads = [img, mask, f.hklfilename, f.matfilename, f.sourcefilename, f.stolfilename]
    if f.hklfilename is None:
        reads.append(f.dumpfilename)
    job.reads = [os.path.abspath(p) for p in reads if p]
    job.writes = [(flag, os.path.abspath(name)) for flag, name in outputs.output_names(f) if name]
    if f.hklfilename is not None:
        job.writes.append(("Fdump.bin", os.path.abspath(f.dumpfilename)))
        job.hkl = file_key(f.hklfilename)
    job.streams = any(os.path.exists(p) and not os.path.isfile(p) for p in job.reads)


def validate(jobs: list[Job], inputs: InputCache, nexus=None):
    """Every job's flags and files, no two jobs writing one file, whatever names lead to it
    (but Fdump.bin from the same HKL file; devices and FIFOs are shared), none writing the job
    file or the --nexus file, and with --nexus one detector for all; raises BatchInvalid with a
    line per problem."""
    errors = []
    written = {file_key(jobs[0].where): (None, "the job file")}     # file_key -> (job, flag)
    if nexus is not None:
        written[file_key(nexus)] = (None, "--nexus")
    first = None                         # (job, NeXus geometry) of the first job set up
    for job in jobs:
        place = f"{job.where}:{job.line}"
        try:
            f, _ = flags.parse(job.words)
            describe_files(job, f)
            job.depends = any(file_key(path) in written for path in job.reads)
            if job.depends or job.streams:       # checked fully when its turn comes
                check_values(f, quiet)
            else:
                setup, _ = prepare(job.words, quiet, quiet, write_files=False, inputs=inputs)
                if nexus is not None:
                    geometry = outputs.nexus_geometry(setup).sweep_key()
                    if first is None:
                        first = (job, geometry, f.calculate_noise)
                    elif (geometry, f.calculate_noise) != first[1:]:
                        raise InputError(f"--nexus {nexus}: the detector, spindle, wavelength or noise setting "
                                         f"differs from line {first[0].line}'s (one NeXus file, one detector)")
            outputs.check_writable(f)
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


def complete(job: Job, setup) -> bool:
    """Whether every image the job writes exists with the size nanoBragg's file of this detector
    has (nbgpu writes files whole or not at all, so a file of the right size is the job's)."""
    d = setup.detector
    pixels = d.fpixels * d.spixels
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


def log_name(logs: str, job: Job, width: int) -> str:
    return os.path.join(logs, f"{os.path.basename(job.where)}.{job.line:0{width}d}.log")


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
    return outputs.nexus_frame(setup, ints, noise)


class BatchRun:
    """What one batch keeps while its jobs render, wherever they render (here, or on Dask
    workers: nbgpu.cluster): progress, logs, failures, the --resume check and the --nexus stack
    (frames added in line order, whatever order they finish in)."""

    def __init__(self, jobs, logs=None, meter=False, resume=False, nexus=None, nexus_compression="auto",
                 stream=sys.stderr, warn=None, note=None):
        self.jobs, self.logs, self.meter, self.resume, self.stream = jobs, logs, meter, resume, stream
        self.warn = warn or (lambda message: print(f"nbgpu: warning: {message}", file=stream))
        self.note = note or (lambda message: print(f"nbgpu: {message}", file=stream))
        self.nexus, self.nexus_error = nexus, None
        self.stack = NexusStack(nexus, nexus_compression) if nexus is not None else None
        self.inputs = InputCache()
        self.width = len(str(jobs[-1].line))
        self.progress = Progress(len(jobs), stream)
        self.failed, self.rendered, self.skipped = [], 0, 0
        self._frames, self._next_frame = {}, 0       # job index -> frame waiting for its turn

    def words(self, job) -> list[str]:
        return job.words if self.meter else job.words + ["-noprogress"]

    def log_path(self, job) -> str | None:
        return log_name(self.logs, job, self.width) if self.logs else None

    def already_complete(self, index, job) -> bool:
        """With --resume: whether the job's files are all there (then its frame, if stacked,
        is read back from them)."""
        if not self.resume or job.streams:         # a FIFO read here would be gone for the render
            return False
        try:
            setup, _ = prepare(self.words(job), quiet, quiet, write_files=False, inputs=self.inputs)
        except NbgpuError:
            return False                  # it will fail again when rendered, and say why
        if not complete(job, setup):
            return False
        self.skipped += 1
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
            for job, messages in reasons.items():
                self.stream.write(f"  {job.where}:{job.line}: {'; '.join(messages)}\n")
        return EXIT_FAILED if self.failed or self.nexus_error is not None else 0


def render_job(words, log_path, inputs, engines, warn, note, want_frame, write=save_files):
    """One job as `nbgpu LINE` would run it, its log to log_path: (error message or None, its
    frame for a --nexus stack or None).  The same here and on Dask workers (nbgpu.cluster)."""
    lines = []
    error = frame = None

    def log(text, flush=False):
        lines.append(text)
    try:
        result = simulate_argv(words, log, warn, note=note, inputs=inputs, engines=engines, write=write)
        frame = frame_of(result.setup, result.written) if want_frame else None
    except NbgpuError as exc:
        lines.append(f"nbgpu: error: {exc}\n")
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


def remove_leftovers(paths):
    """Temporary files that a killed batch or worker left beside these outputs (SIGKILL, an
    OOM kill: nothing could clean up); never a final name, nor a live writer's file."""
    for path in paths:
        for leftover in leftover_temporaries(path):
            try:
                os.unlink(leftover)
            except OSError:
                pass


def outputs_of(run) -> list[str]:
    """Every file the batch writes: the jobs' outputs, their logs, the --nexus stack."""
    paths = [path for job in run.jobs for _, path in job.writes]
    paths += [run.log_path(job) for job in run.jobs if run.logs]
    return paths + ([run.nexus] if run.nexus else [])


def prepare_logs(logs):
    """The --logs folder, made if missing, or InputError before any job renders."""
    if not logs:
        raise InputError("--logs: empty folder name")
    if os.path.lexists(logs) and not os.path.isdir(logs):
        raise InputError(f"--logs {logs}: not a folder")
    try:
        os.makedirs(logs, exist_ok=True)
    except (OSError, ValueError) as err:
        raise InputError(f"--logs {logs}: cannot make the folder ({strerror(err)})") from None
    if not os.access(logs, os.W_OK | os.X_OK):
        raise InputError(f"--logs {logs}: cannot write in the folder")


def check_options(logs, nexus, nexus_compression, distributed, workers, scheduler):
    """Every batch option, before any job renders: InputError naming the option."""
    if logs is not None:
        prepare_logs(logs)
    if nexus is not None:
        check_available("--nexus", nexus_compression)
        check_output("--nexus", nexus)
    if distributed:
        from .cluster import check_options as check_cluster
        check_cluster(workers, scheduler)


def run_here(run: BatchRun):
    """Every job in order in this process, the files written in the background."""
    engines = {}
    writer = BackgroundWriter()
    try:
        for index, job in enumerate(run.jobs):
            if job.depends:
                writer.wait()        # the files it reads are in place
            if run.already_complete(index, job):
                continue
            place = f"{job.where}:{job.line}"
            error, frame = render_job(run.words(job), run.log_path(job), run.inputs, engines,
                                      lambda message: run.warn(f"{place}: {message}"), run.note,
                                      run.stack is not None, writer.writer_for(job))
            if error is None:
                run.succeeded(index, frame)
            else:
                run.job_failed(index, job, error)
    finally:
        writer.close()
    for job, message in writer.failures:
        run.failed.append((job, message))


def run_batch(path, logs=None, meter=False, resume=False, warn=None, note=None, stream=sys.stderr,
              nexus=None, nexus_compression="auto", workers=None, scheduler=None, client=None, chunk=1) -> int:
    """Validate, then render every job; returns the exit status (0: every job rendered or, with
    resume, was already complete).  nexus: also gather every frame into that NXmx file.
    workers (a local Dask cluster of that many processes), scheduler (an existing one's address
    or scheduler file) or client (a distributed.Client): render on Dask (nbgpu.cluster), chunk
    jobs a task."""
    distributed = workers is not None or scheduler is not None or client is not None
    jobs = read_jobs(path)
    check_options(logs, nexus, nexus_compression, distributed, workers, scheduler)
    run = BatchRun(jobs, logs, meter, resume, nexus, nexus_compression, stream, warn, note)
    validate(jobs, run.inputs, nexus)
    remove_leftovers(outputs_of(run))
    if distributed:
        from .cluster import connect, run_on_cluster
        client, cluster = connect(workers, scheduler, client)
    try:
        if distributed:
            run_on_cluster(run, client, cluster, chunk)
        else:
            run_here(run)
    except BaseException:               # Ctrl-C, SIGTERM: the finished jobs' files are in place
        run.stopped()
        raise
    status = run.finish()
    remove_leftovers(outputs_of(run))   # what killed workers left
    return status

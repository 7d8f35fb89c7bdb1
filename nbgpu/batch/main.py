"""nbgpu batch JOBS: every line of the job file rendered in this process, or on Dask workers
(batch.cluster, --workers/--scheduler).

What jobs share is reused: input files are parsed once per version (setup.cache.InputCache),
engines stay warm, and the files are written by a background thread while the next frame
renders.
"""
from __future__ import annotations

import os
import sys

from nbgpu.base.errors import InputError
from nbgpu.batch import cluster
from nbgpu.batch.jobs import read_jobs, validate
from nbgpu.batch.runner import BackgroundWriter, render_job
from nbgpu.batch.state import BatchRun
from nbgpu.io.files import check_output, leftover_temporaries, strerror
from nbgpu.io.nexus import check_available


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
        cluster.check_options(workers, scheduler)


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
            setup, job.setup = job.setup, None
            error, frame = render_job(run.words(job), run.log_path(job), run.inputs, engines,
                                      lambda message: run.warn(f"{place}: {message}"), run.note,
                                      run.stack is not None, writer.writer_for(job), setup, job.program)
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
    or scheduler file) or client (a distributed.Client): render on Dask (batch.cluster), chunk
    jobs a task."""
    distributed = workers is not None or scheduler is not None or client is not None
    jobs = read_jobs(path)
    check_options(logs, nexus, nexus_compression, distributed, workers, scheduler)
    run = BatchRun(jobs, logs, meter, resume, nexus, nexus_compression, stream, warn, note)
    validate(jobs, run.inputs, nexus, run.words, keep=not distributed)   # Dask workers set up their own
    remove_leftovers(outputs_of(run))
    if distributed:
        client, local = cluster.connect(workers, scheduler, client)
    try:
        if distributed:
            cluster.run_on_cluster(run, client, local, chunk)
        else:
            run_here(run)
    except BaseException:               # Ctrl-C, SIGTERM: the finished jobs' files are in place
        run.stopped()
        raise
    status = run.finish()
    remove_leftovers(outputs_of(run))   # what killed workers left
    return status

"""nbgpu batch on Dask: the jobs of one batch over many worker processes, GPUs and machines.

`nbgpu batch JOBS --workers N` starts a local cluster of N single-threaded worker processes
(OpenMP threads split between them; one worker per GPU with dask-cuda); `--scheduler ADDRESS`
(or a scheduler file) uses a cluster already running.  Each worker process keeps its input
files and warm engines between tasks (module state of the worker process: its tasks run one at
a time), runs each job as `nbgpu LINE` would in the batch's folder (a shared filesystem), and
writes the job's files atomically itself; frames for a --nexus stack come back to the client,
which writes the one file.  A job waits for the earlier jobs that write what it reads or
writes, and for those that read what it writes (producers).

Faults: a job whose input is bad returns its error (it is not retried); a worker that dies has
its job run again elsewhere (the scheduler's allowed-failures; tasks are never retried on an
error of their own); the temporary files a killed worker left
are removed at the end (batch.main), so no partial file remains.  Everything a local cluster
listens on (scheduler, workers, dashboard) is on the loopback interface only.
"""
from __future__ import annotations

import os

from nbgpu.base.errors import InputError

EXTRA = "pip install 'nbgpu[cluster]'"
CONNECT_SECONDS = 20              # to reach a running scheduler (--scheduler)


def check_available():
    import importlib
    try:
        importlib.import_module("distributed")
    except ImportError:
        raise InputError(f"--workers/--scheduler need Dask's distributed: {EXTRA}") from None


def most_workers() -> int:
    """A local cluster's limit: one worker process per CPU core."""
    return os.cpu_count() or 1


def check_options(workers, scheduler):
    """--workers and --scheduler before any job renders (InputError naming the option); the
    scheduler itself is reached in connect()."""
    check_available()
    if workers is not None and not 1 <= workers <= most_workers():
        raise InputError(f"--workers {workers}: from 1 to {most_workers()} (one per CPU core of this machine)")
    if scheduler is not None and os.path.isfile(scheduler):
        scheduler_file_address(scheduler)


def scheduler_file_address(path) -> str:
    """The address in a scheduler file (dask scheduler --scheduler-file), or InputError."""
    import json
    try:
        with open(path) as handle:
            address = json.load(handle).get("address")
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError(f"--scheduler {path}: not a readable scheduler file ({exc})") from None
    if not isinstance(address, str):
        raise InputError(f"--scheduler {path}: the scheduler file holds no address")
    return address


# -- on the worker ----------------------------------------------------------------------------

_worker_state = None      # (InputCache, engines) of this worker process, kept between tasks


def worker_state():
    global _worker_state
    if _worker_state is None:
        from nbgpu.setup.cache import InputCache
        _worker_state = (InputCache(), {})
    return _worker_state


def render_task(tasks, folder, want_frame, *after):
    """Jobs in a worker, one after another: per job (status "ok" or "failed", error message,
    frame or None, warnings, notes).  tasks: (program, words, log path) per job; `after`:
    results of the tasks these wait for (unused)."""
    from nbgpu.batch.runner import render_job
    os.chdir(folder)
    inputs, engines = worker_state()
    results = []
    for program, words, log_path in tasks:
        warnings, notes = [], []
        error, frame = render_job(words, log_path, inputs, engines, warnings.append, notes.append, want_frame,
                                  program=program)
        results.append(("ok" if error is None else "failed", error, frame, warnings, notes))
    return results


_worker_simulators = {}  # command line words -> nbgpu.Simulator of this worker process


def simulator_task(words, folder, frames, write_files):
    """Frames of one command line in a worker (its Simulator kept between tasks): the float
    images, (frames, slow, fast)."""
    import numpy as np

    from nbgpu.run.simulator import Simulator
    os.chdir(folder)
    key = tuple(words)
    if key not in _worker_simulators:
        _worker_simulators[key] = Simulator(list(words))
    sim = _worker_simulators[key]
    return np.stack([sim.render(write_files=write_files, **changes).image for changes in frames])


# -- on the client ----------------------------------------------------------------------------

def local_cluster(workers: int):
    """N worker processes with one task at a time each and the CPU's cores shared between
    them (OMP_NUM_THREADS); with GPUs and dask-cuda, one worker per GPU."""
    import logging

    from nbgpu.engine.select import cuda_unavailable
    if not cuda_unavailable():
        try:
            from dask_cuda import LocalCUDACluster
            return LocalCUDACluster(n_workers=workers, threads_per_worker=1, silence_logs=logging.ERROR,
                                    dashboard_address="127.0.0.1:0")
        except ImportError:
            pass
    from distributed import LocalCluster
    threads = max(1, (os.cpu_count() or 1) // workers)
    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, silence_logs=logging.ERROR,
                        dashboard_address="127.0.0.1:0", env={"OMP_NUM_THREADS": str(threads)})


def connect(workers=None, scheduler=None, client=None):
    """(client, cluster this call started or None)."""
    from distributed import Client
    if client is not None:
        return client, None
    if scheduler is not None:
        address = scheduler_file_address(scheduler) if os.path.isfile(scheduler) else scheduler
        try:
            listening(address)
            return Client(address, timeout=CONNECT_SECONDS), None
        except Exception as exc:       # noqa: BLE001 -- unreachable, not an address, a protocol not installed
            raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler "
                             f"({type(exc).__name__}: {exc})") from None
    cluster = local_cluster(workers)
    return Client(cluster), cluster


def listening(address):
    """OSError or ValueError unless something listens at a TCP (or TLS) address: a Client that
    fails to connect is left half-built, and distributed can hang collecting several of them."""
    import socket

    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port
    protocol, location = parse_address(address)
    if protocol in ("tcp", "tls"):
        socket.create_connection(parse_host_port(location), timeout=CONNECT_SECONDS).close()


def dashboard(client) -> str:
    import importlib.util
    if importlib.util.find_spec("bokeh") is None:
        return f"no dashboard (it needs bokeh: {EXTRA})"
    return f"dashboard {client.dashboard_link}"


def chunks(indices, size):
    """Consecutive job indices in groups of `size` (a task each)."""
    return [indices[i:i + size] for i in range(0, len(indices), size)]


def producers(jobs):
    """For each job, the earlier jobs it must wait for, so that every file a job reads is the
    file the in-process batch gives it: those that write a file it reads or writes, and those
    that read a file it writes (an Fdump.bin a later -hkl job writes must not appear under an
    earlier job that reads the dump left in the folder).  Devices and FIFOs have no order."""
    from nbgpu.io.files import file_key
    last_writer, readers, waits = {}, {}, []    # file -> its last writer; file -> readers since then
    for index, job in enumerate(jobs):
        reads = {key for key in map(file_key, job.reads) if key is not None}
        writes = {key for key in (file_key(path) for _, path in job.writes) if key is not None}
        after = {last_writer[key] for key in reads | writes if key in last_writer}
        after |= {reader for key in writes for reader in readers.get(key, ()) if reader != index}
        waits.append(sorted(after))
        for key in reads:
            readers.setdefault(key, []).append(index)
        for key in writes:
            last_writer[key], readers[key] = index, []
    return waits


def run_on_cluster(run, client, cluster=None, chunk=1):
    """Submit every job not already complete, in line order, `chunk` jobs a task, each task
    after the tasks holding the jobs it reads from; gather results as they finish.  client,
    cluster: from connect() (the cluster, if any, is closed at the end)."""
    from distributed import as_completed
    futures = []
    try:
        run.stream.write(f"nbgpu batch: {len(client.scheduler_info().get('workers', {}))} Dask workers, "
                         f"{dashboard(client)}\n")
        folder = os.getcwd()
        waits = producers(run.jobs)
        pending = [index for index, job in enumerate(run.jobs) if not run.already_complete(index, job)]
        task_of, indices_of = {}, {}
        for group in chunks(pending, max(1, chunk)):
            after = sorted({task_of[i] for index in group for i in waits[index] if i in task_of})
            future = client.submit(render_task, [(run.jobs[i].program, run.words(run.jobs[i]), run.log_path(run.jobs[i]))
                                                 for i in group],
                                   folder, run.stack is not None, *(futures[a] for a in after), pure=False,
                                   retries=0)
            for index in group:
                task_of[index] = len(futures)
            indices_of[future.key] = group
            futures.append(future)
        notes_seen = set()
        for future in as_completed(futures):
            group = indices_of[future.key]
            try:
                outcomes = future.result()
            except Exception as exc:           # its workers died (KilledWorker), or a bug of ours
                for index in group:
                    run.job_failed(index, run.jobs[index],
                                   f"did not complete on the cluster: {type(exc).__name__}: {exc}")
                continue
            for index, (status, message, frame, warnings, notes) in zip(group, outcomes):
                job = run.jobs[index]
                for text in warnings:
                    run.warn(f"{job.where}:{job.line}: {text}")
                for text in notes:
                    if text not in notes_seen:
                        notes_seen.add(text)
                        run.note(text)
                if status == "ok":
                    run.succeeded(index, frame)
                else:
                    run.job_failed(index, job, message)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    finally:
        if cluster is not None:
            client.close()
            cluster.close()


def render_frames(client, args, frames, *, write_files=False, chunk=1, **options):
    """nbgpu.Simulator frames on Dask workers: `args`/`options` the command line (as
    nbgpu.simulate takes it), `frames` a list of change dicts (as Simulator.render takes them);
    returns their float images as one (frames, slow, fast) array, in order.  With write_files,
    each worker also writes its frames' files (give each frame its own names).  A bad command
    line or frame raises its NbgpuError here."""
    import numpy as np

    from nbgpu.setup.flags import command_words
    words = command_words(args, options)
    frames = list(frames)
    futures = [client.submit(simulator_task, words, os.getcwd(), group, write_files, pure=False, retries=0)
               for group in (frames[i:i + max(1, chunk)] for i in range(0, len(frames), max(1, chunk)))]
    try:
        return np.concatenate(client.gather(futures)) if futures else np.empty((0, 0, 0), np.float32)
    except BaseException:
        for future in futures:
            future.cancel()
        raise

"""nbgpu batch on Dask workers: the files of the in-process batch, byte for byte, also when a
worker is killed mid-run, against a separately started cluster, and with a failing job."""
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers import run_cli

distributed = pytest.importorskip("distributed")

FRAME = "-mat A.mat -hkl p1_small.hkl -N 6 -oversample 1 -detpixels {n} -pixel 0.4 -distance 100 -phisteps 2"


def write_jobs(work: Path, count=40, pixels=48):
    lines = [f"{FRAME.format(n=pixels)} -phi {i * 0.25:g} -osc 0.25 -seed {i + 1} -floatfile f{i}.bin "
             f"-intfile i{i}.img -noisefile n{i}.img -nopgm" for i in range(count)]
    (work / "jobs.txt").write_text("\n".join(lines) + "\n")
    return lines


def in_process_files(work: Path, tmp_path_factory) -> dict:
    """The files of the same batch run in one process, in a copy of the folder."""
    here = tmp_path_factory.mktemp("in-process")
    for name in ("A.mat", "p1_small.hkl", "jobs.txt"):
        (here / name).write_bytes((work / name).read_bytes())
    done = run_cli(["batch", "jobs.txt"], here, {"OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    return files_of(here)


def files_of(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != "jobs.txt"}


@pytest.mark.parametrize("chunk", ["1", "3"])
def test_two_workers_give_the_in_process_files(work, tmp_path_factory, chunk):
    write_jobs(work)
    done = run_cli(["batch", "jobs.txt", "--workers", "2", "--chunk", chunk], work)
    assert done.returncode == 0, done.stderr
    assert "2 Dask workers" in done.stderr and "40/40 jobs" in done.stderr
    assert files_of(work) == in_process_files(work, tmp_path_factory)


@pytest.fixture
def local_client():
    import logging
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       silence_logs=logging.ERROR, dashboard_address=":0",
                                       env={"OMP_NUM_THREADS": "1"})
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_a_worker_killed_mid_run_changes_no_byte(work, tmp_path_factory, local_client):
    from nbgpu.batch.main import run_batch
    write_jobs(work, pixels=96)
    victim = sorted(local_client.run(os.getpid).values())[0]
    killed = []

    def kill_when_started():
        deadline = time.monotonic() + 60
        while len(list(work.glob("f*.bin"))) < 6 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(victim, signal.SIGKILL)
        killed.append(len(list(work.glob("f*.bin"))))
    killer = threading.Thread(target=kill_when_started)
    killer.start()
    status = run_batch(str(work / "jobs.txt"), client=local_client, stream=io.StringIO())
    killer.join()
    assert status == 0
    assert killed and killed[0] < 40                       # it died before the end
    assert files_of(work) == in_process_files(work, tmp_path_factory)
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]


def test_against_a_separately_started_cluster(work, tmp_path_factory):
    write_jobs(work, count=12)
    dask = Path(sys.executable).with_name("dask")
    scheduler_file = tmp_path_factory.mktemp("scheduler") / "scheduler.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    scheduler = subprocess.Popen([str(dask), "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
                                  "--dashboard-address", ":0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=env)
    workers = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = subprocess.Popen([str(dask), "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2",
                                    "--nthreads", "1"], cwd="/", stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=env)
        address = json.loads(scheduler_file.read_text())["address"]
        done = run_cli(["batch", "jobs.txt", "--scheduler", address], work)
        assert done.returncode == 0, done.stderr
    finally:
        for process in (workers, scheduler):
            if process is not None:
                process.terminate()
                process.wait(timeout=60)
    assert files_of(work) == in_process_files(work, tmp_path_factory)


def test_a_failing_job_among_good_ones_fails_once(work):
    """Job 2 writes a 20x20 image that job 3 takes as its 24x24 detector's mask."""
    good = "-cell 30 -default_F 1 -N 2 -pixel 0.4 -distance 100 -nonoise -nopgm"
    lines = [f"{good} -detpixels 24 -floatfile a.bin -intfile a.img",
             f"{good} -detpixels 20 -floatfile m.bin -intfile mask.img",
             f"{good} -detpixels 24 -mask mask.img -floatfile masked.bin -intfile masked.img",
             f"{good} -detpixels 24 -phi 1 -floatfile b.bin -intfile b.img"]
    (work / "jobs.txt").write_text("\n".join(lines) + "\n")
    done = run_cli(["batch", "jobs.txt", "--workers", "2", "--logs", "logs"], work)
    assert done.returncode == 1
    assert "1 of 4 jobs failed" in done.stderr and "jobs.txt:3: -mask mask.img: mask is 20x20" in done.stderr
    assert {"a.bin", "b.bin", "m.bin"} <= {p.name for p in work.iterdir()} and not (work / "masked.bin").exists()
    assert "nbgpu: error: -mask mask.img" in (work / "logs" / "jobs.txt.3.log").read_text()


def test_ctrl_c_stops_the_cluster_it_started_and_resume_finishes(work, tmp_path_factory):
    write_jobs(work, pixels=128)
    process = subprocess.Popen([sys.executable, "-m", "nbgpu", "batch", "jobs.txt", "--workers", "2"], cwd=work,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(work.glob("f*.bin"))) < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    children = children_of(process.pid)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the batch finished before the interrupt arrived")
    assert process.returncode == 130, stderr
    deadline = time.monotonic() + 20                                    # its cluster goes with it
    while [pid for pid in children if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert children and not [(pid, command(pid)) for pid in children if alive(pid)]
    assert "--resume" in stderr
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]
    done = run_cli(["batch", "jobs.txt", "--workers", "2", "--resume"], work)
    assert done.returncode == 0, done.stderr
    assert files_of(work) == in_process_files(work, tmp_path_factory)


def children_of(pid) -> list[int]:
    """Processes whose parent is pid (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def command(pid) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
    except OSError:
        return ""


def alive(pid) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_without_distributed_workers_name_the_extra(work, monkeypatch):
    from nbgpu.batch.main import run_batch
    from nbgpu.base.errors import InputError
    write_jobs(work, count=1)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(InputError, match=r"need Dask's distributed: pip install 'nbgpu\[cluster\]'"):
        run_batch("jobs.txt", workers=2)
    assert not list(work.glob("*.bin"))


def test_simulator_frames_on_workers_equal_the_local_ones(work, local_client):
    import numpy as np

    import nbgpu
    from nbgpu.batch.cluster import render_frames
    from nbgpu.base.errors import InputError
    base = FRAME.format(n=24)
    frames = [dict(phi=n * 0.5, osc=0.5, seed=n + 1) for n in range(6)]
    images = render_frames(local_client, base, frames, chunk=2)
    local = nbgpu.Simulator(base).render_stack(frames)
    assert images.shape == (6, 24, 24) and np.array_equal(images, local)
    with pytest.raises(InputError, match="-mat missing.mat"):
        render_frames(local_client, base.replace("A.mat", "missing.mat"), frames[:1])


def test_a_mixed_batch_on_workers_gives_the_in_process_files(work, tmp_path_factory):
    """nanoBragg, nonBragg and noisify lines on Dask: the noisify line waits for the image it reads."""
    from test_batch import MIXED
    (work / "t.stol").write_text("0 2.5\n0.2 3\n0.5 1\n")
    (work / "jobs.txt").write_text("\n".join(MIXED) + "\n")
    done = run_cli(["batch", "jobs.txt", "--workers", "2"], work)
    assert done.returncode == 0, done.stderr
    here = tmp_path_factory.mktemp("mixed-in-process")
    for name in ("t.stol", "jobs.txt"):
        (here / name).write_bytes((work / name).read_bytes())
    assert run_cli(["batch", "jobs.txt"], here).returncode == 0
    ours = {k: v for k, v in files_of(work).items() if k.endswith((".bin", ".img", ".pgm"))}
    assert len(ours) == 9 and ours == {k: v for k, v in files_of(here).items() if k.endswith((".bin", ".img", ".pgm"))}

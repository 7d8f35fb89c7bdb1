"""nbgpu batch: many command lines in one process, each giving `nbgpu LINE`'s files."""
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import run_cli

FRAME = ("-mat A.mat -hkl p1_small.hkl -N 4 -oversample 1 -detpixels 24 -pixel 0.4 -distance 100 -phisteps 2 "
         "-osc 0.2 -nopgm -noprogress")




def frame_line(n, extra=""):
    return f"{FRAME} -phi {n * 0.2:g} -seed {n + 1} -floatfile f{n}.bin -intfile i{n}.img -noisefile n{n}.img {extra}"


def per_line_files(work: Path, lines, into: Path) -> dict:
    """What `nbgpu LINE` writes for each line, run one after another in a copy of the folder."""
    into.mkdir()
    for name in ("A.mat", "p1_small.hkl"):
        (into / name).write_bytes((work / name).read_bytes())
    for line in lines:
        done = run_cli(line.split(), into)
        assert done.returncode == 0, done.stderr
    return {p.name: p.read_bytes() for p in into.iterdir()}


def test_batch_gives_each_lines_files_byte_for_byte(work):
    lines = [frame_line(n) for n in range(4)]
    (work / "jobs.txt").write_text("# a sweep\n\n" + "\n".join(lines) + "\n")
    done = run_cli(["batch", "jobs.txt", "--logs", "logs"], work)
    assert done.returncode == 0, done.stderr
    assert "4/4 jobs" in done.stderr
    expected = per_line_files(work, lines, work / "reference")
    for name, data in expected.items():
        assert (work / name).read_bytes() == data, name
    logs = sorted((work / "logs").iterdir())
    assert [p.name for p in logs] == ["jobs.txt.3.log", "jobs.txt.4.log", "jobs.txt.5.log", "jobs.txt.6.log"]
    single = run_cli(lines[1].split(), work / "reference").stdout
    assert logs[1].read_text() == single             # nanoBragg's log of that line (-noprogress lines: no meter)


def test_quoting_comments_and_a_program_name(work):
    (work / "my hkl.hkl").write_bytes((work / "p1_small.hkl").read_bytes())
    (work / "jobs.txt").write_text(
        "# comment line\n"
        f"nanoBragg {FRAME.replace('p1_small.hkl', chr(39) + 'my hkl.hkl' + chr(39))} -floatfile a.bin "
        "-intfile a.img -nonoise   # a trailing comment\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 0, done.stderr
    assert (work / "a.bin").stat().st_size == 4 * 24 * 24


def test_bad_lines_are_reported_with_their_numbers_and_nothing_is_written(work):
    (work / "jobs.txt").write_text("\n".join([
        frame_line(0),
        frame_line(1, "-distance -5"),
        frame_line(2).replace("A.mat", "missing.mat"),
        'frame "unclosed',
    ]) + "\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 9
    errors = [line for line in done.stderr.splitlines() if line.startswith("nbgpu: error:")]
    assert len(errors) == 1 and "jobs.txt:4:" in errors[0] and "quoting" in errors[0]
    (work / "jobs.txt").write_text("\n".join([frame_line(0), frame_line(1, "-distance -5"),
                                              frame_line(2).replace("A.mat", "missing.mat")]) + "\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 9
    errors = [line for line in done.stderr.splitlines() if line.startswith("nbgpu: error:")]
    assert [e.split()[2] for e in errors] == ["jobs.txt:2:", "jobs.txt:3:"]
    assert "-distance" in errors[0] and "missing.mat" in errors[1]
    assert not list(work.glob("*.bin")) and not list(work.glob("*.img"))     # nothing rendered


def test_two_jobs_writing_one_file_are_an_error_naming_both(work):
    (work / "jobs.txt").write_text(f"{FRAME} -nonoise\n{FRAME} -nonoise -phi 1\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 9
    assert "jobs.txt:2: -floatfile floatimage.bin is also written by line 1" in done.stderr
    assert "Fdump.bin" not in done.stderr           # the same HKL may write the dump twice
    (work / "other.hkl").write_bytes((work / "p1_small.hkl").read_bytes())
    (work / "jobs.txt").write_text(f"{frame_line(0)}\n{frame_line(1).replace('p1_small.hkl', 'other.hkl')}\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 9 and "jobs.txt:2: Fdump.bin Fdump.bin is also written by line 1" in done.stderr


def test_a_job_reading_what_an_earlier_job_wrote_sees_the_new_file(work):
    """Job 1 writes an SMV image that job 3 uses as its mask; job 2 rewrites it with another size,
    so job 3 fails alone (a failed job among good ones), and job 4 reads the dump of job 1."""
    big = "-cell 30 -default_F 1 -N 2 -detpixels 24 -pixel 0.4 -distance 100 -nonoise -nopgm -noprogress"
    lines = [f"{big} -floatfile m1.bin -intfile mask.img",
             f"{big.replace('24', '20')} -floatfile m2.bin -intfile mask.img -phi 1",
             f"{big} -mask mask.img -floatfile masked.bin -intfile masked.img",
             "-mat A.mat -N 3 -detpixels 16 -distance 100 -nonoise -nopgm -floatfile d.bin -intfile d.img",
             frame_line(5)]
    (work / "jobs.txt").write_text("\n".join([lines[4], lines[0], lines[1], lines[2], lines[3]]) + "\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 9                      # mask.img written twice: refused
    assert "jobs.txt:3: -intfile mask.img is also written by line 2" in done.stderr
    (work / "jobs.txt").write_text("\n".join([lines[4], lines[1], lines[2], lines[3]]) + "\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 1, done.stderr          # job 3's mask is 20x20 for a 24x24 detector
    assert "1 of 4 jobs failed" in done.stderr and "jobs.txt:3: -mask mask.img: mask is 20x20" in done.stderr
    assert not (work / "masked.bin").exists()
    assert (work / "d.bin").stat().st_size == 4 * 16 * 16 and (work / "m2.bin").exists()
    expected = per_line_files(work, [lines[4], lines[3]], work / "reference")
    assert (work / "d.bin").read_bytes() == expected["d.bin"]


@pytest.mark.parametrize("sent, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_batch_resumes_to_the_same_bytes(work, tmp_path_factory, sent, status):
    slow = FRAME.replace("-detpixels 24", "-detpixels 160").replace("-oversample 1", "-oversample 3")
    lines = [f"{slow} -phi {n}  -seed {n + 1} -floatfile f{n}.bin -intfile i{n}.img -noisefile n{n}.img"
             for n in range(12)]
    (work / "jobs.txt").write_text("\n".join(lines) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "nbgpu", "batch", "jobs.txt"], cwd=work, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (work / "n1.img").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the batch finished before the interrupt arrived")
    assert process.returncode == status, stderr
    assert "--resume" in stderr
    assert not [p for p in work.iterdir() if ".tmp" in p.name or p.name.startswith(".")]
    finished = sorted(p.name for p in work.glob("f*.bin"))
    assert 2 <= len(finished) < 12
    done = run_cli(["batch", "jobs.txt", "--resume"], work)
    assert done.returncode == 0, done.stderr
    assert f"{len(finished)} jobs were already complete" in done.stderr
    fresh = tmp_path_factory.mktemp("uninterrupted")
    for name in ("A.mat", "p1_small.hkl", "jobs.txt"):
        (fresh / name).write_bytes((work / name).read_bytes())
    assert run_cli(["batch", "jobs.txt"], fresh).returncode == 0
    for path in fresh.iterdir():
        assert (work / path.name).read_bytes() == path.read_bytes(), path.name


def test_missing_or_empty_job_file_is_one_line(tmp_path):
    done = run_cli(["batch", "nope.txt"], tmp_path)
    assert done.returncode == 9
    assert done.stderr.strip().splitlines() == ["nbgpu: error: nope.txt: cannot read the job file (No such file "
                                                "or directory)"]
    (tmp_path / "empty.txt").write_text("# nothing but a comment\n\n")
    done = run_cli(["batch", "empty.txt"], tmp_path)
    assert done.returncode == 9
    assert done.stderr.strip().splitlines() == ["nbgpu: error: empty.txt: no command line in the job file"]


def test_dask_tasks_wait_for_every_job_whose_file_they_touch(tmp_path):
    """On workers, a job waits for the earlier jobs that write what it reads or writes, and for
    those that read what it writes: a job without -hkl reads the Fdump.bin in the folder, and a
    later -hkl job must not replace it under that job (in process, line order does this)."""
    from nbgpu.batch.cluster import producers
    from nbgpu.batch.jobs import Job

    def job(line, reads=(), writes=()):
        made = Job("jobs.txt", line, [])
        made.reads = [str(tmp_path / name) for name in reads]
        made.writes = [("-floatfile", str(tmp_path / name)) for name in writes]
        return made
    jobs = [job(1, writes=["a.bin"]),
            job(2, reads=["Fdump.bin"], writes=["b.bin"]),          # -default_F: the dump left here
            job(3, reads=["p1.hkl", "a.bin"], writes=["c.bin", "Fdump.bin"]),
            job(4, reads=["Fdump.bin"], writes=["d.bin"]),          # the dump job 3 wrote
            job(5, reads=["p1.hkl"], writes=["Fdump.bin"])]         # after job 4 has read it
    assert producers(jobs) == [[], [], [0, 1], [2], [2, 3]]


def test_each_job_is_set_up_once(work, monkeypatch):
    """Validation's setup is the one the job renders, and the one --resume checks."""
    import nbgpu
    from nbgpu.setup import prepare
    calls = []
    stages = prepare.stages
    monkeypatch.setattr(prepare, "stages", lambda *args: calls.append(args[0]) or stages(*args))
    lines = [frame_line(n) for n in range(3)]
    (work / "jobs.txt").write_text("\n".join(lines) + "\n")
    assert nbgpu.run_batch("jobs.txt", stream=io.StringIO()) == 0
    assert len(calls) == 3
    first = (work / "i0.img").read_bytes()
    assert nbgpu.run_batch("jobs.txt", resume=True, stream=io.StringIO()) == 0
    assert len(calls) == 6 and (work / "i0.img").read_bytes() == first
    # the same files as `nbgpu LINE`: the Fdump.bin written where the render tells the setup's log
    assert per_line_files(work, lines, work / "reference")["n2.img"] == (work / "n2.img").read_bytes()


def run_program(module, args, cwd):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


MIXED = [
    "nanoBragg -cell 30 30 30 90 90 90 -default_F 100 -N 3 -distance 60 -detpixels 32 -pixel 0.2 -nonoise "
    "-floatfile spots.bin -intfile spots.img -pgmfile spots.pgm -noprogress",
    "nonBragg -stol t.stol -detpixels 32 -pixel 0.2 -distance 60 -seed 4 -floatfile water.bin -intfile water.img "
    "-pgmfile water.pgm -noisefile water_noise.img -noprogress",
    "noisify -floatfile spots.bin -detpixels 32 -seed 3 -intfile quiet.img -noisefile noisy.img -nopgm",
]


def test_a_batch_mixes_the_three_programs(work):
    """nanoBragg, nonBragg and noisify lines in one job file, each giving its program's files; the
    noisify line reads the image the first line writes, so it waits for it."""
    (work / "t.stol").write_text("0 2.5\n0.2 3\n0.5 1\n")
    (work / "jobs.txt").write_text("\n".join(MIXED) + "\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 0, done.stderr
    batch = {p.name: p.read_bytes() for p in work.iterdir() if p.suffix in (".bin", ".img", ".pgm")}
    alone = work / "alone"
    alone.mkdir()
    (alone / "t.stol").write_text("0 2.5\n0.2 3\n0.5 1\n")
    for line, module in zip(MIXED, ("nbgpu", "nbgpu.cli.nonbragg", "nbgpu.cli.noisify")):
        ran = run_program(module, line.split()[1:], alone)
        assert ran.returncode == 0, ran.stderr
    expected = {p.name: p.read_bytes() for p in alone.iterdir() if p.suffix in (".bin", ".img", ".pgm")}
    assert set(batch) == set(expected) and len(batch) == 9
    for name in expected:
        assert batch[name] == expected[name], name


def test_a_bad_line_of_another_program_is_named(work):
    (work / "jobs.txt").write_text("noisify -detpixels 32 -seed 3\nnonBragg -detpixels 8\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode != 0
    assert "jobs.txt:1: no input image" in done.stderr and "jobs.txt:2:" in done.stderr
    assert not any(work.glob("*.img"))

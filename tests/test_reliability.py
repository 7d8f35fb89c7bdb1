"""What an adversarial user found (issue 18), one test per defect: outputs go where their names
point, full disks and broken standard streams never crash a run, batches never overwrite
silently, the Python API takes numpy values, inputs never go stale or grow without end."""
import importlib.util
import os
import resource
import signal
import stat
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import nbgpu
from helpers import run_cli
from nbgpu.base.errors import InputError, NbgpuError

SMALL = "-cell 50 60 70 90 90 90 -default_F 100 -N 5 -detpixels 64 -noprogress".split()
PIXELS = 64 * 64
IMAGES = ("floatimage.bin", "intimage.img", "image.pgm", "noiseimage.img")


def reference_float(tmp_path) -> bytes:
    """The float image of SMALL, written to a plain new file."""
    folder = tmp_path / "reference"
    folder.mkdir()
    done = run_cli(SMALL + ["-nonoise", "-nopgm"], folder)
    assert done.returncode == 0, done.stderr
    return (folder / "floatimage.bin").read_bytes()


def run_limited(args, cwd, max_file_bytes):
    """The CLI with every file it writes capped at max_file_bytes (EFBIG past it): a full disk
    that each file meets on its own."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    return subprocess.run([sys.executable, "-m", "nbgpu", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, preexec_fn=limit)


# ------------------------------------------------ 1. devices, FIFOs, symlinks, hard links, modes

def test_an_output_on_a_device_is_written_through_and_stays_a_device(tmp_path):
    """The issue's reproduction: a null device node made here (root), else a symlink to /dev/null."""
    node = tmp_path / "mynull"
    if os.geteuid() == 0:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        node.symlink_to("/dev/null")
    done = run_cli(SMALL + ["-floatfile", "mynull"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(os.stat(node).st_mode) and os.path.getsize(node) == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_dev_null_is_an_output_like_any_other():
    from nbgpu.io.files import destination, unwritable
    assert unwritable("/dev/null") is None                   # no folder check: /dev is not ours to write in
    assert destination("/dev/null").through


def test_a_fifo_reader_gets_the_image(tmp_path):
    expected = reference_float(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    got = []
    reader = threading.Thread(target=lambda: got.append((tmp_path / "pipe").read_bytes()), daemon=True)
    reader.start()
    done = run_cli(SMALL + ["-floatfile", "pipe", "-nonoise", "-nopgm"], tmp_path)
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert got == [expected] and stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)


def test_a_symlink_is_written_through_and_the_file_keeps_its_mode(tmp_path):
    expected = reference_float(tmp_path)
    (tmp_path / "data").mkdir()
    real = tmp_path / "data" / "real.bin"
    real.write_bytes(b"old")
    real.chmod(0o640)
    (tmp_path / "link.bin").symlink_to("data/real.bin")
    done = run_cli(SMALL + ["-floatfile", "link.bin", "-nonoise", "-nopgm"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.bin").is_symlink() and os.readlink(tmp_path / "link.bin") == "data/real.bin"
    assert real.read_bytes() == expected and stat.S_IMODE(real.stat().st_mode) == 0o640


def test_a_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "link.bin").symlink_to("out/new.bin")
    done = run_cli(SMALL + ["-floatfile", "link.bin", "-nonoise", "-nopgm"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link.bin").is_symlink() and (tmp_path / "out" / "new.bin").stat().st_size == 4 * PIXELS


def test_hard_links_stay_linked(tmp_path):
    expected = reference_float(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"old")
    os.link(tmp_path / "a.bin", tmp_path / "b.bin")
    done = run_cli(SMALL + ["-floatfile", "a.bin", "-nonoise", "-nopgm"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b.bin").read_bytes() == expected and (tmp_path / "a.bin").stat().st_nlink == 2


def test_a_replaced_file_keeps_its_mode(tmp_path):
    (tmp_path / "floatimage.bin").write_bytes(b"old")
    (tmp_path / "floatimage.bin").chmod(0o600)
    done = run_cli(SMALL + ["-nonoise", "-nopgm"], tmp_path)
    assert done.returncode == 0, done.stderr
    st = (tmp_path / "floatimage.bin").stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 4 * PIXELS


def test_dev_stdout_carries_the_image_into_a_pipe(tmp_path):
    expected = reference_float(tmp_path)
    done = cli(SMALL + ["-floatfile", "/dev/stdout", "-nonoise", "-nopgm"], tmp_path, stdout=subprocess.PIPE,
               stderr=subprocess.PIPE)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout and b"max_I" in done.stdout


def test_a_swapped_temporary_is_never_renamed_into_place(tmp_path):
    """Someone who may write in the output folder replaces our temporary with a symlink to a
    file of ours: the rename is refused, and nothing is written through the link."""
    from nbgpu.io.files import Staged
    victim = tmp_path / "victim"
    victim.write_bytes(b"secret")
    victim.chmod(0o600)
    (tmp_path / "out.bin").write_bytes(b"old")
    output = Staged(tmp_path / "out.bin")
    output.write([b"image"])
    os.unlink(output.tmp)
    os.symlink(victim, output.tmp)
    with pytest.raises(InputError, match="replaced by someone else"):
        output.commit()
    assert victim.read_bytes() == b"secret" and stat.S_IMODE(victim.stat().st_mode) == 0o600
    assert (tmp_path / "out.bin").read_bytes() == b"old" and not (tmp_path / "out.bin").is_symlink()


def test_another_users_file_is_written_through_not_taken_over(tmp_path, monkeypatch):
    from nbgpu.io import files
    (tmp_path / "theirs.bin").write_bytes(b"old")
    owner = (tmp_path / "theirs.bin").stat().st_uid
    assert not files.destination(tmp_path / "theirs.bin").through
    monkeypatch.setattr(os, "geteuid", lambda: owner + 1 if owner else 4242)     # as another, non-root user
    assert files.destination(tmp_path / "theirs.bin").through


def cli(args, cwd, **streams):
    return subprocess.run([sys.executable, "-m", "nbgpu", *args], cwd=cwd, timeout=300, **streams)


# ---------------------------------------------------------------------- 2. NeXus on a full disk

def test_a_nexus_file_on_a_full_disk_fails_cleanly(tmp_path):
    pytest.importorskip("h5py")
    done = run_limited(SMALL + ["-nexusfile", "n.h5", "-nexus_compression", "none"], tmp_path, 4 * PIXELS + 4096)
    assert done.returncode == 9, done.stderr
    assert "nbgpu: error: cannot write n.h5: File too large" in done.stderr
    assert "internal error" not in done.stderr and os.listdir(tmp_path) == []


def test_a_batch_nexus_stack_on_a_full_disk_leaves_the_images(tmp_path):
    pytest.importorskip("h5py")
    lines = [" ".join(SMALL) + f" -phi {n} -osc 1 -floatfile f{n}.bin -intfile i{n}.img -nonoise -nopgm"
             for n in range(3)]
    (tmp_path / "jobs.txt").write_text("\n".join(lines) + "\n")
    done = run_limited(["batch", "jobs.txt", "--nexus", "s.h5", "--nexus-compression", "none"], tmp_path,
                       4 * PIXELS + 4096)
    assert done.returncode == 1, done.stderr
    assert "--nexus s.h5 was not written: --nexus: cannot write s.h5: File too large" in done.stderr
    assert "internal error" not in done.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(["jobs.txt"] + [f"f{n}.bin" for n in range(3)]
                                                  + [f"i{n}.img" for n in range(3)])


# -------------------------------------------------------- 3. one file under two names in a batch

def test_two_lines_writing_one_file_through_a_symlink_are_refused(tmp_path):
    (tmp_path / "lnk").symlink_to(".")
    line = " ".join(SMALL) + " -nonoise -nopgm -intfile {0}.img -floatfile {1}"
    (tmp_path / "jobs.txt").write_text(line.format("a", "f.bin") + "\n" + line.format("b", "lnk/f.bin") + "\n")
    done = run_cli(["batch", "jobs.txt"], tmp_path)
    assert done.returncode == 9
    assert "jobs.txt:2: -floatfile" in done.stderr and "is also written by line 1" in done.stderr
    assert not (tmp_path / "f.bin").exists()


def test_two_lines_writing_one_file_through_a_hard_link_are_refused(tmp_path):
    (tmp_path / "f.bin").write_bytes(b"old")
    os.link(tmp_path / "f.bin", tmp_path / "g.bin")
    line = " ".join(SMALL) + " -nonoise -nopgm -intfile {0}.img -floatfile {0}.bin"
    (tmp_path / "jobs.txt").write_text(line.format("f") + "\n" + line.format("g") + "\n")
    done = run_cli(["batch", "jobs.txt"], tmp_path)
    assert done.returncode == 9 and "is also written by line 1" in done.stderr


def test_the_job_file_and_the_nexus_stack_are_not_outputs_of_a_line(tmp_path):
    (tmp_path / "lnk").symlink_to(".")
    line = " ".join(SMALL) + " -nonoise -nopgm -floatfile {0} -intfile {1}"
    (tmp_path / "jobs.txt").write_text(line.format("f.bin", "lnk/jobs.txt") + "\n" + line.format("s.h5", "i.img") + "\n")
    done = run_cli(["batch", "jobs.txt", "--nexus", "s.h5"], tmp_path)
    assert done.returncode == 9
    assert "jobs.txt:1: -intfile lnk/jobs.txt is the job file" in done.stderr
    assert "jobs.txt:2: -floatfile s.h5 is --nexus" in done.stderr


def test_lines_may_share_a_device(tmp_path):
    line = " ".join(SMALL) + " -nopgm -floatfile /dev/null -noisefile /dev/null -intfile {0}.img"
    (tmp_path / "jobs.txt").write_text(line.format("a") + "\n" + line.format("b") + "\n")
    done = run_cli(["batch", "jobs.txt"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path)) == ["a.img", "b.img", "jobs.txt"]


def test_a_fifo_input_of_a_batch_is_read_when_its_line_renders(work):
    (work / "reference").mkdir()
    for name in ("A.mat", "p1_small.hkl"):
        (work / "reference" / name).write_bytes((work / name).read_bytes())
    args = "-mat A.mat -N 3 -detpixels 16 -pixel 0.4 -nonoise -nopgm -floatfile f.bin".split()
    assert run_cli(args + ["-hkl", "p1_small.hkl"], work / "reference").returncode == 0
    os.mkfifo(work / "hkl.fifo")
    feeder = threading.Thread(target=lambda: (work / "hkl.fifo").write_bytes((work / "p1_small.hkl").read_bytes()),
                              daemon=True)
    feeder.start()
    (work / "jobs.txt").write_text(" ".join(args + ["-hkl", "hkl.fifo", "-dump", "d.bin"]) + "\n")
    done = run_cli(["batch", "jobs.txt", "--resume"], work, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (work / "f.bin").read_bytes() == (work / "reference" / "f.bin").read_bytes()


def test_a_nul_byte_in_a_name_is_an_error_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for option in ("floatfile", "hkl", "mat"):
        with pytest.raises(InputError, match="a NUL byte"):
            nbgpu.simulate(write_files=True, **{option: "a\0b"}, **BASE)
    (tmp_path / "jobs.txt").write_text(" ".join(SMALL) + " -floatfile a\0b.bin\n")
    done = run_cli(["batch", "jobs.txt"], tmp_path)
    assert done.returncode == 9 and "a NUL byte" in done.stderr and "internal error" not in done.stderr


# ------------------------------------------------------------- 4. stdout and stderr that fail

def test_a_closed_stdout_loses_only_the_log(tmp_path):
    done = cli(SMALL, tmp_path, stdout=None, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and sorted(os.listdir(tmp_path)) == sorted(IMAGES)


def test_stdout_on_a_full_disk_loses_only_the_log(tmp_path):
    with open("/dev/full", "w") as full:
        done = cli(SMALL, tmp_path, stdout=full, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr
    assert "stdout: the log could not be written (No space left on device)" in done.stderr
    assert sorted(os.listdir(tmp_path)) == sorted(IMAGES)


def test_a_closed_stderr_changes_nothing(tmp_path):
    done = cli(SMALL, tmp_path, stdout=subprocess.PIPE, text=True, preexec_fn=lambda: os.close(2))
    assert done.returncode == 0
    assert "max_I" in done.stdout and "nbgpu:" not in done.stdout     # no warning strayed onto stdout
    assert sorted(os.listdir(tmp_path)) == sorted(IMAGES)


def test_a_pipe_closed_early_still_gives_the_images(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "nbgpu", *SMALL], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.read(10)
    process.stdout.close()                                     # as `| head -c 10` does
    assert process.wait(timeout=300) == 0
    assert b"could not be written" not in process.stderr.read()
    assert sorted(os.listdir(tmp_path)) == sorted(IMAGES)


# --------------------------------------------------------------- 5. the Python API's values

BASE = dict(cell=(30, 30, 30, 90, 90, 90), default_F=100, N=3, distance=60, detpixels=16, pixel=0.4, backend="c")


def test_numpy_floats_are_passed_in_their_own_precision():
    from nbgpu.setup.flags import argv_from_keywords
    assert argv_from_keywords(dict(phi=np.float32(0.1), osc=np.float64(0.1), N=np.int32(3),
                                   cell=np.array([30, 30, 30, 90, 90, 90], dtype=np.float32), nopolar=np.bool_(True),
                                   nonoise=np.bool_(False))) == \
        ["-phi", "0.1", "-osc", "0.1", "-N", "3", "-cell", "30.0", "30.0", "30.0", "90.0", "90.0", "90.0", "-nopolar"]


def test_numpy_values_give_the_image_of_python_values():
    plain = nbgpu.simulate(phi=0.5, osc=0.25, **BASE).image
    numpy = dict(BASE, cell=np.array(BASE["cell"], dtype=np.float64), N=np.int64(3), distance=np.float32(60))
    assert np.array_equal(nbgpu.simulate(phi=np.float64(0.5), osc=np.float32(0.25), nopolar=np.bool_(False),
                                         **numpy).image, plain)
    sim = nbgpu.Simulator(**BASE)
    assert np.array_equal(sim.render(phi=np.float64(0.5), osc=np.float64(0.25)).image, plain)


@pytest.mark.parametrize("call, message", [
    (lambda: nbgpu.simulate(123), "command line: expected a string or a list of words, not int"),
    (lambda: nbgpu.simulate(b"-N 5"), "not bytes"),
    (lambda: nbgpu.simulate("-cell 30 30 30 90 90 90 -default_F '100"), "No closing quotation"),
    (lambda: nbgpu.simulate(["-N", None], **BASE), "command line: expected a number, a word or a path, got NoneType"),
    (lambda: nbgpu.simulate(N=b"5", **{k: v for k, v in BASE.items() if k != "N"}), "N=: expected a number"),
    (lambda: nbgpu.simulate(phi=1 + 2j, **BASE), "phi=: expected a number"),
    (lambda: nbgpu.simulate(max_evaluations="many", **BASE), "max_evaluations: expected a number"),
    (lambda: nbgpu.Simulator(**BASE).render(rotation="x"), "rotation=: expected a 3x3 matrix"),
    (lambda: nbgpu.Simulator(**BASE).render_stack([]), "render_stack: no frames"),
    (lambda: nbgpu.Simulator(**BASE).render_stack([1]), "each frame is a Result or a dict"),
    (lambda: list(nbgpu.Simulator(**BASE).sweep("3", 1.0)), "sweep: frames must be a count"),
    (lambda: list(nbgpu.Simulator(**BASE).sweep(2, "a")), "sweep: step: expected a number"),
    (lambda: nbgpu.Simulator(**BASE).render_stack(3), "render_stack: frames must be an iterable"),
    (lambda: nbgpu.Simulator(**BASE).write_nexus(None, []), "write_nexus: expected a file name"),
    (lambda: nbgpu.Simulator(**BASE).write_nexus("s.h5", [], compression="zz"), "compression 'zz' is not one of"),
    (lambda: nbgpu.simulate(mosaic=np.zeros((2, 2)), **BASE), "mosaic=: expected a number"),
])
def test_bad_python_values_raise_the_projects_error(call, message):
    with pytest.raises(NbgpuError, match=message.replace("(", r"\(")):
        call()


# ------------------------------------------------------------------ 6. inputs copied over in place

def test_a_same_size_file_copied_over_with_its_mtime_is_read_again(work, monkeypatch):
    from nbgpu.setup import cache as inputs
    monkeypatch.setattr(inputs, "SETTLED_NS", 0)              # time stamps trusted at once: no digest
    sim = nbgpu.Simulator("-mat A.mat -hkl p1_small.hkl -N 3 -detpixels 16 -pixel 0.4 -nonoise")
    first = sim.render().image.copy()
    hkl = work / "p1_small.hkl"
    text, before = hkl.read_text(), hkl.stat()
    halved = "".join(line[:-len(F)] + f"{float(F) / 2:{len(F)}.4f}\n"
                     for line in text.splitlines() for F in line.split()[-1:])   # every F halved, same columns
    assert len(halved) == len(text) and halved != text
    hkl.write_text(halved)
    os.utime(hkl, ns=(before.st_atime_ns, before.st_mtime_ns))   # what `cp -p` leaves
    assert hkl.stat().st_mtime_ns == before.st_mtime_ns and hkl.stat().st_size == before.st_size
    assert not np.array_equal(sim.render().image, first)
    assert np.array_equal(sim.render().image, nbgpu.simulate("-mat A.mat -hkl p1_small.hkl -N 3 -detpixels 16 "
                                                             "-pixel 0.4 -nonoise").image)


def test_a_file_changed_within_its_time_stamps_resolution_is_checked_by_content(work, monkeypatch):
    from nbgpu.setup import cache as inputs
    size_only = lambda path: (str(path), os.stat(path).st_size, 0, 0, 0, 0)     # noqa: E731 -- coarse stamps
    monkeypatch.setattr(inputs, "identity", size_only)
    monkeypatch.setattr(inputs, "time", type("clock", (), {"time_ns": staticmethod(lambda: 1)}))   # all recent
    cache, reads = inputs.InputCache(), []
    reader = lambda path, log: reads.append(1) or open(path, "rb").read()      # noqa: E731
    (work / "x").write_bytes(b"one")
    assert cache.read(reader, str(work / "x"), log=print) == b"one"
    assert cache.read(reader, str(work / "x"), log=print) == b"one" and len(reads) == 1
    (work / "x").write_bytes(b"two")
    assert cache.read(reader, str(work / "x"), log=print) == b"two" and len(reads) == 2


def test_a_fifo_input_is_never_kept(tmp_path):
    from nbgpu.setup.cache import identity
    os.mkfifo(tmp_path / "f")
    assert identity(tmp_path / "f") is None


# ------------------------------------------------------------------ 7. the Dask dashboard

def test_a_local_cluster_listens_on_loopback_only():
    pytest.importorskip("distributed")
    psutil = pytest.importorskip("psutil")
    from distributed import Client

    from nbgpu.batch.cluster import local_cluster
    cluster = local_cluster(1)
    client = Client(cluster)
    try:
        me = psutil.Process()
        listening = [c.laddr for p in [me] + me.children(recursive=True)
                     for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
        assert listening and all(address.ip == "127.0.0.1" for address in listening), listening
        assert "127.0.0.1" in client.dashboard_link
    finally:
        client.close()
        cluster.close()


# ----------------------------------------------------------- 8. endless inputs, stopped at once

@pytest.mark.parametrize("flag, path, message", [
    ("-mat", "/dev/zero", "-mat /dev/zero: binary data (a NUL byte) in a text input"),
    ("-hkl", "/dev/zero", "-hkl /dev/zero: binary data"),
    ("-sourcefile", "/dev/urandom", "-sourcefile /dev/urandom: binary data"),
    ("-stol", "/dev/zero", "-stol /dev/zero: binary data"),
    ("-img", "/dev/zero", "-img /dev/zero: does not look like an ADSC frame"),
    ("-mask", "/dev/urandom", "-mask /dev/urandom: does not look like an ADSC frame"),
])
def test_an_endless_input_is_refused_at_once(tmp_path, flag, path, message):
    started = time.monotonic()
    done = run_cli(SMALL + [flag, path], tmp_path, timeout=60)
    assert done.returncode == 9 and message in done.stderr
    assert time.monotonic() - started < 30 and os.listdir(tmp_path) == []


def test_inputs_from_fifos_give_the_files_image(work):
    from helpers import LOCAL_SUITE
    (work / "mask.img").write_bytes((LOCAL_SUITE / "inputs" / "mask.img").read_bytes())
    args = "-mat A.mat -N 3 -pixel 0.4 -nonoise -nopgm".split()       # the mask's 72x60 pixels
    plain = run_cli(args + ["-hkl", "p1_small.hkl", "-mask", "mask.img"], work)
    assert plain.returncode == 0, plain.stderr
    expected = (work / "floatimage.bin").read_bytes()
    feeders = []
    for name in ("hkl", "mask"):
        os.mkfifo(work / f"{name}.fifo")
        source = work / ("p1_small.hkl" if name == "hkl" else "mask.img")
        feeders.append(threading.Thread(target=lambda s=source, n=name: (work / f"{n}.fifo").write_bytes(s.read_bytes()),
                                        daemon=True))
        feeders[-1].start()
    piped = run_cli(args + ["-hkl", "hkl.fifo", "-mask", "mask.fifo", "-floatfile", "piped.bin"], work)
    for feeder in feeders:
        feeder.join(timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert (work / "piped.bin").read_bytes() == expected


# ------------------------------------------------------------ 9. NaN and infinite structure factors

@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_a_non_finite_structure_factor_is_refused(tmp_path, value):
    (tmp_path / "bad.hkl").write_text(f"0 0 1 100\n1 2 3 {value}\n-1 0 0 50\n")
    done = run_cli(SMALL + ["-hkl", "bad.hkl"], tmp_path)
    assert done.returncode == 9
    assert "-hkl bad.hkl: F of reflection 1 2 3 is" in done.stderr and "not a finite number" in done.stderr
    assert os.listdir(tmp_path) == ["bad.hkl"]


def test_a_non_finite_dump_is_refused(tmp_path):
    from nbgpu.io import StructureFactors, fdump_parts, save_file
    grid = np.zeros((3, 3, 3))
    grid[1, 0, 1] = np.nan
    save_file(tmp_path / "Fdump.bin", fdump_parts(StructureFactors(grid.reshape(-1), 0, 1, 0, 1, 0, 1, 8)))
    done = run_cli(SMALL[:4] + SMALL[6:], tmp_path)            # no -default_F: the dump's Fs
    assert done.returncode == 9 and "-dump Fdump.bin: F of reflection 1 0 1 is nan" in done.stderr


def test_an_image_that_overflows_is_written_with_a_warning(tmp_path):
    done = run_cli(SMALL + ["-default_F", "1e200", "-nonoise", "-nopgm"], tmp_path)
    assert done.returncode == 0 and "the image holds NaN or infinite pixels" in done.stderr


# ---------------------------------------------------------------------------- 10. batch edges

def write_jobs(folder, count=3, extra=""):
    lines = [" ".join(SMALL) + f" -phi {n} -floatfile f{n}.bin -intfile i{n}.img -nonoise -nopgm {extra}"
             for n in range(count)]
    (folder / "jobs.txt").write_text("\n".join(lines) + "\n")


def test_resume_removes_what_a_killed_batch_left(tmp_path):
    write_jobs(tmp_path)
    gone = subprocess.Popen(["true"])
    gone.wait()                                               # a writer that is no longer running
    leftovers = [tmp_path / f".f1.bin.{gone.pid}.0123456789ab.tmp", tmp_path / f".i2.img.{gone.pid}.ba9876543210.tmp"]
    kept = [tmp_path / f".f1.bin.{os.getpid()}.00112233aabb.tmp",      # a writer still running
            tmp_path / f".f1.bin.x.{gone.pid}.0123456789ab.tmp",       # another file's
            tmp_path / f".f1.bin.{gone.pid}.tmp"]                      # not a temporary name
    for path in leftovers + kept:
        path.write_bytes(b"half")
    done = run_cli(["batch", "jobs.txt", "--resume"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not any(path.exists() for path in leftovers) and all(path.exists() for path in kept)
    assert (tmp_path / "f1.bin").stat().st_size == 4 * PIXELS


def test_nohup_keeps_a_run_going(tmp_path):
    def ignore_hangup():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    process = subprocess.Popen([sys.executable, "-m", "nbgpu", *SMALL, "-detpixels", "256", "-oversample", "4",
                                "-phisteps", "20", "-osc", "1"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, preexec_fn=ignore_hangup)
    time.sleep(1.0)
    process.send_signal(signal.SIGHUP)
    assert process.wait(timeout=120) == 0
    assert sorted(os.listdir(tmp_path)) == sorted(IMAGES)


@pytest.mark.parametrize("batch", [False, True])
def test_sighup_ends_a_run_like_sigterm(tmp_path, batch):
    long = SMALL + "-detpixels 512 -oversample 6 -phisteps 100 -osc 1 -nonoise -backend c".split()
    if batch:
        (tmp_path / "jobs.txt").write_text(" ".join(long) + "\n")
    process = subprocess.Popen([sys.executable, "-m", "nbgpu", *(["batch", "jobs.txt"] if batch else long)],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(2.0)
    assert process.poll() is None, "the render finished too quickly to be interrupted"
    process.send_signal(signal.SIGHUP)
    assert process.wait(timeout=60) == 128 + signal.SIGHUP
    assert "interrupted" in process.stderr.read()
    assert sorted(os.listdir(tmp_path)) == (["jobs.txt"] if batch else [])


def test_a_log_that_cannot_be_written_fails_its_job_not_the_batch(tmp_path, monkeypatch):
    from nbgpu.batch import main as batch, runner, state
    write_jobs(tmp_path)
    monkeypatch.chdir(tmp_path)
    real = runner.save_file

    def full_for_line_2(path, parts):
        if str(path).endswith(".2.log"):
            raise InputError(f"cannot write {path}: No space left on device")
        real(path, parts)
    monkeypatch.setattr(runner, "save_file", full_for_line_2)
    messages = []
    status = batch.run_batch("jobs.txt", logs="logs", stream=type("S", (), {
        "write": lambda self, text: messages.append(text), "flush": lambda self: None,
        "isatty": lambda self: False})())
    assert status == state.EXIT_FAILED
    assert all((tmp_path / f"f{n}.bin").stat().st_size == 4 * PIXELS for n in range(3))
    assert "jobs.txt:2: its log could not be written: cannot write logs/jobs.txt.2.log" in "".join(messages)
    assert sorted(os.listdir(tmp_path / "logs")) == ["jobs.txt.1.log", "jobs.txt.3.log"]


NEEDS_DASK = pytest.mark.skipif(importlib.util.find_spec("distributed") is None,
                                reason="--workers/--scheduler need distributed (a test dependency)")


@pytest.mark.parametrize("options, message", [
    (["--logs", "afile"], "--logs afile: not a folder"),
    (["--logs", "afile/sub"], "--logs afile/sub: cannot make the folder"),
    (["--nexus", "no/such/s.h5"], "--nexus no/such/s.h5: cannot write in"),
    pytest.param(["--workers", "0"], "--workers 0: from 1 to", marks=NEEDS_DASK),
    pytest.param(["--workers", "100000"], "--workers 100000: from 1 to", marks=NEEDS_DASK),
    pytest.param(["--scheduler", "sched.json"], "--scheduler sched.json: not a readable scheduler file",
                 marks=NEEDS_DASK),
])
def test_bad_batch_options_are_refused_before_any_job_renders(tmp_path, options, message):
    write_jobs(tmp_path)
    (tmp_path / "afile").write_text("")
    (tmp_path / "sched.json").write_text("not json")
    done = run_cli(["batch", "jobs.txt", *options], tmp_path)
    assert done.returncode == 9, done.stderr
    assert f"nbgpu: error: {message}" in done.stderr and "internal error" not in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["afile", "jobs.txt", "sched.json"]


def test_an_unreachable_scheduler_is_refused_before_any_job_renders(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from nbgpu.batch import main as batch
    from nbgpu.batch import cluster
    write_jobs(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cluster, "CONNECT_SECONDS", 2)
    with pytest.raises(InputError, match="--scheduler tcp://127.0.0.1:1: cannot reach the Dask scheduler"):
        batch.run_batch("jobs.txt", scheduler="tcp://127.0.0.1:1")
    assert os.listdir(tmp_path) == ["jobs.txt"]


# ---------------------------------------------------------- 11. long names, container memory

def test_a_long_multibyte_name_is_written(tmp_path):
    name = "像" * 80 + ".bin"                                 # 244 bytes: a legal name, 84 characters
    done = run_cli(SMALL + ["-floatfile", name, "-nonoise", "-nopgm"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / name).stat().st_size == 4 * PIXELS


def test_a_name_too_long_is_refused_before_rendering(tmp_path):
    name = "像" * 90 + ".bin"                                 # 274 bytes
    done = run_cli(SMALL + ["-floatfile", name], tmp_path)
    assert done.returncode == 9 and f"-floatfile {name}: file name too long" in done.stderr
    assert "max_I" not in done.stdout and os.listdir(tmp_path) == []


def fake_cgroups(tmp_path, membership, files):
    (tmp_path / "self").write_text(membership)
    for path, value in files.items():
        (tmp_path / "fs" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "fs" / path).write_text(value)
    return str(tmp_path / "fs"), str(tmp_path / "self")


def test_a_cgroup_v2_limit_bounds_the_memory(tmp_path):
    from nbgpu.base.memory import cgroup_headroom
    root, membership = fake_cgroups(tmp_path, "0::/job/step\n", {
        "cgroup.controllers": "memory", "job/memory.max": str(3 << 30), "job/memory.current": str(1 << 30),
        "job/step/memory.max": "max", "job/step/memory.current": str(1 << 30)})
    assert cgroup_headroom(root, membership) == 2 << 30


def test_a_cgroup_v1_limit_bounds_the_memory(tmp_path):
    from nbgpu.base.memory import cgroup_headroom
    root, membership = fake_cgroups(tmp_path, "4:memory:/docker/abc\n1:cpu:/\n", {
        "memory/docker/abc/memory.limit_in_bytes": str(1 << 30),
        "memory/docker/abc/memory.usage_in_bytes": str(1 << 28),
        "memory/memory.limit_in_bytes": "9223372036854771712", "memory/memory.usage_in_bytes": "5"})
    assert cgroup_headroom(root, membership) == (1 << 30) - (1 << 28)
    assert cgroup_headroom(root, str(tmp_path / "missing")) is None


def test_page_cache_the_kernel_can_reclaim_counts_as_free(tmp_path):
    from nbgpu.base.memory import cgroup_headroom
    root, membership = fake_cgroups(tmp_path, "0::/job\n", {
        "cgroup.controllers": "memory", "job/memory.max": str(1 << 30), "job/memory.current": str(900 << 20),
        "job/memory.stat": f"anon 100\ninactive_file {800 << 20}\nactive_file 5\n"})
    assert cgroup_headroom(root, membership) == (1 << 30) - (100 << 20)


def test_the_memory_check_takes_the_cgroup_limit(monkeypatch):
    from nbgpu.base import memory
    monkeypatch.setattr(memory, "meminfo_available", lambda: 64 << 30)
    monkeypatch.setattr(memory, "cgroup_headroom", lambda: 1 << 30)
    with pytest.raises(InputError, match="only 1.0 GiB of memory is available"):
        memory.check_allocation(2 << 30, "the image", "smaller")

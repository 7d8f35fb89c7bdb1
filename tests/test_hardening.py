"""Unattended runs: interrupted, concurrent, read-only caches, very large counts."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import LOCAL_SUITE, read_maybe_gz, run_cli
from nbgpu.io import read_fdump

LONG = ("-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 512 -pixel 0.2 "
        "-oversample 6 -phi 0 -osc 1 -phisteps 400 -nonoise -noprogress").split()
IMAGES = ("floatimage.bin", "intimage.img", "image.pgm", "noiseimage.img")


@pytest.mark.parametrize("signum,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_render_stops_promptly_and_leaves_no_file(signum, status, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "nbgpu", *LONG, "-backend", "c"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)                      # well into the render (it needs several seconds)
    assert process.poll() is None, "the render finished too quickly to be interrupted"
    sent = time.monotonic()
    process.send_signal(signum)
    process.wait(timeout=30)
    assert time.monotonic() - sent < 3.0
    assert process.returncode == status
    assert "no image file was left half-written" in process.stderr.read()
    assert sorted(os.listdir(tmp_path)) == []


def test_concurrent_runs_never_leave_a_corrupt_dump(tmp_path):
    (tmp_path / "p1.hkl").write_bytes(read_maybe_gz(LOCAL_SUITE / "inputs" / "p1_small.hkl"))
    args = ("-cell 30 30 30 90 90 90 -hkl p1.hkl -N 5 -distance 60 -detpixels 32 -nonoise -noprogress "
            "-backend c").split()
    runs = [subprocess.Popen([sys.executable, "-m", "nbgpu", *args, "-floatfile", f"f{n}.bin"], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(4)]
    assert [r.wait(timeout=120) for r in runs] == [0] * 4
    dump = read_fdump(tmp_path / "Fdump.bin", lambda text: None)
    reference = read_maybe_gz(LOCAL_SUITE / "cases" / "rotation_phi_osc_phisteps" / "Fdump.bin")
    assert (tmp_path / "Fdump.bin").read_bytes() == reference and dump.hkls > 0
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write in a read-only folder")
def test_a_read_only_dump_folder_is_only_a_warning(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (tmp_path / "p1.hkl").write_bytes(read_maybe_gz(LOCAL_SUITE / "inputs" / "p1_small.hkl"))
    cache.chmod(0o500)
    try:
        result = run_cli(("-cell 30 30 30 90 90 90 -hkl p1.hkl -N 5 -detpixels 16 -nonoise -dump "
                          "cache/Fdump.bin").split(), tmp_path)
    finally:
        cache.chmod(0o700)
    assert result.returncode == 0 and "WARNING: unable to open dump file: cache/Fdump.bin" in result.stdout
    assert (tmp_path / "floatimage.bin").exists()


def test_an_unwritable_dump_is_only_a_warning_even_for_root(tmp_path):
    """(A dump path inside a missing folder cannot be written by anyone.)"""
    (tmp_path / "p1.hkl").write_bytes(read_maybe_gz(LOCAL_SUITE / "inputs" / "p1_small.hkl"))
    result = run_cli(("-cell 30 30 30 90 90 90 -hkl p1.hkl -N 5 -detpixels 16 -nonoise -dump "
                      "no/such/folder/Fdump.bin").split(), tmp_path)
    assert result.returncode == 0 and "WARNING: unable to open dump file" in result.stdout


@pytest.mark.parametrize("counts", [["-phi", "1", "-phistep", "0.0001", "-phisteps", "40000", "-osc", "4"],
                                    ["-mosaic", "0.5", "-mosaic_domains", "20000"]])
def test_very_large_counts_work(counts, tmp_path, monkeypatch):
    import nbgpu
    monkeypatch.chdir(tmp_path)
    result = nbgpu.simulate("-cell 30 30 30 90 90 90 -default_F 100 -N 3 -distance 60 -detpixels 4 "
                            "-pixel 2 -oversample 1".split() + counts, backend="c")
    sm = result.sampling
    assert sm.phisteps * sm.mosaic_domains in (40000, 20000)
    assert np.all(np.isfinite(result.image)) and result.image.max() > 0

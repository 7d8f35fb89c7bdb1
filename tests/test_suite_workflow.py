"""nanoBragg's README workflow with nbgpu's three commands: spots (nanoBragg), a water background
(nonBragg), their float32 sum, then noisify with a point-spread function and read-out noise.
The expected files in tests/data/workflow/ were made beforehand by the canonical programs
(bl831/nanoBragg, built with gcc -O2 -fopenmp) from the same command lines (steps.txt)."""
import subprocess
import sys

import numpy as np

from helpers import LOCAL_SUITE, read_maybe_gz

DATA = LOCAL_SUITE.parent / "data" / "workflow"
MODULES = {"nanoBragg": "nbgpu", "nonBragg": "nbgpu.cli.nonbragg", "noisify": "nbgpu.cli.noisify"}
EXPECTED = ("spots.bin", "spots.img", "water.bin", "water.img", "quiet.img", "final.img")


def run(line: str, cwd):
    program, *args = line.split()
    done = subprocess.run([sys.executable, "-m", MODULES[program], *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"{program}: {done.stderr}"
    return done


def test_spots_water_and_noise_give_the_canonical_files(tmp_path):
    (tmp_path / "A.mat").write_bytes((LOCAL_SUITE / "inputs" / "A.mat").read_bytes())
    (tmp_path / "p1_small.hkl").write_bytes(read_maybe_gz(LOCAL_SUITE / "inputs" / "p1_small.hkl"))
    (tmp_path / "water_short.stol").write_bytes((DATA / "water_short.stol").read_bytes())
    spots, water, noise = (DATA / "steps.txt").read_text().splitlines()
    run(spots, tmp_path)
    run(water, tmp_path)
    total = np.fromfile(tmp_path / "spots.bin", np.float32) + np.fromfile(tmp_path / "water.bin", np.float32)
    total.astype(np.float32).tofile(tmp_path / "total.bin")
    log = run(noise, tmp_path).stdout
    assert "photons on noise image (0 overloads)" in log
    for name in EXPECTED:
        assert (tmp_path / name).read_bytes() == read_maybe_gz(DATA / name), name

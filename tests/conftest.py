"""Shared test helpers: where the golden cases are, how to run the CLI on one, how to compare."""
import gzip
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent
LOCAL_SUITE = TESTS / "golden"
SHARED = TESTS.parents[1] / "shared"          # ../shared beside the checkout (CI has it)
SHARED_SUITE = SHARED / "golden"


def read_maybe_gz(path: Path) -> bytes | None:
    if path.exists():
        return path.read_bytes()
    gz = path.with_name(path.name + ".gz")
    return gzip.decompress(gz.read_bytes()) if gz.exists() else None


def case_dirs(suite: Path = LOCAL_SUITE) -> list[Path]:
    return sorted(p for p in (suite / "cases").iterdir() if (p / "args").exists())


def run_cli(args, cwd, env_extra=None, timeout=600) -> subprocess.CompletedProcess:
    """`python -m nbgpu args` in cwd, as a user would run it."""
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "nbgpu", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def stage_case(case: Path, workroot: Path) -> Path:
    """A fresh working directory laid out like the suite, so ../../inputs/NAME resolves."""
    inputs = workroot / "inputs"
    if not inputs.exists():
        inputs.mkdir(parents=True)
        for f in (case.parents[1] / "inputs").iterdir():
            name = f.name.removesuffix(".gz")
            (inputs / name).write_bytes(read_maybe_gz(f.with_name(name)))
    work = workroot / "cases" / case.name
    work.mkdir(parents=True)
    if (case / "pre").is_dir():
        for f in (case / "pre").iterdir():
            name = f.name.removesuffix(".gz")
            (work / name).write_bytes(read_maybe_gz(f.with_name(name)))
    return work


def case_args(case: Path) -> list[str]:
    return shlex.split((case / "args").read_text().strip())


def float_image(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<f4")


def smv_pixels(data: bytes) -> tuple[dict, np.ndarray]:
    end = data.index(b"}")
    header = dict(re.findall(r"([A-Z_0-9]+)=([^;\n]*)", data[:end].decode("ascii")))
    width, height = int(header["SIZE1"]), int(header["SIZE2"])
    pixels = np.frombuffer(data, dtype="<u2", count=width * height, offset=int(header["HEADER_BYTES"]))
    return header, pixels


def stdout_without_pointers(text: str) -> list[str]:
    """stdout lines, minus nanoBragg's 'mmap(...) = 0x...' lines (a memory address)."""
    return [line for line in text.splitlines() if not line.startswith("mmap(")]


def assert_same_outputs(case: Path, work: Path):
    """Every reference output of the case against ours (golden README's tolerances)."""
    ref = read_maybe_gz(case / "floatimage.bin")
    if ref is not None:
        a, b = float_image(ref).astype(np.float64), float_image((work / "floatimage.bin").read_bytes())
        assert a.shape == b.shape
        scale = np.abs(a).max()
        assert np.all(np.abs(a - b) <= 1e-6 * scale + 1e-30), f"{case.name}: float image differs"
    for name in ("intimage.img", "noiseimage.img"):
        ref = read_maybe_gz(case / name)
        if ref is not None:
            (rh, rp), (gh, gp) = smv_pixels(ref), smv_pixels((work / name).read_bytes())
            assert rh == gh, f"{case.name}: {name} header differs"
            assert np.abs(rp.astype(int) - gp.astype(int)).max(initial=0) <= 1, f"{case.name}: {name} pixels"
    for name in ("image.pgm", "Fdump.bin"):
        ref = read_maybe_gz(case / name)
        if ref is not None:
            assert (work / name).read_bytes() == ref, f"{case.name}: {name} differs"


@pytest.fixture
def shared_suite():
    if not (SHARED_SUITE / "cases").is_dir():
        pytest.skip("../shared/golden is not beside this checkout")
    return SHARED_SUITE

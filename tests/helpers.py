"""Shared test helpers: where the golden cases are, how to run the CLI on one, how to compare,
the bad inputs, the C engine's build script."""
import gzip
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def within_tier(image, reference, rel, share) -> bool:
    """The golden suite's float-image test: at most `share` of the pixels (and at least one) off
    by more than `rel` of the reference's maximum."""
    reference = np.asarray(reference, dtype=np.float64)
    scale = np.abs(reference).max() or 1.0
    over = np.count_nonzero(np.abs(np.asarray(image, dtype=np.float64) - reference) > rel * scale)
    return over <= max(1, int(reference.size * share))


def within_exact_tier(image, reference) -> bool:
    """The exact tier: 1e-5 of the maximum, at most 1e-4 of the pixels over it."""
    return within_tier(image, reference, 1e-5, 1e-4)


def within_fast_tier(image, reference) -> bool:
    """The fast tier (single precision): 1e-3 of the maximum, at most 1e-3 of the pixels over it."""
    return within_tier(image, reference, 1e-3, 1e-3)


def build_script():
    """csrc/nbcore_build.py, the C engine's cffi build script (outside the package)."""
    import importlib.util
    path = TESTS.parent / "csrc" / "nbcore_build.py"
    spec = importlib.util.spec_from_file_location("nbcore_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- bad inputs (test_errors, test_sanitizers)

CELL = "-cell 30 30 30 90 90 90".split()
GEOMETRY = "-N 5 -distance 60 -detpixels 32 -pixel 0.4 -noprogress".split()
BASE = CELL + ["-default_F", "100"] + GEOMETRY
OUTPUTS = ("floatimage.bin", "intimage.img", "image.pgm", "noiseimage.img")


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path.name)


BAD_INPUTS = {
    # name: (args, files to create first {name: content}, text the error must contain)
    "missing_hkl": (["-hkl", "nope.hkl"] + BASE, {}, "-hkl nope.hkl: cannot open"),
    "missing_mat": (["-mat", "nope.mat", "-hkl", "t.hkl"] + GEOMETRY, {"t.hkl": "1 2 3 100\n"}, "-mat nope.mat"),
    "short_mat": (["-mat", "a.mat", "-default_F", "1"] + GEOMETRY, {"a.mat": "0.01 0.02\n"}, "-mat a.mat: expected 9"),
    "corrupt_dump": (CELL + GEOMETRY, {"Fdump.bin": b"1 2 garbage\n\x0c\x00"}, "-dump Fdump.bin: corrupt"),
    "truncated_dump": (CELL + GEOMETRY, {"Fdump.bin": b"0 1 0 1 0 1\n\x0c" + b"\0" * 20}, "corrupt Fdump"),
    "missing_sourcefile": (BASE + ["-sourcefile", "s.txt"], {}, "-sourcefile s.txt: cannot open"),
    "empty_sourcefile": (BASE + ["-sourcefile", "s.txt"], {"s.txt": "\n\n"}, "no sources"),
    "crlf_sourcefile": (BASE + ["-sourcefile", "s.txt"], {"s.txt": "-10 0 0\r\n"}, "wavelength 0"),
    "img_not_smv": (BASE + ["-img", "x.img"], {"x.img": "hello\n" * 100}, "-img x.img: does not look like"),
    "missing_mask": (BASE + ["-mask", "m.img"], {}, "-mask m.img: cannot open"),
    "mask_wrong_size": (BASE + ["-mask", "m.img", "-detpixels", "16"], "mask", "-mask m.img: mask is 72x60"),
    "missing_stol": (BASE + ["-stol", "x.stol"], {}, "-stol x.stol: cannot open"),
    "zero_distance": (BASE + ["-distance", "0"], {}, "-distance: value must be greater than 0"),
    "word_distance": (BASE + ["-distance", "far"], {}, "-distance: expected a number"),
    "nan_lambda": (BASE + ["-lambda", "nan"], {}, "-lambda: value must be finite"),
    "huge_detector": (BASE + ["-detpixels", "100000"], {}, "too large"),
    "huge_tables": (BASE + ["-osc", "10", "-phistep", "1e-8"], {}, "phi steps"),
    "bad_output_dir": (BASE + ["-floatfile", "no/such/dir/f.bin"], {}, "-floatfile no/such/dir/f.bin: cannot write"),
    "negative_adc_noise": (BASE + ["-adc", "-5"], {}, "-adc -5"),
    "garbage_hkl": (["-hkl", "g.hkl"] + BASE, {"g.hkl": "# a comment\n1 2 3 4\n"}, "not enough HKL indices"),
    "thick_last": (BASE + ["-detector_thick"], {}, "-detector_thick: missing value"),
    "N_last": (BASE + ["-N"], {}, "-N: missing value"),
    "no_structure_factors": (CELL + GEOMETRY, {}, "no structure factors"),
    "no_crystal": (["-default_F", "100"] + GEOMETRY, {}, "no crystal"),
}


# -- the tests of nbgpu.io ---------------------------------------------------------------------
DATA = TESTS / "data"
INPUTS = LOCAL_SUITE / "inputs"              # copies of the golden inputs


def golden_dir() -> Path:
    """The shared golden suite (a skip where it is absent)."""
    import pytest
    if not SHARED_SUITE.is_dir():
        pytest.skip(f"golden suite ({SHARED_SUITE}) not available")
    return SHARED_SUITE


def golden_bytes(path: Path) -> bytes:
    """A golden file, transparently read from NAME.gz when stored compressed."""
    data = read_maybe_gz(path)
    if data is None:
        raise FileNotFoundError(path)
    return data


def golden_files(name: str):
    """Every case directory that holds NAME (or NAME.gz)."""
    cases = sorted((golden_dir() / "cases").iterdir())
    return [c for c in cases if (c / name).exists() or (c / (name + ".gz")).exists()]


class Log:
    """Collects what a function prints through its log callable."""

    def __init__(self):
        self.parts = []

    def __call__(self, text):
        assert isinstance(text, str)
        self.parts.append(text)

    @property
    def text(self):
        return "".join(self.parts)


def concat(parts) -> bytes:
    return b"".join(bytes(np.ascontiguousarray(p).view(np.uint8)) if isinstance(p, np.ndarray)
                    else bytes(p) for p in parts)

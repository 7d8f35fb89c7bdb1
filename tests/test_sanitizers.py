"""The C engine built with AddressSanitizer and UndefinedBehaviorSanitizer (NBGPU_SANITIZE):
every copied golden case and the bad-input battery run through it with zero findings."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nbgpu
from helpers import BAD_INPUTS, LOCAL_SUITE, assert_same_outputs, build_script, case_args, case_dirs, stage_case

ROOT = Path(__file__).resolve().parents[1]


def runtime(name):
    found = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return found if os.path.isabs(found) and os.path.exists(found) else None


LIBS = [runtime("libasan.so"), runtime("libubsan.so")] if shutil.which("gcc") else [None]
pytestmark = pytest.mark.skipif(None in LIBS or not (ROOT / "csrc").is_dir(),
                                reason="needs gcc's sanitizer runtimes and the source tree")
SANITIZER_ENV = {"LD_PRELOAD": ":".join(filter(None, LIBS)),
                 "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:abort_on_error=0",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


@pytest.fixture(scope="module")
def sanitized(tmp_path_factory):
    """A copy of the installed package whose C engine is the sanitized build."""
    site = tmp_path_factory.mktemp("sanitized")
    shutil.copytree(Path(nbgpu.__file__).parent, site / "nbgpu",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    library = build_script().make_ffibuilder(absolute_paths=True, sanitize="address,undefined").compile(
        tmpdir=str(tmp_path_factory.mktemp("build")))
    shutil.copy(library, site / "nbgpu")
    return dict(os.environ, PYTHONPATH=str(site), **SANITIZER_ENV)


def run(args, cwd, env):
    return subprocess.run([sys.executable, "-m", "nbgpu", *args, "-backend", "c"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def no_findings(stderr):
    return "Sanitizer" not in stderr and "runtime error:" not in stderr


def test_the_sanitizer_is_live(sanitized, tmp_path):
    """A planted out-of-bounds read must be reported, or 'zero findings' would prove nothing."""
    canary = ("from nbgpu._nbcore import ffi, lib\np = ffi.new('nb_problem *')\n"
              "p.fpixels = p.spixels = 4\np.roi_xmax = p.roi_ymax = 3\np.oversample = 1\n"
              "lib.nb_image_stats(p, ffi.new('float[3]'), ffi.new('nb_stats *'))\n")
    result = subprocess.run([sys.executable, "-c", canary], cwd=tmp_path, env=sanitized,
                            capture_output=True, text=True)
    assert result.returncode != 0 and "AddressSanitizer: heap-buffer-overflow" in result.stderr


CASES = case_dirs()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_cases_have_no_sanitizer_findings(case, sanitized, tmp_path):
    work = stage_case(case, tmp_path)
    result = run(case_args(case), work, dict(sanitized, OMP_NUM_THREADS="2"))
    assert no_findings(result.stderr), result.stderr[-3000:]
    assert (result.returncode == 0) == (int((case / "exit_code").read_text()) == 0), result.stderr[-2000:]
    if result.returncode == 0:
        assert_same_outputs(case, work)


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_inputs_have_no_sanitizer_findings(name, sanitized, tmp_path):
    args, files, _ = BAD_INPUTS[name]
    if files == "mask":
        files = {"m.img": (LOCAL_SUITE / "inputs" / "mask.img").read_bytes()}
    for filename, content in files.items():
        (tmp_path / filename).write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run(args, tmp_path, sanitized)
    assert no_findings(result.stderr), result.stderr[-3000:]
    assert result.returncode == 9


NOISIFY_SUITE = ROOT.parent / "shared" / "golden-noisify"
NOISIFY_CASES = sorted(p for p in (NOISIFY_SUITE / "cases").iterdir() if (p / "args").exists()) \
    if (NOISIFY_SUITE / "cases").is_dir() else []


@pytest.mark.parametrize("case", NOISIFY_CASES, ids=[c.name for c in NOISIFY_CASES])
def test_noisify_cases_have_no_sanitizer_findings(case, sanitized, tmp_path):
    """noisify's noise, conversions and PSF (both threads) under the sanitizers, same bytes."""
    (tmp_path / "inputs").symlink_to(NOISIFY_SUITE / "inputs")
    work = tmp_path / "cases" / case.name
    shutil.copytree(case / "pre", work) if (case / "pre").is_dir() else work.mkdir(parents=True)
    result = subprocess.run([sys.executable, "-m", "nbgpu.cli.noisify", *case_args(case)], cwd=work,
                            env=dict(sanitized, OMP_NUM_THREADS="2"), capture_output=True, text=True, timeout=600)
    assert no_findings(result.stderr), result.stderr[-3000:]
    assert (result.returncode == 0) == (int((case / "exit_code").read_text()) == 0), result.stderr[-2000:]
    for name in {f.name for f in case.iterdir()} - {"args", "exit_code", "meta.json", "stdout.txt", "stderr.txt", "pre"}:
        assert (work / name).read_bytes() == (case / name).read_bytes(), name

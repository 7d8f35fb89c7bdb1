"""bench/gpu_check.sh's dry run on a machine without a GPU: every step runs with the C engine in
place of the CUDA one, within its budget; a step that runs out of time is reported as such, and
the two files that come back from a device (the summary and the tarball) are written all the
same.  (The GPU steps themselves run on a device machine.)"""
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from nbgpu.engine.select import cuda_unavailable

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu_check.sh"
STEPS = ("env", "install", "golden", "single", "engine", "bench", "sweep", "ncu")
pytestmark = pytest.mark.skipif(not cuda_unavailable(), reason="a GPU is here: the check would run its GPU steps")


def check(out, *options, status=0):
    done = subprocess.run(["bash", str(SCRIPT), str(out), *options], cwd=SCRIPT.parent.parent, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, PYTHON=sys.executable))
    assert done.returncode == status, done.stdout[-2000:] + done.stderr[-2000:]
    rows = {}
    for line in (out / "summary.txt").read_text().splitlines():
        words = line.split()
        if words and words[0] in STEPS and len(words) > 3 and words[2] == "s":
            rows[words[0]] = line
    return rows


def test_the_dry_run_reports_every_step_and_brings_back_two_files_even_after_a_timeout(tmp_path):
    out = tmp_path / "out"
    rows = check(out, "--budget", "golden=12", "--budget", "bench=5", "--budget", "sweep=8", "--frames", "500", status=1)
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.tar.gz", "summary.txt"]
    summary = (out / "summary.txt").read_text()
    assert "(dry run: -backend c in place of cuda)" in summary
    assert "budget: env 20 + install 45 + golden 12 + single 45 + engine 60 + bench 5 + sweep 8 + ncu 40 = 235 s, " \
           "within 540 s" in summary
    assert list(rows) == list(STEPS)
    # the golden tool is stopped in time to count what it did; 500 frames run out of time
    assert "failed (exit 1)" in rows["golden"] and "not run (time)" in rows["golden"]
    assert "timed out after 5 s" in rows["sweep"]
    assert " ok " in rows["single"] and "golden_single: 12/12 cases pass" in rows["single"]
    assert " ok " in rows["engine"] and "engine checks: all pass" in rows["engine"]
    assert "skipped" in rows["ncu"] and "dry run" in rows["ncu"]
    with tarfile.open(out / "gpu_check.tar.gz") as tar:
        names = {Path(name).name for name in tar.getnames()}
    assert {"summary.txt", "steps.txt", "env.log", "golden.log", "engine_check.json", "golden_single.json"} <= names


def test_only_reruns_the_steps_asked_for(tmp_path):
    out = tmp_path / "out"
    rows = check(out, "--only", "engine")
    assert " ok " in rows["env"] and " ok " in rows["install"] and " ok " in rows["engine"]
    for name in ("golden", "single", "bench", "sweep"):
        assert "not in --only" in rows[name]

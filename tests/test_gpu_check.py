"""bench/gpu_check.sh on a machine without a GPU: it runs end to end, says which steps it
skipped and why, and leaves its summary (the GPU steps themselves run on a device machine)."""
import os
import subprocess
from pathlib import Path

import pytest

from nbgpu.engines import cuda_unavailable

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "gpu_check.sh"
STEPS = ("env", "install", "pytest", "golden", "bench", "sweep", "ncu")


@pytest.mark.skipif(not cuda_unavailable(), reason="a GPU is here: the check would run its GPU steps")
def test_without_a_gpu_the_check_reports_the_gpu_steps_as_skipped(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(["bash", str(SCRIPT), str(out)], cwd=SCRIPT.parent.parent, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, NBGPU_CHECK_FORCE=""))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {line.split()[0]: line.split()[1] for line in (out / "steps.txt").read_text().splitlines()}
    assert rows == {"env": "ok", "install": "ok", **{name: "skipped" for name in STEPS[2:]}}
    summary = (out / "summary.txt").read_text()
    assert summary.count("no GPU: ") == 5 and all(name in summary for name in STEPS)
    assert "repository:" in summary and (out / "env.log").read_text().strip()

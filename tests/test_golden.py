"""The golden suite through the CLI: the copied cases always, the whole ../shared suite when present."""
import subprocess
import sys

import pytest

from helpers import (SHARED, assert_same_outputs, case_args, case_dirs, read_maybe_gz, run_cli,
                      stage_case, stdout_without_pointers)

CASES = case_dirs()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_matches_nanobragg(case, tmp_path):
    work = stage_case(case, tmp_path)
    result = run_cli(case_args(case), work)
    ref_code = int((case / "exit_code").read_text())
    assert (result.returncode == 0) == (ref_code == 0), result.stderr
    if ref_code != 0:
        # one clear line on stderr, no traceback, no image written
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("nbgpu: error:")
        assert not any(work.glob("*image*"))
        return
    assert_same_outputs(case, work)
    # the whole stdout log, line for line (nbgpu's warnings go to stderr)
    expected = stdout_without_pointers(read_maybe_gz(case / "stdout.txt").decode())
    assert stdout_without_pointers(result.stdout) == expected


def test_whole_shared_suite(shared_suite):
    """../shared's own tool over every public case, exact tier (supervisor_pilatus6m included)."""
    tool = SHARED / "tools" / "golden.py"
    result = subprocess.run([sys.executable, str(tool), "--cmd", f"{sys.executable} -m nbgpu"],
                            capture_output=True, text=True, timeout=3600)
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "cases pass" in result.stdout.splitlines()[-1]

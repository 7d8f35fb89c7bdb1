"""Bad input: one clear line on stderr naming the flag or file, a non-zero exit, no traceback,
no image file written."""
import os

import pytest

from helpers import BAD_INPUTS, OUTPUTS, LOCAL_SUITE, read_maybe_gz, run_cli, write


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gives_one_clear_line(name, tmp_path):
    args, files, expected = BAD_INPUTS[name]
    if files == "mask":
        files = {"m.img": read_maybe_gz(LOCAL_SUITE / "inputs" / "mask.img")}
    for filename, content in files.items():
        write(tmp_path / filename, content)
    result = run_cli(args, tmp_path)
    assert result.returncode == 9, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("nbgpu: error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not [f for f in OUTPUTS if (tmp_path / f).exists()]
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_usage_text_goes_to_stdout_with_exit_9(tmp_path):
    result = run_cli([], tmp_path)
    assert result.returncode == 9
    assert "usage:" in result.stdout and "ERROR: no hkl file and no dump file to read." in result.stdout


def test_version_and_help_use_the_modern_side(tmp_path):
    from nbgpu import __version__
    result = run_cli(["--version"], tmp_path)
    assert result.returncode == 0 and __version__ in result.stdout
    result = run_cli(["--help"], tmp_path)
    assert result.returncode == 0 and "nanoBragg" in result.stdout

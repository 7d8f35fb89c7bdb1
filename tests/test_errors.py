"""Bad input: one clear line on stderr naming the flag or file, a non-zero exit, no traceback,
no image file written."""
import os

import pytest

from conftest import LOCAL_SUITE, read_maybe_gz, run_cli

CELL = "-cell 30 30 30 90 90 90".split()
GEOMETRY = "-N 5 -distance 60 -detpixels 32 -pixel 0.4 -noprogress".split()
BASE = CELL + ["-default_F", "100"] + GEOMETRY
OUTPUTS = ("floatimage.bin", "intimage.img", "image.pgm", "noiseimage.img")


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path.name)


CASES = {
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


@pytest.mark.parametrize("name", CASES)
def test_bad_input_gives_one_clear_line(name, tmp_path):
    args, files, expected = CASES[name]
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

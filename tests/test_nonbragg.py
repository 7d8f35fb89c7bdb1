"""nonBragg: the shared golden suite through the command (byte for byte, stdout line for line),
the table interpolation against hand-computed values, a stage's numbers, the bad inputs."""
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import SHARED, case_args, read_maybe_gz, stage_case, stdout_without_pointers

SUITE = SHARED / "golden-nonbragg"
CASES = sorted(p for p in (SUITE / "cases").iterdir() if (p / "args").exists()) if (SUITE / "cases").is_dir() else []
ROOT = Path(__file__).resolve().parents[1]


def run_nonbragg(args, cwd, timeout=600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nbgpu.cli.nonbragg", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


def engine_note_only(stderr: str) -> bool:
    """Nothing on stderr but -backend auto's one line saying which engine renders."""
    lines = stderr.splitlines()
    return len(lines) <= 1 and all(line.startswith("nbgpu: rendering with the ") for line in lines)


def pgm_picture(data: bytes) -> tuple:
    """(header lines, the width*height picture bytes, the data length)."""
    head = data.split(b"\n", 4)
    width, height = (int(x) for x in head[1].split())
    return head[:4], head[4][:width * height], len(head[4])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_byte_for_byte(case, tmp_path):
    work = stage_case(case, tmp_path)
    result = run_nonbragg(case_args(case), work)
    ref_code = int((case / "exit_code").read_text())
    assert (result.returncode == 0) == (ref_code == 0), result.stderr
    if ref_code != 0:
        assert result.returncode == 9
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("nbgpu: error:")
        assert not [p for p in work.iterdir()]
        return
    assert engine_note_only(result.stderr), result.stderr
    meta = json.loads((case / "meta.json").read_text())
    for ref in case.iterdir():
        if ref.name in ("args", "exit_code", "meta.json", "stdout.txt", "stderr.txt", "pre"):
            continue
        got = (work / ref.name).read_bytes()
        if ref.suffix == ".pgm":
            assert pgm_picture(got) == pgm_picture(ref.read_bytes()), ref.name
        else:
            assert got == read_maybe_gz(ref), ref.name
    for name in meta.get("absent_outputs") or []:
        assert not (work / name).exists()
    expected = stdout_without_pointers(read_maybe_gz(case / "stdout.txt").decode())
    assert stdout_without_pointers(result.stdout) == expected


def test_whole_shared_suite():
    """../shared's own tool over every nonBragg case."""
    if not CASES:
        pytest.skip("../shared/golden-nonbragg is not beside this checkout")
    cmd = f"{sys.executable} -m nbgpu.cli.nonbragg"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, str(SHARED / "tools" / "golden.py"), "--suite", str(SUITE), "--cmd", cmd],
                            capture_output=True, text=True, timeout=3600, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "36/36 cases pass" in result.stdout.splitlines()[-1]


def test_interpolation_matches_hand_computed_values(tmp_path):
    """F = 1 + 100 stol^2 tabulated at 0, 0.1 ... 0.4 1/A: the 4-point interpolation of a
    quadratic is the quadratic, so -Fmap pixels are 1 + 100 stol^2 at each pixel's stol."""
    (tmp_path / "q.stol").write_text("".join(f"{s / 10:g} {1 + 100 * (s / 10) ** 2:g}\n" for s in range(5)))
    result = run_nonbragg(["-stol", "q.stol", "-Fmap", "-printout", "-detpixels", "8", "-pixel", "8",
                           "-distance", "100", "-nonoise"], tmp_path)
    assert result.returncode == 0, result.stderr
    image = np.fromfile(tmp_path / "floatimage.bin", dtype=np.float32).reshape(8, 8)
    found = re.findall(r"^ *(\d+) +(\d+) : stol = (\S+) or", result.stdout, re.M)
    assert len(found) == 64
    checked = 0
    for f, s, stol in found:
        stol_A = float(stol) / 1e10
        if 0.1 < stol_A < 0.2:             # a window of four real table rows (0 ... 0.3)
            # stol is printed with 6 digits: F to about 1e-5
            assert image[int(s), int(f)] == pytest.approx(1 + 100 * stol_A ** 2, rel=1e-4)
            checked += 1
    assert checked > 10


def test_table_is_padded_as_nonbragg_pads_it():
    from nbgpu.setup.nonbragg import table
    from nbgpu.setup.nonbragg_flags import TABLE
    f, _ = TABLE.parse(["-4stol", "t.stol"])
    rows = [[0.4, math.nan], [0.8, 3.0], [1.2, -2.0], [1.6, math.nan]]
    t, told = table(f, rows)
    assert t.count == 8 and t.stol[:8] == (-1e99, -1e98, 1e9, 2e9, 3e9, 4e9, 1e98, 1e99)
    assert t.F[:8] == (3.0, 3.0, 0.0, 3.0, -2.0, 0.0, -2.0, -2.0)   # missing F: 0; ends: first and last given F
    assert t.monotonic and all(math.isnan(x) for x in t.stol[8:])


def test_sample_stage_numbers():
    """-molecules overrides the density; the beam clips the sample's height and width."""
    from nbgpu.setup.nonbragg import AVOGADRO, sample
    from nbgpu.setup.nonbragg_flags import TABLE
    f, _ = TABLE.parse("-stol x -samplesize 1 -molecules 2.5e16 -MW 28.8 -beamsize 0.5".split())
    s, told = sample(f)
    assert s.size == (1e-3, 5e-4, 5e-4) and s.volume == 1e-3 * 5e-4 * 5e-4
    assert s.density == 2.5e16 / s.volume / AVOGADRO * 28.8
    assert s.molecules == s.volume * s.density * AVOGADRO / 28.8
    assert told.lines == ("WARNING: clipping sample (0.001 m high) with beam (0.0005 m)\n",
                          "WARNING: clipping sample (0.001 m wide) with beam (0.0005 m)\n")


def test_detector_defaults_and_collisions():
    """Near point half a pixel off centre; the last pivot flag wins; -twotheta_axis also sets
    -twotheta and -printout_pixel also -printout (substrings)."""
    from nbgpu.setup.nonbragg import geometry
    from nbgpu.setup.nonbragg_flags import TABLE
    f, _ = TABLE.parse("-detsize 25.6".split())
    g, told = geometry(f)
    assert (g.fpixels, g.spixels) == (256, 256) and told.lines == ("pivoting detector around direct beam spot\n",)
    assert g.Xbeam == pytest.approx((25.6e-3 - 1e-4) / 2) and g.Ybeam == pytest.approx((25.6e-3 + 1e-4) / 2)
    f, _ = TABLE.parse("-close_distance 90 -distance 80".split())
    assert f.distance == 0.08 and f.close_distance == 0.09 and f.detector_pivot == "beam"
    f, _ = TABLE.parse("-twotheta_axis 0 0 1".split())
    assert f.twotheta_axis == (0.0, 0.0, 1.0) and f.detector_twotheta == 0.0 and f.detector_pivot == "sample"
    f, _ = TABLE.parse("-printout_pixel 3 4".split())
    assert f.printout and (f.printout_fpixel, f.printout_spixel) == (3, 4)


def test_progress_lines_follow_nonbraggs_rule():
    from nbgpu.run.nonbragg import progress_lines
    total = 200
    expected = ["%d%% done\n" % (n * 100 // total) for n in range(total)
                if n % (total // 20) == 0 or ((10 * n < total or 10 * n > 9 * total) and n % (total // 100) == 0)]
    assert progress_lines(0, 77, total) + progress_lines(77, total, total) == expected
    assert progress_lines(0, 99, 99) == []


STOL = "0 2\n0.5 1\n"
BAD = {
    "img_missing": (["-img", "nothing.img"], "-img nothing.img"),
    "img_not_smv": (["-img", "t.stol"], "-img t.stol"),
    "pixel_zero": (["-pixel", "0"], "-pixel"),
    "zero_volume_molecules": (["-samplesize", "0", "-molecules", "1e10"], "-molecules"),
    "stol_missing": (["-stol", "missing.stol"], "-stol missing.stol"),
    "sourcefile_empty": (["-sourcefile", "empty.txt"], "-sourcefile empty.txt"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_one_line_exit_9_no_file(name, tmp_path):
    (tmp_path / "t.stol").write_text(STOL)
    (tmp_path / "empty.txt").write_text("\n")
    extra, named = BAD[name]
    args = ["-stol", "t.stol", "-detpixels", "8", "-noprogress"] + extra
    result = run_nonbragg(args, tmp_path)
    assert result.returncode == 9
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("nbgpu: error: ")
    assert named in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.txt", "t.stol"]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
def test_cuda_kernel_compiles(tmp_path):
    """nb_amorphous.cu (the physics header on the GPU) builds for Hopper with --fmad=false (its
    own products and sums stay separate; CUDA's sin/cos/atan2 use fused operations inside), its
    quotients and roots IEEE-rounded, as in the C."""
    kernels = ROOT / "nbgpu" / "engine" / "kernels"
    ptx = tmp_path / "nb_amorphous.ptx"
    result = subprocess.run([shutil.which("nvcc"), "--ptx", "-arch=sm_90", "--fmad=false", "-I", str(kernels),
                             "-o", str(ptx), str(kernels / "nb_amorphous.cu")], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    text = ptx.read_text()
    assert "nba_render_pixels" in text and "div.rn.f64" in text and "sqrt.rn.f64" in text


def test_c_table_reader_reads_as_the_python_one(tmp_path):
    """nonBragg's tables are read by csrc/nb_text.c (the C library's atof): the same rows as
    io.text's reader of nanoBragg's, on awkward lines."""
    from nbgpu.io.text import read_text_columns, read_text_rows
    lines = ["0 1\n", "  \t\n", "# comment\n", "1e-3,2;3:4!5 6\n", "7\r\n", ".5 -2.5e+1 x 9\n", "inf nan\n",
             "0x1p3 1g2\n", "-\n", "3 4 5 6 7 8 9\n", ", 1\n", "9 " * 6000 + "\n", "12 13"]
    path = tmp_path / "t.txt"
    path.write_text("".join(lines))
    for ncols in (1, 2, 5):
        a, b = read_text_rows(path, ncols, "-stol"), read_text_columns(path, ncols, "-stol")
        assert np.array_equal(np.array(a), np.array(b), equal_nan=True)
        assert len(a) == len(lines) - 1 + 1   # the blank line is skipped, the long one is two


def test_run_returns_the_image_it_writes(tmp_path, monkeypatch):
    """run.nonbragg.nonbragg_argv: the float image as numpy, the printed statistics, the files."""
    from nbgpu.run.nonbragg import nonbragg_argv
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.stol").write_text(STOL)
    said, warned = [], []
    result = nonbragg_argv("-stol t.stol -detpixels 12 -pixel 2 -distance 50 -seed 4 -noprogress".split(),
                           lambda text, flush=False: said.append(text), warned.append)
    assert result.image.shape == (12, 12) and warned == []
    assert np.array_equal(result.image.reshape(-1), np.fromfile("floatimage.bin", dtype=np.float32))
    assert result.files == ("floatimage.bin", "intimage.img", "image.pgm", "noiseimage.img")
    assert "mean= %g rms=" % result.stats["mean"] in "".join(said)

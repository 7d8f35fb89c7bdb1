"""noisify: the shared golden suite through the command (byte for byte, and with golden.py),
noise sequences against numbers from the canonical program, the point-spread function, and the
bad inputs it refuses (one stderr line, exit status 9, no file)."""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import SHARED

REPO = Path(__file__).resolve().parents[1]
SUITE = SHARED / "golden-noisify"
COMMAND = [sys.executable, "-m", "nbgpu.cli.noisify"]
OWN_FILES = {"args", "exit_code", "meta.json", "stdout.txt", "stderr.txt", "pre"}


def noisify(args, cwd, threads=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.run(COMMAND + list(args), cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def suite_cases() -> list:
    if not (SUITE / "cases").is_dir():
        return []
    return sorted(p for p in (SUITE / "cases").iterdir() if (p / "args").exists())


def stage(case: Path, root: Path) -> Path:
    if not (root / "inputs").exists():
        (root / "inputs").symlink_to(SUITE / "inputs")
    work = root / "cases" / case.name
    work.mkdir(parents=True)
    if (case / "pre").is_dir():
        for f in (case / "pre").iterdir():
            shutil.copy(f, work / f.name)
    return work


CASES = suite_cases()


@pytest.mark.skipif(not CASES, reason="../shared/golden-noisify is not beside this checkout")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_byte_for_byte(case, tmp_path):
    work = stage(case, tmp_path)
    pre = {f.name for f in (case / "pre").iterdir()} if (case / "pre").is_dir() else set()
    result = noisify(shlex.split((case / "args").read_text()), work)
    expected_code = int((case / "exit_code").read_text())
    written = {f.name for f in work.iterdir()} - pre
    if expected_code != 0:
        assert result.returncode == 9
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("nbgpu: error: ")
        assert written == set()
        return
    assert result.returncode == 0, result.stderr
    assert result.stdout == (case / "stdout.txt").read_text()
    assert result.stderr == ""
    assert written == {f.name for f in case.iterdir()} - OWN_FILES
    for name in written:
        assert (work / name).read_bytes() == (case / name).read_bytes(), name


@pytest.mark.skipif(not CASES, reason="../shared/golden-noisify is not beside this checkout")
def test_golden_tool_passes():
    tool = SHARED / "tools" / "golden.py"
    command = f"env PYTHONPATH={REPO} {sys.executable} -m nbgpu.cli.noisify"
    result = subprocess.run([sys.executable, str(tool), "--suite", str(SUITE), "--cmd", command],
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:]


# -- numbers from the canonical noisify (gcc -O2) on a 8x4 image of 20, 3, 0.5 and 150 photons

IMAGE = np.array([[20.0, 3.0, 0.5, 150.0] * 2] * 4, np.float32)
REFERENCE = {
    "-seed 7": ([62, 43, 41, 195, 61, 43, 40, 188, 56, 42, 40, 170, 61, 41, 41, 203,
                 58, 49, 40, 192, 57, 41, 40, 185, 62, 43, 40, 212, 69, 43, 41, 158], "1377 photons"),
    "-seed 7 -calibration 0": ([62, 43, 42, 184, 58, 41, 40, 178, 61, 41, 40, 182, 55, 44, 40, 194,
                                54, 43, 41, 183, 58, 43, 42, 184, 60, 41, 40, 189, 61, 43, 40, 174], "1321 photons"),
    "-seed 7 -flicker 0.1 -readout 2": ([49, 43, 46, 169, 61, 41, 44, 190, 70, 41, 42, 204, 53, 38, 40, 202,
                                         56, 44, 42, 184, 66, 46, 41, 209, 62, 44, 38, 160, 56, 41, 40, 171],
                                        "1355 photons"),
    "-seed 7 -psf gauss -psf_fwhm 150 -bits 32": ([49, 45, 65, 109, 73, 46, 65, 107, 75, 47, 69, 123, 80, 47, 72,
                                                   127, 83, 48, 72, 129, 82, 47, 70, 120, 79, 46, 68, 118, 78,
                                                   47, 61, 96], "adding back 0.0210114 lost photons"),
}


@pytest.mark.parametrize("args", sorted(REFERENCE))
def test_noise_sequence_matches_the_canonical_program(args, tmp_path):
    IMAGE.tofile(tmp_path / "in.bin")
    result = noisify(["-floatfile", "in.bin", "-detpixels_x", "8"] + args.split(), tmp_path)
    assert result.returncode == 0, result.stderr
    words, line = REFERENCE[args]
    data = (tmp_path / "noiseimage.img").read_bytes()
    dtype = np.uint32 if b"TYPE=long_integer" in data[:512] else np.uint16
    assert list(np.frombuffer(data, dtype, offset=512)) == words
    assert line in result.stdout


def test_rng_shared_between_seeds_and_seed_zero_is_one():
    """One shuffle table for every seed: -seed 0 and -seed 1 give the same image."""
    from nbgpu._nbcore import ffi
    from nbgpu.base.rng import Rng
    images = []
    for seed in (0, -1):
        photons = ffi.new("float[]", [20.0, 3.0, 150.0, 0.5] * 8)
        total, _, _ = Rng().noise_photons(photons, 32, 0.0, 0.03, seed, 123456789)
        images.append((list(photons), total))
    assert images[0] == images[1]


# -- the point-spread function

def test_gauss_kernel_is_normalised_and_symmetric():
    from nbgpu._nbcore import ffi
    from nbgpu.engine import noise
    kernel = np.frombuffer(ffi.buffer(noise.psf_kernel(12, "gauss", 2.5)), np.float64).reshape(25, 25)
    assert abs(kernel.sum() - 1.0) < 1e-9
    assert np.allclose(kernel, kernel.T, rtol=1e-9, atol=1e-15)
    assert np.allclose(kernel, kernel[::-1, ::-1], rtol=1e-9, atol=1e-15)
    assert kernel[12, 12] == kernel.max()


def test_fiber_kernel_holds_what_the_lost_photons_do_not():
    from nbgpu._nbcore import ffi
    from nbgpu.engine import noise
    radius, fwhm = 40, 1.5
    g = fwhm * 0.652383013252053
    kernel = np.frombuffer(ffi.buffer(noise.psf_kernel(radius, "fiber", fwhm)), np.float64)
    assert abs(kernel.sum() + g / np.hypot(g, radius) - 1.0) < 2e-2


def test_spread_keeps_the_photons_and_the_threads_change_nothing(tmp_path):
    from nbgpu._nbcore import ffi
    from nbgpu.engine import noise
    image = np.zeros((30, 20), np.float32)
    image[10, 10] = 1000.0
    out, lost = noise.spread(image, 20, 30, "gauss", 3.0, 0, 20, "test")
    out = np.frombuffer(ffi.buffer(out), np.float32).reshape(30, 20)
    assert abs(out.astype(np.float64).sum() - 1000.0) < 0.05 and lost > 0   # the lost photons are estimated
    image[10, 10], image[15, 19] = 0.0, 500.0   # the right edge: x == width lands on the next row
    out, lost = noise.spread(image, 20, 30, "gauss", 3.0, 0, 20, "test")
    out = np.frombuffer(ffi.buffer(out), np.float32).reshape(30, 20)
    assert out[16, 0] > 10 * out[16, 1]
    IMAGE.tofile(tmp_path / "in.bin")
    outputs = []
    for threads in (1, 2):
        result = noisify(["-floatfile", "in.bin", "-detpixels_x", "8", "-seed", "3", "-psf", "fiber",
                          "-psf_fwhm", "300"], tmp_path, threads)
        assert result.returncode == 0, result.stderr
        outputs.append((tmp_path / "noiseimage.img").read_bytes())
    assert outputs[0] == outputs[1]


# -- bad input: one line on stderr naming the flag or file, exit status 9, no file written

BAD = {
    "no input": ([], "no input image"),
    "missing input": (["-floatfile", "nope.bin"], "nope.bin"),
    "short input": (["-floatfile", "in.bin", "-detpixels", "100"], "in.bin"),
    "empty input": (["-floatfile", "empty.bin"], "empty.bin"),
    "-psf last": (["-floatfile", "in.bin", "-psf"], "-psf"),
    "-header missing": (["-floatfile", "in.bin", "-header", "nope.img"], "-header nope.img"),
    "-header not SMV": (["-floatfile", "in.bin", "-header", "big.bin"], "-header big.bin"),
    "gauss radius of a faint pixel": (["-floatfile", "faint.bin", "-nonoise", "-psf", "gauss"], "-psf gauss"),
    "flag holding floatimage.bin": (["-floatfile", "in.bin", "-xfloatimage.bin"], "floatimage.bin"),
    "bad number": (["-floatfile", "in.bin", "-gain", "lots"], "-gain"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_refused_in_one_line(name, tmp_path):
    IMAGE.tofile(tmp_path / "in.bin")
    (tmp_path / "empty.bin").write_bytes(b"")
    np.zeros(1000, np.float32).tofile(tmp_path / "big.bin")
    np.full((8, 8), 0.005, np.float32).tofile(tmp_path / "faint.bin")
    before = set(os.listdir(tmp_path))
    args, named = BAD[name]
    result = noisify(args, tmp_path)
    assert result.returncode == 9
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("nbgpu: error: ")
    assert named in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert set(os.listdir(tmp_path)) == before


def test_a_partial_input_reads_as_noisify_reads_it(tmp_path):
    """From `pixels` bytes on, noisify's fread fills the image from the file's bytes (a cut value
    included) and leaves the rest zero (checked with the canonical binary): the same files as the
    zero-padded input, exit 0, with a warning naming the file."""
    data = IMAGE.tobytes()
    cut = data[:2 * IMAGE.size + 3]
    args = ["-floatfile", "in.bin", "-detpixels_x", "8", "-detpixels_y", "4", "-seed", "5"]
    runs = {}
    for folder, content in (("part", cut), ("padded", cut + bytes(len(data) - len(cut)))):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "in.bin").write_bytes(content)
        runs[folder] = noisify(args, tmp_path / folder)
        assert runs[folder].returncode == 0, runs[folder].stderr
    assert f"-floatfile in.bin: {len(cut)} bytes" in runs["part"].stderr
    assert "zero" in runs["part"].stderr and runs["padded"].stderr == ""
    for name in ("intimage.img", "noiseimage.img", "image.pgm"):
        assert (tmp_path / "part" / name).read_bytes() == (tmp_path / "padded" / name).read_bytes(), name


def test_python_api_gives_the_command_s_images(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from nbgpu.run.noisify import noisify_image
    result = noisify_image(IMAGE.astype(np.float64), seed=7, write=None)
    assert result.noise_array().ravel().tolist() == REFERENCE["-seed 7"][0]
    assert result.noiseless_array().shape == (4, 8) and result.files[0][0] == "intimage.img"
    lines = []
    result = noisify_image(IMAGE, seed=7, psf="gauss", psf_fwhm=150, bits=32, write=None, log=lines.append)
    assert result.noise_array().dtype == np.uint32
    assert result.noise_array().ravel().tolist() == REFERENCE["-seed 7 -psf gauss -psf_fwhm 150 -bits 32"][0]
    assert "adding back 0.0210114 lost photons\n" in lines
    assert not list(tmp_path.iterdir())


NOISIFY_FLAGS = ("-floatfile -floatimage -bin -detpixels -detpixels_x -detpixels_y -detsize -detsize_x -detsize_y "
                 "-pixel -distance -lambda -Xbeam -Ybeam -phi -osc -header -scale -fluence -gain -adc "
                 "-readout_noise -readnoise -readout -flicker -calibration -seed -calib_seed -badpix_seed "
                 "-hotpix_seed -psf -psf_fwhm -psf_sigma -psf_width -psf_radius -bits -intfile -intimage "
                 "-noisefile -noiseimage -pgmfile -pgmimage -nonoise -nopgm").split()


def test_each_documented_flag_fires_one_branch_only():
    """noisify's own names collide nowhere (-calib_seed is not -seed, -psf_radius not -psf)."""
    from nbgpu.setup.noisify import TABLE
    for name in NOISIFY_FLAGS:
        assert len(TABLE.rules_matching(name)) == 1, name


def test_floatimage_bin_anywhere_is_the_input():
    from nbgpu.setup.noisify import parse
    flags, warnings, named = parse(["-floatfile", "a.bin", "-intfile", "my_floatimage.bin", "-seed", "3"])
    assert named and flags.floatfilename == "my_floatimage.bin" and flags.intfilename == "my_floatimage.bin"
    assert warnings == [] and flags.seed == -3
    flags, _, _ = parse(["floatimage.bin", "-bin", "b.bin"])
    assert flags.floatfilename == "b.bin"


def test_noise_and_spread_is_the_draws_then_the_spreading():
    """nb_noise_psf (each row spread as it is drawn: on the draws' own thread at one thread, on a
    second one otherwise; small disks inside the image unrolled, the others row by row or column
    by column) gives the counts of the draws and the image of nb_psf_apply on them, to the bit:
    narrow and wide images, faint and bright pixels, user radii of both signs."""
    from nbgpu._nbcore import ffi
    from nbgpu.base.rng import Rng
    from nbgpu.engine import noise
    rng = np.random.default_rng(21)
    for trial, (h, w) in enumerate([(40, 37), (9, 5), (64, 64), (23, 3), (50, 120)]):
        expected = rng.uniform(0.5, 6.0, (h, w)).astype(np.float32)
        expected[rng.random((h, w)) > 0.95] = 3000.0          # radii above the unrolled disks
        expected[:, -1] += 200.0                               # x == xpixels onto the next row
        kind, fwhm, user = ("gauss", "fiber")[trial % 2], (1.0, 2.5, 0.4, 1.0, 3.0)[trial], (0, 0, 2, -2, 6)[trial]
        counts = ffi.new("float[]", w * h)
        out16, out32 = ffi.new("unsigned short[]", w * h), ffi.new("unsigned int[]", w * h)
        out, total, lost, reach, seed, made = noise.noise_and_spread(
            Rng(), ffi.from_buffer("float[]", expected), counts, w, h, 0.0, 0.03, -5, 123456789, kind, fwhm, user, "t",
            (1.5, 40.0, 16, out16, out32))
        again = ffi.new("float[]", w * h)
        total2, seed2, _ = Rng().noise_photons(ffi.from_buffer("float[]", expected), w * h, 0.0, 0.03, -5, 123456789,
                                               again)
        assert bytes(ffi.buffer(counts)) == bytes(ffi.buffer(again)) and (total, seed) == (total2, seed2)
        spread, lost2 = noise.spread(counts, w, h, kind, fwhm, user, max(reach, abs(user), 1), "t")
        assert bytes(ffi.buffer(out)) == bytes(ffi.buffer(spread)) and lost == lost2, (h, w, kind)
        # the noise image's words and sum, made in the same pass, are nb_noisy_adu's
        words16, words32 = ffi.new("unsigned short[]", w * h), ffi.new("unsigned int[]", w * h)
        image_sum, overloads, _ = Rng().noisy_adu(spread, w * h, 1.5, 40.0, 0.0, -5, 16, words16, words32)
        assert made == (image_sum, overloads)
        assert bytes(ffi.buffer(out16)) == bytes(ffi.buffer(words16))
        assert bytes(ffi.buffer(out32)) == bytes(ffi.buffer(words32))



def test_gathered_rows_are_the_scatter_s():
    """At one thread, rows whose every radius in reach is at most 3 are gathered (vector blocks,
    the edge columns pixel by pixel); a larger radius turns the run to the scatter from its start.
    Both give nb_psf_apply's image to the bit: faint and bright pixels, zeros, widths that leave
    a partial last block, a bright pixel on the first, a middle and the last row, user radii 1-3.
    At one and two threads, each in a process of its own (OpenMP reads its threads once)."""
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads,
                   PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and "gather ok" in done.stdout, done.stderr[-3000:]


def _gather_check():
    from nbgpu._nbcore import ffi
    from nbgpu.base.rng import Rng
    from nbgpu.engine import noise
    rng = np.random.default_rng(33)
    cases = [(40, 38, 1.0, 0, None), (37, 71, 1.0, 0, None), (29, 64, 0.7, 0, None), (33, 50, 1.0, 0, (16, 20)),
             (30, 45, 1.0, 0, (0, 3)), (31, 52, 1.0, 0, (30, 51)), (26, 40, 2.0, 2, None), (22, 39, 1.3, 1, None),
             (25, 44, 1.0, 3, None), (12, 38, 1.0, 0, None), (3, 40, 1.0, 0, None), (64, 200, 1.0, 0, None)]
    for h, w, fwhm, user, bright in cases:
        expected = rng.uniform(0.0, 6.0, (h, w)).astype(np.float32)
        expected[rng.random((h, w)) > 0.9] = 0.0
        expected[rng.random((h, w)) > 0.97] = 2000.0
        if bright is not None:
            expected[bright] = 1e9                         # a radius of 4 at a fwhm of 1
        counts = ffi.new("float[]", w * h)
        out16, out32 = ffi.new("unsigned short[]", w * h), ffi.new("unsigned int[]", w * h)
        out, total, lost, reach, seed, made = noise.noise_and_spread(
            Rng(), ffi.from_buffer("float[]", expected), counts, w, h, 0.0, 0.03, -9, 123456789, "gauss", fwhm, user,
            "t", (1.0, 40.0, 16, out16, out32))
        spread, lost2 = noise.spread(counts, w, h, "gauss", fwhm, user, max(reach, abs(user), 1), "t")
        assert bytes(ffi.buffer(out)) == bytes(ffi.buffer(spread)) and lost == lost2, (h, w, fwhm, user, bright)
        assert (reach > 3) == (bright is not None), (h, w, reach)
    import nbgpu
    print("gather ok", nbgpu.__file__)


if __name__ == "__main__":
    _gather_check()

"""The Python API of nonBragg and noisify (nbgpu.nonbragg, nbgpu.noisify) against their
commands, and the Simulator's background and detector noise."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nbgpu
from nbgpu.base.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
BASE = "-mat A.mat -hkl p1_small.hkl -N 4 -oversample 1 -detpixels 24 -pixel 0.4 -distance 100 -phisteps 2"
WATER = "-stol w.stol -detpixels 24 -pixel 0.4 -distance 100 -fluence 1e20 -seed 5"   # -seed: its noise file
STOL = "0 2.5\n0.2 3\n0.5 1\n"


def command(module, args, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result


def files_of(folder: Path, leave=()) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name not in leave}


@pytest.fixture
def stol(tmp_path, monkeypatch):
    """Three folders holding w.stol; the current directory is `api`."""
    for name in ("cmd", "api", "files"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "w.stol").write_text(STOL)
    monkeypatch.chdir(tmp_path / "api")
    return tmp_path


def test_nonbragg_gives_the_command_s_image_and_files(stol):
    command("nbgpu.cli.nonbragg", WATER.split(), stol / "cmd")
    expected = files_of(stol / "cmd", leave={"w.stol"})
    result = nbgpu.nonbragg(WATER)
    assert result.image.dtype == np.float32 and result.image.shape == (24, 24)
    assert result.image.tobytes() == expected["floatimage.bin"]
    assert os.listdir(".") == ["w.stol"]                      # no file without write_files
    keywords = nbgpu.nonbragg(stol="w.stol", detpixels=24, pixel=0.4, distance=100, fluence=1e20, seed=5)
    assert np.array_equal(keywords.image, result.image) and keywords.stats == result.stats
    os.chdir(stol / "files")
    written = nbgpu.nonbragg(WATER, write_files=True)
    assert files_of(stol / "files", leave={"w.stol"}) == expected
    assert set(written.files) == set(expected)


def test_nonbragg_verbose_prints_its_log(stol, capsys):
    nbgpu.nonbragg(WATER)
    assert capsys.readouterr().out == ""
    nbgpu.nonbragg(WATER, verbose=True)
    out = capsys.readouterr().out
    assert "solid angle subtended by detector" in out and "mean=" in out


@pytest.mark.parametrize("flags", ["-seed 7 -readout_noise 3", "-seed 11 -psf gauss -psf_fwhm 150 -bits 32",
                                   "-seed 5 -nonoise"])
def test_noisify_gives_the_command_s_images_and_files(stol, flags):
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 400, (20, 24))
    (stol / "cmd" / "in.bin").write_bytes(image.astype(np.float32).tobytes())
    command("nbgpu.cli.noisify", ["-floatfile", "in.bin", "-detpixels_x", "24", "-detpixels_y", "20", *flags.split()],
            stol / "cmd")
    expected = files_of(stol / "cmd", leave={"w.stol", "in.bin"})
    result = nbgpu.noisify(image, flags)            # float64, read as float32
    assert os.listdir(".") == ["w.stol"]
    width = 4 if "-bits 32" in flags else 2
    if "-nonoise" in flags:
        assert result.noise_array() is None and "noiseimage.img" not in expected
    else:
        noise = result.noise_array()
        assert noise.shape == (20, 24) and noise.dtype.itemsize == width
        assert expected["noiseimage.img"][-noise.nbytes:] == noise.tobytes()
    assert expected["intimage.img"][-image.size * width:] == result.noiseless_array().tobytes()
    os.chdir(stol / "files")
    nbgpu.noisify(image, flags, write_files=True)
    assert files_of(stol / "files", leave={"w.stol"}) == expected


def test_noisify_keywords_and_output_names(stol):
    image = np.full((8, 12), 50.0)
    words = nbgpu.noisify(image, "-seed 7 -readout_noise 3 -bits 32")
    keywords = nbgpu.noisify(image, seed=7, readout_noise=3, bits=32)
    assert np.array_equal(words.noise_array(), keywords.noise_array())
    assert not np.array_equal(keywords.noise_array(), nbgpu.noisify(image, seed=8, readout_noise=3,
                                                                    bits=32).noise_array())
    nbgpu.noisify(image, seed=7, intfile="i.img", noisefile="n.img", pgmfile="p.pgm", write_files=True)
    assert sorted(os.listdir(".")) == ["i.img", "n.img", "p.pgm", "w.stol"]


def test_noisify_header_copies_an_smv_header_of_the_image_s_size(stol):
    image = np.full((8, 12), 50.0)
    nbgpu.noisify(image, seed=7, intfile="head.img", nopgm=True, nonoise=True, distance=250, write_files=True)
    head = Path("head.img").read_bytes()[:512]
    result = nbgpu.noisify(image, seed=7, header="head.img", noisefile="n.img", write_files=True)
    assert Path("n.img").read_bytes()[:512] == head and b"DISTANCE=250" in head
    assert result.noise_array().shape == (8, 12)
    with pytest.raises(InputError, match="a 12x8 image, the array is 8x12"):
        nbgpu.noisify(image.T, seed=7, header="head.img")


@pytest.mark.parametrize("image, message", [
    ([[1.0, 2.0]], "got list"),
    (np.zeros(16), "got shape (16,)"),
    (np.zeros((2, 2, 2)), "got shape (2, 2, 2)"),
    (np.zeros((0, 4)), "got shape (0, 4)"),
    (np.zeros((2, 2), dtype=complex), "dtype complex128"),
])
def test_noisify_refuses_what_is_not_an_image(stol, image, message):
    with pytest.raises(InputError) as caught:
        nbgpu.noisify(image, seed=1)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert os.listdir(".") == ["w.stol"]


def test_bad_flags_are_one_input_error(stol):
    with pytest.raises(InputError, match="nope.stol"):
        nbgpu.nonbragg(stol="nope.stol", detpixels=8)
    with pytest.raises(InputError, match="-seed"):
        nbgpu.noisify(np.ones((4, 4)), seed="x")
    with pytest.raises(InputError, match="command line"):
        nbgpu.nonbragg(42)


def test_the_new_names_are_exported_without_numpy():
    code = ("import sys, nbgpu; assert {'nonbragg', 'noisify'} <= set(nbgpu.__all__); "
            "nbgpu.nonbragg, nbgpu.noisify; assert 'numpy' not in sys.modules")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


@pytest.fixture
def frames(work):
    (work / "w.stol").write_text(STOL)
    return work


def test_simulator_adds_the_background_and_noise(frames):
    sim = nbgpu.Simulator(BASE, background=WATER, detector_noise="-seed 40 -readout_noise 2")
    water = nbgpu.nonbragg(WATER).image
    frames_ = list(sim.sweep(frames=3, step=0.5))
    for i, frame in enumerate(frames_):
        assert frame.background.shape == frame.image.shape == (24, 24) and frame.total.dtype == np.float32
        assert np.array_equal(frame.background, water) and np.array_equal(frame.total, frame.image + water)
        assert frame.noise_seed == 40 + i                       # frame i: seed + i
        alone = nbgpu.noisify(frame.total, seed=40 + i, readout_noise=2)
        assert np.array_equal(frame.detector_noise.noise_array(), alone.noise_array())
    assert not np.array_equal(frames_[0].detector_noise.noise_array(), frames_[1].detector_noise.noise_array())
    assert frames_[0].background is frames_[2].background and not frames_[0].background.flags.writeable
    again = nbgpu.Simulator(BASE, background=WATER, detector_noise="-seed 40 -readout_noise 2")
    assert np.array_equal(next(again.sweep(frames=1, step=0.5)).detector_noise.noise_array(),
                          frames_[0].detector_noise.noise_array())
    # render(): seed + the frames noisified before, or noise_seed=
    assert sim.render(phi=0).noise_seed == 43
    chosen = sim.render(phi=0, osc=0.5, noise_seed=40)
    assert np.array_equal(chosen.detector_noise.noise_array(), frames_[0].detector_noise.noise_array())
    plain = nbgpu.simulate(BASE + " -phi 0 -osc 0.5")
    assert np.array_equal(chosen.image, plain.image) and plain.background is None and plain.total is None


def test_simulator_noise_alone_and_background_alone(frames):
    noisy = nbgpu.Simulator(BASE, detector_noise=["-seed", "3"]).render()
    assert noisy.background is None and np.array_equal(noisy.total, noisy.image)
    assert np.array_equal(noisy.detector_noise.noise_array(), nbgpu.noisify(noisy.image, seed=3).noise_array())
    quiet = nbgpu.Simulator(BASE, background=WATER).render()
    assert quiet.detector_noise is None and quiet.noise_seed is None
    assert np.array_equal(quiet.total, quiet.image + nbgpu.nonbragg(WATER).image)
    with pytest.raises(InputError, match="noise_seed"):
        nbgpu.Simulator(BASE).render(noise_seed=3)
    with pytest.raises(InputError, match="sweep: noise_seed="):
        next(nbgpu.Simulator(BASE, detector_noise="-seed 3").sweep(frames=2, step=1, noise_seed=4))
    with pytest.raises(InputError, match="noise_seed=: expected an integer"):
        nbgpu.Simulator(BASE, detector_noise="-seed 3").render(noise_seed=1.5)


def test_simulator_writes_only_the_noise_files_named(frames):
    before = set(os.listdir("."))
    nbgpu.simulate(BASE + " -nonoise", write_files=True)
    nanobragg = set(os.listdir(".")) - before                 # its images (and Fdump.bin)

    def written():
        names = set(os.listdir(".")) - before
        for name in names:
            os.remove(name)
        return names
    written()
    sim = nbgpu.Simulator(BASE, background=WATER, detector_noise="-seed 1")
    sim.render(write_files=True, nonoise=True)
    assert written() == nanobragg
    sim = nbgpu.Simulator(BASE, background=WATER, detector_noise="-seed 1 -noisefile noisy.img -nopgm")
    frame = sim.render(write_files=True, nonoise=True, noise_seed=1)
    data = (frames / "noisy.img").read_bytes()
    assert written() == nanobragg | {"noisy.img"}
    assert data[-24 * 24 * 2:] == frame.detector_noise.noise_array().tobytes()
    sim.render(nonoise=True)
    assert written() == set()


def test_simulator_refuses_a_background_of_another_size(frames):
    with pytest.raises(InputError) as caught:
        nbgpu.Simulator(BASE, background=WATER.replace("-detpixels 24", "-detpixels 32"))
    assert "32x32" in str(caught.value) and "24x24" in str(caught.value)
    sim = nbgpu.Simulator(BASE, background=WATER)
    with pytest.raises(InputError, match="24x24 pixels, the frames are 16x16"):
        sim.render(detpixels=16)
    with pytest.raises(InputError, match="-seed"):
        nbgpu.Simulator(BASE, detector_noise="-seed x")

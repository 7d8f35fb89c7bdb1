"""The Python API: the same images as the CLI, no files unless asked."""
import os

import numpy as np
import pytest

import nbgpu
from helpers import LOCAL_SUITE, read_maybe_gz
from nbgpu.errors import InputError

CASE = LOCAL_SUITE / "cases" / "cell_cubic_defaultF"


def reference():
    return np.frombuffer(read_maybe_gz(CASE / "floatimage.bin"), np.float32).reshape(64, 64)


def test_simulate_with_a_word_list_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = nbgpu.simulate((CASE / "args").read_text())
    assert result.image.shape == (64, 64) and result.image.dtype == np.float32
    assert np.array_equal(result.image, reference())
    assert os.listdir(tmp_path) == []
    assert result.stats["max_I"] == pytest.approx(1757.48, rel=1e-5)


def test_simulate_with_keywords(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = nbgpu.simulate(cell=(30, 30, 30, 90, 90, 90), default_F=100, N=5, lambda_=1.0,
                            distance=60, detpixels=64, pixel=0.4)
    assert np.array_equal(result.image, reference())
    ints = result.int_image()
    assert ints.dtype == np.uint16 and ints.max() == 55040        # 55000 + adc 40 at max_I


def test_simulate_can_write_nanobraggs_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nbgpu.simulate(cell=(30, 30, 30, 90, 90, 90), default_F=100, N=5, distance=60, detpixels=16,
                   pixel=0.4, nonoise=True, write_files=True)
    assert sorted(os.listdir(tmp_path)) == ["floatimage.bin", "image.pgm", "intimage.img"]


def test_simulate_raises_on_bad_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="-distance"):
        nbgpu.simulate(cell=(30, 30, 30, 90, 90, 90), default_F=100, distance=-1)


def test_verbose_prints_nanobraggs_log(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    nbgpu.simulate(cell=(30, 30, 30, 90, 90, 90), default_F=100, N=2, detpixels=8, verbose=True)
    assert "mosflm convention selected." in capsys.readouterr().out

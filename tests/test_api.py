"""The Python API: the same images as the CLI, no files unless asked."""
import os

import numpy as np
import pytest

import nbgpu
from helpers import LOCAL_SUITE, read_maybe_gz
from nbgpu.base.errors import InputError

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


def test_result_exposes_each_stage_record(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = nbgpu.simulate(cell=(30, 30, 30, 90, 90, 90), default_F=100, N=3, distance=60, detpixels=16,
                            pixel=0.4, phisteps=4, osc=1, mosaic=0.5, mosaic_domains=3)
    assert result.flags.distance == pytest.approx(0.06)
    assert (result.detector.fpixels, result.detector.spixels) == (16, 16)
    assert result.detector.frame.convention == "mosflm"
    assert result.sampling.phisteps == 4 and result.sampling.mosaic_domains == 3
    assert len(result.crystal.mosaic_umats) == 3 and result.crystal.N == (3.0, 3.0, 3.0)
    assert result.beam.sources == 1 and result.structure_factors is None
    assert result.setup.steps == result.beam.sources * 3 * 4 * result.setup.oversample ** 2


def test_the_lattice_record_carries_the_misset_angles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = nbgpu.simulate("-cell 30 40 50 80 90 100 -default_F 100 -N 3 -detpixels 16 -misset 10 20 30".split())
    assert [round(x * 180 / np.pi, 9) for x in result.crystal.lattice.misset_angles] == [10, 20, 30]


def test_stage_records_are_read_only_and_declared(tmp_path, monkeypatch):
    from nbgpu.base.records import Record

    monkeypatch.chdir(tmp_path)
    result = nbgpu.simulate(cell=(30, 30, 30, 90, 90, 90), default_F=100, N=2, detpixels=8)
    records = [result.setup, result.flags, result.detector, result.detector.frame, result.detector.frame.grid,
               result.beam, result.beam.exposure, result.sampling, result.crystal, result.crystal.lattice,
               result.crystal.size]
    for record in records:
        assert isinstance(record, Record)
        name = record.fields()[0]
        with pytest.raises(AttributeError):
            setattr(record, name, getattr(record, name))
        with pytest.raises(AttributeError):
            record.undeclared_extra = 1
        assert not hasattr(record, "__dict__")
    moved = result.sampling.replace(phisteps=7)
    assert moved.phisteps == 7 and result.sampling.phisteps == 1
    with pytest.raises(TypeError, match="no field"):
        result.sampling.replace(unknown=1)


def test_noise_images_continue_the_runs_generator(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    words = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 16 -pixel 0.4 -seed 7"
    first, second = nbgpu.simulate(words).noise_image(), nbgpu.simulate(words, write_files=True).noise_image()
    on_disk = np.fromfile(tmp_path / "noiseimage.img", np.uint16, offset=512).reshape(16, 16)
    assert np.array_equal(first, on_disk)               # same seed: the file's image
    assert not np.array_equal(second, on_disk)          # after the file: the generator's next draw


def test_the_api_is_reached_from_the_package_itself():
    """What a script uses is at nbgpu's top: the calls, the Simulator, the batch and Dask helpers,
    and the errors to catch (the tree below may move)."""
    from nbgpu.batch.cluster import render_frames
    from nbgpu.batch.main import run_batch
    from nbgpu.run.simulator import Simulator
    assert nbgpu.Simulator is Simulator and nbgpu.run_batch is run_batch and nbgpu.render_frames is render_frames
    assert nbgpu.InputError is InputError and issubclass(nbgpu.InputError, nbgpu.NbgpuError)
    with pytest.raises(nbgpu.NbgpuError):
        nbgpu.simulate("-cell 30 30 30 90 90 90 -detpixels 8 -N")
    with pytest.raises(AttributeError, match="no attribute 'simulation'"):
        nbgpu.simulation

"""The single-precision variant of the physics (what the CUDA engine's fast mode computes),
built for the CPU and checked against nanoBragg's double-precision images."""
import numpy as np
import pytest

import nbgpu
from helpers import LOCAL_SUITE, case_args, case_dirs, read_maybe_gz, stage_case

# measured worst error over the public golden cases: 2.7e-6 of the image maximum (docs/engines.md)
SINGLE_MAX_REL = 1e-5
CASES = [c for c in case_dirs() if read_maybe_gz(c / "floatimage.bin") is not None]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_single_precision_stays_within_its_documented_error(case, tmp_path, monkeypatch):
    work = stage_case(case, tmp_path)
    monkeypatch.chdir(work)
    reference = np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32).astype(np.float64)
    single = nbgpu.simulate(case_args(case), backend="c", precision="single").image.ravel()
    scale = np.abs(reference).max()
    assert np.all(np.isfinite(single))
    assert np.abs(single - reference).max() <= SINGLE_MAX_REL * scale + 1e-30


def test_single_precision_is_really_a_different_computation(tmp_path, monkeypatch):
    case = LOCAL_SUITE / "cases" / "mat_scaled_hkl_lambda"
    monkeypatch.chdir(stage_case(case, tmp_path))
    double = nbgpu.simulate(case_args(case), backend="c").image
    single = nbgpu.simulate(case_args(case), backend="c", precision="single").image
    assert not np.array_equal(double, single)
    assert np.array_equal(double.ravel(), np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32))

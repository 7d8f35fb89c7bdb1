"""The CUDA engine on a GPU: every copied golden case, double precision against the exact
tolerances and the C engine, single precision against the fast ones.  Skipped without a device."""
import numpy as np
import pytest

from helpers import assert_same_outputs, case_args, case_dirs, read_maybe_gz, run_cli, stage_case
from nbgpu.engine.select import cuda_unavailable

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(bool(cuda_unavailable()), reason="no CUDA device: " + cuda_unavailable())]
CASES = [c for c in case_dirs() if int((c / "exit_code").read_text()) == 0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cuda_double_matches_nanobragg_and_the_c_engine(case, tmp_path):
    work = stage_case(case, tmp_path / "cuda")
    result = run_cli(case_args(case) + ["-backend", "cuda"], work)
    assert result.returncode == 0, result.stderr
    assert_same_outputs(case, work)
    c_work = stage_case(case, tmp_path / "c")
    assert run_cli(case_args(case) + ["-backend", "c"], c_work).returncode == 0
    cuda = np.fromfile(work / "floatimage.bin", np.float32)
    c = np.fromfile(c_work / "floatimage.bin", np.float32)
    assert np.abs(cuda.astype(float) - c).max() <= 1e-6 * np.abs(c).max() + 1e-30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cuda_single_within_the_fast_tolerance(case, tmp_path):
    work = stage_case(case, tmp_path)
    result = run_cli(case_args(case) + ["-backend", "cuda", "-precision", "single"], work)
    assert result.returncode == 0, result.stderr
    reference = np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32).astype(float)
    single = np.fromfile(work / "floatimage.bin", np.float32)
    assert np.abs(single - reference).max() <= 1e-3 * np.abs(reference).max() + 1e-30


def test_auto_picks_the_gpu_and_says_so(tmp_path):
    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -detpixels 16 -nonoise".split()
    result = run_cli(args, tmp_path, env_extra={"NBGPU_AUTO_GPU_SECONDS": "0"})
    assert result.returncode == 0 and "rendering with the CUDA engine" in result.stderr
    small = run_cli(args, tmp_path)
    assert small.returncode == 0 and "rendering with the C engine" in small.stderr and "a small job" in small.stderr


def test_tiles_give_the_same_image(tmp_path):
    """A detector rendered in many small tiles (as when memory is short) is the same image."""
    from nbgpu.engine.cuda import CudaEngine
    from nbgpu.run.simulate import simulate_argv
    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 96 -interpolate -noprogress".split()
    quiet = lambda *a, **k: None
    whole = simulate_argv(args, quiet, quiet, write_files=False, engine=CudaEngine()).image
    tiled = CudaEngine()
    tiled.tile_pixels = 96 * 3
    assert np.array_equal(simulate_argv(args, quiet, quiet, write_files=False, engine=tiled).image, whole)

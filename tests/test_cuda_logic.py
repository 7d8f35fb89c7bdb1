"""The CUDA engine's logic without a GPU: its orchestration (struct packing, tiles, the pixel
of the first phi sweep, the two passes of an interpolation switch-off) driven over HostDevice,
which runs the kernel's per-pixel body (csrc/nb_tile.h) on the CPU."""
import numpy as np
import pytest

from conftest import LOCAL_SUITE, case_args, case_dirs, read_maybe_gz, stage_case
from nbgpu.engine_c import CEngine
from nbgpu.engine_cuda import CudaEngine, HostDevice
from nbgpu.simulation import simulate_argv

CASES = [c for c in case_dirs() if read_maybe_gz(c / "floatimage.bin") is not None]
quiet = lambda *args, **kwargs: None


def render(args, engine):
    return simulate_argv(args, quiet, quiet, write_files=False, engine=engine)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cuda_orchestration_reproduces_nanobragg(case, tmp_path, monkeypatch):
    monkeypatch.chdir(stage_case(case, tmp_path))
    engine = CudaEngine("double", device=HostDevice("double"))
    engine.tile_pixels = 1000                       # several tiles even for small detectors
    image = render(case_args(case), engine).image.ravel()
    assert np.array_equal(image, np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32))


@pytest.mark.parametrize("name", ["interpolate_out_of_range_fallback", "hkl_interpolate", "dmin_cut"])
def test_cuda_single_orchestration_matches_the_single_c_engine(name, tmp_path, monkeypatch):
    case = LOCAL_SUITE / "cases" / name
    monkeypatch.chdir(stage_case(case, tmp_path))
    gpu_like = render(case_args(case), CudaEngine("single", device=HostDevice("single"))).image
    c_single = render(case_args(case), CEngine("single")).image
    assert np.array_equal(gpu_like, c_single)


def test_switch_off_is_reported_like_the_c_engine(tmp_path, monkeypatch):
    case = LOCAL_SUITE / "cases" / "interpolate_out_of_range_fallback"
    monkeypatch.chdir(stage_case(case, tmp_path))
    logs = []
    for engine in (CEngine(), CudaEngine(device=HostDevice("double"))):
        text = []
        simulate_argv(case_args(case), lambda t, flush=False: text.append(t), quiet, write_files=False,
                      engine=engine)
        logs.append("".join(text))
    assert "WARNING: out of range for three point interpolation" in logs[0]
    assert logs[0] == logs[1]


def test_out_of_memory_shrinks_the_tiles(tmp_path, monkeypatch):
    """A tile that does not fit is split until it does (here: more than 300 pixels 'fails')."""
    monkeypatch.chdir(tmp_path)

    class SmallDevice(HostDevice):
        def render(self, struct, row0, nrows, *rest):
            if rest[-3].size > 300:
                raise HostDevice.OutOfMemory("pretend")
            super().render(struct, row0, nrows, *rest)

    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 200 -noprogress".split()
    engine = CudaEngine(device=SmallDevice("double"))
    assert np.array_equal(render(args, engine).image, render(args, CEngine()).image)
    assert engine.tile_pixels <= 300

"""The CUDA engine's logic without a GPU: its orchestration (variants, struct packing, one
launch or tiles, the pixel of the first phi sweep, the two passes of an interpolation
switch-off, progress and cancel) driven over HostDevice, which runs the kernel's per-pixel body
(nbgpu/engine/kernels/nb_tile.h, the GPU's arithmetic) on the CPU."""
import numpy as np
import pytest

from helpers import LOCAL_SUITE, case_args, case_dirs, read_maybe_gz, stage_case, within_exact_tier, within_fast_tier
from nbgpu.engine import select as engines
from nbgpu.engine.c import CEngine
from nbgpu.engine.cuda import CudaEngine
from nbgpu.engine.cuda_devices import HostDevice
from nbgpu.engine.cuda_kernels import Variant
from nbgpu.base.errors import EngineError
from nbgpu.run.simulate import simulate_argv

CASES = [c for c in case_dirs() if read_maybe_gz(c / "floatimage.bin") is not None]
quiet = lambda *args, **kwargs: None


def render(args, engine):
    return simulate_argv(args, quiet, quiet, write_files=False, engine=engine)


@pytest.mark.parametrize("tiles", [False, True], ids=["one-launch", "tiles"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cuda_orchestration_reproduces_nanobragg(case, tiles, tmp_path, monkeypatch):
    """The GPU's arithmetic, through the orchestration, in one launch and in many tiles."""
    monkeypatch.chdir(stage_case(case, tmp_path))
    device = HostDevice("double")
    engine = CudaEngine("double", device=device)
    if tiles:
        engine.tile_pixels = 1000                   # several tiles even for small detectors
    image = render(case_args(case), engine).image.ravel()
    assert within_exact_tier(image, np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32))
    assert device.builds == [engine.variant]        # one kernel, built once


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cuda_single_orchestration_is_within_the_fast_tier(case, tmp_path, monkeypatch):
    """The GPU's single-precision arithmetic, in one launch, against nanoBragg's image."""
    monkeypatch.chdir(stage_case(case, tmp_path))
    device = HostDevice("single")
    engine = CudaEngine("single", device=device)
    image = render(case_args(case), engine).image.ravel()
    assert within_fast_tier(image, np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32))
    assert device.builds == [engine.variant]


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
        def buffers(self, nrows, fpixels):
            if nrows * fpixels > 300:
                raise HostDevice.OutOfMemory("pretend")
            return super().buffers(nrows, fpixels)

    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 200 -noprogress".split()
    engine = CudaEngine(device=SmallDevice("double"))
    assert np.array_equal(render(args, engine).image, render(args, CEngine()).image)
    assert engine.tile_pixels <= 300


@pytest.mark.parametrize("name, expected", [
    ("cell_cubic_defaultF", Variant(shape=0, interpolate=0, curved=0, absorb=0, polar=1, dmin=0)),
    ("hkl_interpolate", Variant(shape=0, interpolate=1, curved=0, absorb=0, polar=1, dmin=0)),
    ("curved_det_nopolar", Variant(shape=0, interpolate=0, curved=1, absorb=0, polar=0, dmin=0)),
    ("detector_abs_thicksteps", Variant(shape=0, interpolate=0, curved=0, absorb=1, polar=1, dmin=0)),
    ("dmin_cut", Variant(shape=0, interpolate=0, curved=0, absorb=0, polar=1, dmin=1)),
    ("shape_gauss_hkl", Variant(shape=2, interpolate=0, curved=0, absorb=0, polar=1, dmin=0)),
    ("shape_round_fudge", Variant(shape=1, interpolate=0, curved=0, absorb=0, polar=1, dmin=0)),
    ("fluence_polar_vector_custom", Variant(shape=0, interpolate=0, curved=0, absorb=0, polar=2, dmin=0)),
])
def test_each_problem_gets_the_variant_of_its_features(name, expected, tmp_path, monkeypatch):
    case = LOCAL_SUITE / "cases" / name
    monkeypatch.chdir(stage_case(case, tmp_path))
    engine = CudaEngine(device=HostDevice("double"))
    render(case_args(case), engine)
    assert engine.variant == expected, case_args(case)


@pytest.mark.parametrize("name, field, value", [("curved_det_nopolar", "curved", 0),
                                               ("detector_abs_thicksteps", "absorb", 0),
                                               ("fluence_polar_vector_custom", "polar", 1),
                                               ("shape_gauss_hkl", "shape", 3),
                                               ("dmin_cut", "dmin", 0)])
def test_a_variant_without_a_feature_the_problem_uses_renders_another_image(name, field, value, tmp_path,
                                                                           monkeypatch):
    """The host emulation renders the problem as the variant's kernel sees it: choosing a
    variant that compiles out a used feature would show (so the choice above is tested)."""
    case = LOCAL_SUITE / "cases" / name
    monkeypatch.chdir(stage_case(case, tmp_path))
    right = render(case_args(case), CudaEngine(device=HostDevice("double"))).image.copy()
    original = Variant.of

    def wrong(p, interpolate):
        variant = original(p, interpolate)
        setattr(variant, field, value)
        return variant
    monkeypatch.setattr(Variant, "of", staticmethod(wrong))
    assert not np.array_equal(render(case_args(case), CudaEngine(device=HostDevice("double"))).image, right)


def test_progress_and_cancel_go_through_the_control_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 40 -noprogress".split()
    engine = CudaEngine(device=HostDevice("double"))
    engine.tile_pixels = 400                        # ten tiles
    seen = []
    original = engine._run

    def run(launch, buffers, state, progress):
        original(launch, buffers, state, progress)
        progress(engine.device.processed(buffers))
        seen.append(state.done)
        if len(seen) == 3:
            state.cancel = 1
    monkeypatch.setattr(engine, "_run", run)
    from nbgpu.engine.state import new_render_state
    from nbgpu._nbcore import ffi
    result = render(args, CEngine())
    state = new_render_state(0)
    engine.render_image(result.problem, ffi.new("float[]", 1600), state)
    assert seen == [400, 800, 1200] and state.cancelled == 1


class BrokenDevice(HostDevice):
    def build(self, variant):
        raise EngineError("cannot build the CUDA kernels: NVRTC is not installed (pretend)")


def test_auto_falls_back_to_the_c_engine_when_the_kernel_cannot_be_built(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engines, "cuda_unavailable", lambda: "")
    monkeypatch.setenv("NBGPU_AUTO_GPU_SECONDS", "0")       # a small job: "auto" tries the GPU all the same
    import nbgpu.engine.cuda as engine_cuda
    monkeypatch.setattr(engine_cuda, "CupyDevice", BrokenDevice)
    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 16 -noprogress".split()
    notes = []
    result = simulate_argv(args, quiet, quiet, write_files=False, note=notes.append)
    assert result.image.shape == (16, 16) and result.max_I > 0 and len(notes) == 1
    assert notes[0].startswith("rendering with the C engine") and "NVRTC is not installed" in notes[0]
    with pytest.raises(EngineError, match="-backend cuda: the CUDA engine cannot run here: cannot build"):
        simulate_argv(args + ["-backend", "cuda"], quiet, quiet, write_files=False)


class DeviceWithoutTheRoundVariant(HostDevice):
    def build(self, variant):
        if variant.shape == 1:
            raise EngineError("cannot build the CUDA kernels: out of resources (pretend)")
        return super().build(variant)


def test_a_kept_cuda_engine_still_falls_back_for_a_job_it_cannot_render(tmp_path, monkeypatch):
    """In one process (batch, Simulator) the engine is kept; a later job whose kernel fails to
    build renders with the C engine under -backend auto, and the CUDA engine stays kept."""
    monkeypatch.chdir(tmp_path)
    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 16 -noprogress".split()
    cuda = CudaEngine("double", device=DeviceWithoutTheRoundVariant("double"))
    kept = {("", "double", False): cuda}          # no -backend given: auto
    notes = []
    first = simulate_argv(args, quiet, quiet, write_files=False, note=notes.append, engines=kept)
    assert first.engine is cuda and notes == []
    round_job = simulate_argv(args + ["-round_xtal"], quiet, quiet, write_files=False, note=notes.append,
                              engines=kept)
    assert round_job.engine.name == "c" and round_job.max_I > 0
    assert len(notes) == 1 and notes[0].startswith("rendering with the C engine") and "out of resources" in notes[0]
    assert kept == {("", "double", False): cuda}
    with pytest.raises(EngineError, match="-backend cuda: the CUDA engine cannot run here: cannot build"):
        simulate_argv(args + ["-round_xtal", "-backend", "cuda"], quiet, quiet, write_files=False,
                      engines={("cuda", "double", False): cuda})

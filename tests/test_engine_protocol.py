"""The engine protocol, run over every engine: C in double (vector math and -libm) and single,
CUDA through the host emulation in double and single.  Same calls, same results: the image
within the engine's tier of the C engine's, each traced pixel the value the image holds, the
interpolation switch-off found at the same pixel."""
import numpy as np
import pytest

from helpers import LOCAL_SUITE, case_args, stage_case, within_exact_tier, within_fast_tier
from nbgpu._nbcore import ffi
from nbgpu.base.errors import EngineError
from nbgpu.engine.c import CEngine
from nbgpu.engine.cuda import CudaEngine
from nbgpu.engine.cuda_devices import HostDevice
from nbgpu.engine.protocol import Engine
from nbgpu.run.simulate import simulate_argv
from nbgpu.run.trace import traced

ENGINES = {
    "c-double": lambda: CEngine("double"),
    "c-double-libm": lambda: CEngine("double", vector_math=False),
    "c-single": lambda: CEngine("single"),
    "cuda-double (host)": lambda: CudaEngine("double", device=HostDevice("double")),
    "cuda-single (host)": lambda: CudaEngine("single", device=HostDevice("single")),
}
CASES = ["interpolate_out_of_range_fallback", "shape_gauss_hkl", "mosaic_spread_domains_seed", "curved_det_nopolar"]
quiet = lambda *args, **kwargs: None


def render(case, engine, folder, monkeypatch):
    monkeypatch.chdir(stage_case(LOCAL_SUITE / "cases" / case, folder))
    return simulate_argv(case_args(LOCAL_SUITE / "cases" / case), quiet, quiet, write_files=False, engine=engine)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", list(ENGINES))
def test_every_engine_answers_the_same_calls_with_the_same_results(name, case, tmp_path, monkeypatch):
    engine = ENGINES[name]()
    assert isinstance(engine, Engine) and engine.name in ("c", "cuda")
    assert engine.describe().startswith(f"the {'C' if engine.name == 'c' else 'CUDA'} engine (")
    assert engine.precision in name
    state = engine.new_state(1)
    assert state.interpolate == 1 and state.single == (engine.precision == "single") and state.done == 0
    reference = render(case, CEngine("double", vector_math=False), tmp_path / "reference", monkeypatch)
    result = render(case, engine, tmp_path / "engine", monkeypatch)
    within = within_fast_tier if engine.precision == "single" else within_exact_tier
    assert within(result.image.ravel(), reference.image.ravel())
    assert result.rendered.interpolate_off_at == reference.rendered.interpolate_off_at
    assert isinstance(engine.profile(), dict)
    image = result.image
    brightest = np.unravel_index(int(np.argmax(image)), image.shape)
    for spixel, fpixel in ((0, 0), brightest, (image.shape[0] - 1, image.shape[1] // 2)):
        trace = traced(result.problem, engine, result.rendered, int(fpixel), int(spixel))
        value = np.float32(trace.value)
        assert value == pytest.approx(image[spixel, fpixel], rel=1e-6 if engine.precision == "double" else 1e-5)
    with pytest.raises(EngineError, match="outside the detector"):
        engine.trace(result.problem, image.shape[1], 0, 0, 0)
    assert ffi.typeof(state) is ffi.typeof("nb_render_state *")

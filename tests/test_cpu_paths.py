"""The C engine's code paths: every CPU level and both math libraries give nanoBragg's image;
the render is one call that reports progress and can be cancelled; a plain render stays lean."""
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import LOCAL_SUITE, case_args, case_dirs, read_maybe_gz, run_cli, stage_case, within_exact_tier
from nbgpu._nbcore import lib
from nbgpu.engine.c import CPU_LEVELS, CEngine
from nbgpu.base.errors import EngineError
from nbgpu.run.render import run_in_worker
from nbgpu.run.simulate import simulate_argv

CASES = [c for c in case_dirs() if read_maybe_gz(c / "floatimage.bin") is not None]
LEVELS = [name for name, level in CPU_LEVELS.items() if level <= lib.nb_cpu_level()]
quiet = lambda *args, **kwargs: None


def render(case, tmp_path, monkeypatch, cpu, vector_math):
    monkeypatch.chdir(stage_case(case, tmp_path))
    monkeypatch.setenv("NBGPU_CPU", cpu)
    engine = CEngine(vector_math=vector_math)
    return simulate_argv(case_args(case), quiet, quiet, write_files=False, engine=engine).image.ravel()


def reference(case):
    return np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32)


@pytest.mark.parametrize("cpu", LEVELS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_libm_is_bit_identical_on_every_cpu_path(case, cpu, tmp_path, monkeypatch):
    """The lane code (vector instructions, nanoBragg's operations in its order) with the C
    library's sin/cos/exp gives nanoBragg's one-thread image bit for bit."""
    assert render(case, tmp_path, monkeypatch, cpu, vector_math=False).tobytes() == reference(case).tobytes()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_vector_math_is_within_the_exact_tier(case, tmp_path, monkeypatch):
    """glibc's vector sin/cos/exp are a few ulp from libm's: the float image stays within the
    golden suite's exact tier (here it is bit-identical on every case)."""
    assert within_exact_tier(render(case, tmp_path, monkeypatch, LEVELS[-1], vector_math=True), reference(case))


@pytest.mark.skipif(not lib.nb_vector_math_built() or lib.nb_cpu_level() < lib.NB_CPU_AVX512,
                    reason="needs the AVX-512 and AVX2 paths with libmvec")
@pytest.mark.parametrize("name", ["heavy_combo_a", "shape_round_fudge", "shape_gauss_hkl", "supervisor_roi"])
def test_vector_math_does_not_depend_on_the_vector_width(name, tmp_path, monkeypatch):
    case = LOCAL_SUITE / "cases" / name
    wide = render(case, tmp_path / "512", monkeypatch, "avx512", vector_math=True)
    narrow = render(case, tmp_path / "256", monkeypatch, "avx2", vector_math=True)
    assert wide.tobytes() == narrow.tobytes()


def test_a_cpu_path_that_does_not_exist_is_an_error(monkeypatch):
    monkeypatch.setenv("NBGPU_CPU", "sse9")
    with pytest.raises(EngineError, match="NBGPU_CPU=sse9: expected one of base, avx2, avx512"):
        CEngine()


def test_libm_switch_reaches_the_engine(tmp_path):
    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -detpixels 16 -nonoise -backend c".split()
    profiles = []
    for extra in ([], ["-libm"]):
        result = run_cli(args + extra, tmp_path, {"NBGPU_PROFILE": str(tmp_path / "p.json")})
        assert result.returncode == 0 and "unknown flag" not in result.stderr, result.stderr
        profiles.append(json.loads((tmp_path / "p.json").read_text()))
    assert profiles[0]["vector_math"] == bool(lib.nb_vector_math_built() and lib.nb_cpu_level() >= 3)
    assert profiles[1]["vector_math"] is False
    assert set(profiles[0]) >= {"setup_seconds", "render_seconds", "output_seconds", "cpu_path"}


LONG = ("-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 256 -pixel 0.4 "
        "-oversample 8 -phisteps 400 -osc 1 -nonoise -noprogress").split()


def test_a_cancelled_render_stops_at_once(tmp_path, monkeypatch):
    """Ctrl-C while the render runs (an exception in the thread printing the meter) stops the
    engine within a batch of pixels and propagates."""
    monkeypatch.chdir(tmp_path)
    captured = {}

    class Capture(CEngine):
        def render_image(self, problem, pixels, state):
            captured["state"] = state
            started = time.perf_counter()
            super().render_image(problem, pixels, state)
            captured["seconds"] = time.perf_counter() - started

    calls = []

    def progress():
        calls.append(time.perf_counter())
        if len(calls) == 3:
            raise KeyboardInterrupt

    import nbgpu.run.render as render_module
    original = render_module.run_in_worker
    monkeypatch.setattr(render_module, "run_in_worker",
                        lambda work, on_progress, cancel: original(work, progress, cancel))
    with pytest.raises(KeyboardInterrupt):
        simulate_argv(LONG, quiet, quiet, write_files=False, engine=Capture())
    assert captured["state"].cancelled == 1
    assert captured["seconds"] < 5.0          # the whole render takes minutes


def test_worker_failures_reach_the_caller():
    def work():
        raise ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        run_in_worker(work, lambda: None, lambda: None)


def test_an_interrupt_just_after_the_render_ended_does_not_hang(monkeypatch):
    """Ctrl-C landing right after the wait for the worker succeeded (the lock already ours)."""
    import _thread
    import threading
    import types
    import nbgpu.run.render as render_module

    class InterruptedAfterAcquire:
        """A lock whose first timed acquire that succeeds is followed by a KeyboardInterrupt."""
        def __init__(self):
            self.lock, self.fired = _thread.allocate_lock(), False

        def acquire(self, *args, **kwargs):
            got = self.lock.acquire(*args, **kwargs)
            if got and "timeout" in kwargs and not self.fired:
                self.fired = True
                raise KeyboardInterrupt
            return got

        def release(self):
            self.lock.release()

    monkeypatch.setattr(render_module, "_thread", types.SimpleNamespace(
        allocate_lock=InterruptedAfterAcquire, start_new_thread=_thread.start_new_thread))
    outcome = []

    def caller():
        try:
            run_in_worker(lambda: None, lambda: None, lambda: outcome.append("cancelled"))
        except KeyboardInterrupt:
            outcome.append("interrupted")

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive() and outcome == ["cancelled", "interrupted"]


def test_a_plain_render_leaves_out_what_it_does_not_use(tmp_path):
    """No numpy (its import and BLAS threads), logging, click or tracing code on a plain render."""
    code = ("import sys\nfrom nbgpu.cli.main import main\n"
            "code = main('-cell 30 30 30 90 90 90 -default_F 100 -N 5 -detpixels 16 -nonoise -noprogress "
            "-backend c'.split())\n"
            "print(code, sorted(m for m in ('numpy', 'logging', 'click', 'nbgpu.run.trace', 'dataclasses', 'typing')"
            " if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_many_renders_in_one_process_leave_no_threads_behind(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    args = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -detpixels 16 -nonoise -noprogress".split()
    simulate_argv(args, quiet, quiet, write_files=False, engine=CEngine())
    before = len(list(Path("/proc/self/task").iterdir()))
    for _ in range(30):
        simulate_argv(args, quiet, quiet, write_files=False, engine=CEngine())
    time.sleep(0.2)
    after = len(list(Path("/proc/self/task").iterdir()))
    assert after <= before + 2

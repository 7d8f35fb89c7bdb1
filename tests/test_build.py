"""The C engine builds with OpenMP, and without it (single-threaded, with a warning)."""
import importlib.util
import os
import warnings
from pathlib import Path

import pytest

from helpers import build_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (ROOT / "csrc" / "nb_engine.c").exists(), reason="needs the source tree")
def test_engine_builds_without_openmp(tmp_path):
    build = build_script()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        builder = build.make_ffibuilder("nb_serial_probe", openmp=False, absolute_paths=True)
    assert any("without" in str(w.message) or "no OpenMP" in str(w.message) for w in caught)
    library = builder.compile(tmpdir=str(tmp_path))
    spec = importlib.util.spec_from_file_location("nb_serial_probe", library)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.lib.nb_openmp_threads() == 0
    state = module.ffi.new("nb_rng *")
    module.lib.nb_rng_init(state)
    seed = module.ffi.new("long *", -1)
    assert 0.0 < module.lib.nb_ran1(state, seed) < 1.0


def test_installed_engine_uses_openmp_when_the_compiler_has_it():
    from nbgpu._nbcore import lib
    if os.environ.get("NBGPU_NO_OPENMP"):
        pytest.skip("built without OpenMP on purpose")
    assert lib.nb_openmp_threads() >= 1

"""pytest fixtures (the helpers themselves are in helpers.py)."""
import pytest

from helpers import SHARED_SUITE


@pytest.fixture
def shared_suite():
    if not (SHARED_SUITE / "cases").is_dir():
        pytest.skip("../shared/golden is not beside this checkout")
    return SHARED_SUITE


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A fresh current directory holding the golden inputs A.mat and p1_small.hkl."""
    from helpers import LOCAL_SUITE, read_maybe_gz
    (tmp_path / "A.mat").write_bytes((LOCAL_SUITE / "inputs" / "A.mat").read_bytes())
    (tmp_path / "p1_small.hkl").write_bytes(read_maybe_gz(LOCAL_SUITE / "inputs" / "p1_small.hkl"))
    monkeypatch.chdir(tmp_path)
    return tmp_path

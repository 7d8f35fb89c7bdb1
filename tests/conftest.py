"""pytest fixtures (the helpers themselves are in helpers.py)."""
import pytest

from helpers import SHARED_SUITE


@pytest.fixture
def shared_suite():
    if not (SHARED_SUITE / "cases").is_dir():
        pytest.skip("../shared/golden is not beside this checkout")
    return SHARED_SUITE

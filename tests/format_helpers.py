"""Shared by the tests of nbgpu.io: the golden suite's files, a log collector, byte joining."""
import gzip
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
INPUTS = Path(__file__).parent / "golden" / "inputs"     # copies of the golden inputs
GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "golden"


def golden_dir() -> Path:
    if not GOLDEN.is_dir():
        pytest.skip("golden suite (/work/shared/golden) not available")
    return GOLDEN


def golden_bytes(path: Path) -> bytes:
    """A golden file, transparently read from NAME.gz when stored compressed."""
    if path.exists():
        return path.read_bytes()
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes())


def golden_files(name: str):
    """Every case directory that holds NAME (or NAME.gz)."""
    cases = sorted((golden_dir() / "cases").iterdir())
    return [c for c in cases if (c / name).exists() or (c / (name + ".gz")).exists()]


class Log:
    """Collects what a function prints through its log callable."""

    def __init__(self):
        self.parts = []

    def __call__(self, text):
        assert isinstance(text, str)
        self.parts.append(text)

    @property
    def text(self):
        return "".join(self.parts)


def concat(parts) -> bytes:
    return b"".join(bytes(np.ascontiguousarray(p).view(np.uint8)) if isinstance(p, np.ndarray)
                    else bytes(p) for p in parts)

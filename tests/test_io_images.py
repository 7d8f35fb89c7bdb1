"""io.images: the raw float image and the PGM, byte for byte."""
import re

import numpy as np
import pytest

from helpers import golden_bytes, golden_files
from nbgpu.io import float_image_parts, pgm_bytes_header, pgm_parts, save_file


def test_float_image_file(tmp_path):
    image = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    save_file(tmp_path / "f.bin", float_image_parts(image))
    assert np.array_equal(np.fromfile(tmp_path / "f.bin", dtype=np.float32), image.ravel())
    with pytest.raises(TypeError):
        save_file(tmp_path / "g.bin", float_image_parts(image.astype(np.float64)))


def test_pgm_header():
    assert pgm_bytes_header(96, 40, 3.0) == b"P5\n96 40\n# pixels scaled by 3\n255\n"
    assert pgm_bytes_header(64, 64, 0.26199412) == b"P5\n64 64\n# pixels scaled by 0.261994\n255\n"


def test_pgm_header_matches_golden():
    checked = 0
    for case in golden_files("image.pgm"):
        raw = golden_bytes(case / "image.pgm")
        m = re.match(rb"P5\n(\d+) (\d+)\n# pixels scaled by (\S+)\n255\n", raw)
        header = pgm_bytes_header(int(m[1]), int(m[2]), float(m[3]))
        assert raw.startswith(header) and len(raw) == len(header) + int(m[1]) * int(m[2])
        checked += 1
    assert checked >= 40


def test_pgm_file(tmp_path):
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    save_file(tmp_path / "i.pgm", pgm_parts(4, 3, 1.5, pixels))
    raw = (tmp_path / "i.pgm").read_bytes()
    assert raw == b"P5\n4 3\n# pixels scaled by 1.5\n255\n" + pixels.tobytes()
    with pytest.raises(ValueError):
        save_file(tmp_path / "j.pgm", pgm_parts(5, 3, 1.5, pixels))

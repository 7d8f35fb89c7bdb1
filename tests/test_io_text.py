"""io.text: nanoBragg's generic text reader (-sourcefile, -stol, -mat columns)."""
import math

import numpy as np
import pytest

from helpers import INPUTS, golden_dir
from nbgpu.base.errors import InputError
from nbgpu.io import read_text_file


def text_file(tmp_path, content: bytes):
    path = tmp_path / "t.txt"
    path.write_bytes(content)
    return path


def test_read_text_file_sources_copies():
    three = read_text_file(INPUTS / "sources_3col.txt", 5, "-sourcefile")
    assert three.shape == (3, 5)
    assert three[:, :3].tolist() == [[-10, 0, 0], [-10, 0.003, 0.001], [-10, -0.002, 0.0025]]
    assert np.isnan(three[:, 3:]).all()
    five = read_text_file(INPUTS / "sources_5col.txt", 5, "-sourcefile")
    assert five.tolist() == [[-10, 0, 0, 1.0, 1.0e-10], [-10, 0.0025, 0, 0.5, 1.0e-10],
                             [-10, 0, 0.0025, 0.5, 1.015e-10],
                             [-10, -0.0018, -0.0018, 2.0, 0.985e-10]]


def test_read_text_file_golden_inputs_match_copies():
    for name in ("sources_3col.txt", "sources_5col.txt"):
        golden = read_text_file(golden_dir() / "inputs" / name, 5, "-sourcefile")
        assert np.array_equal(golden, read_text_file(INPUTS / name, 5, "-sourcefile"),
                              equal_nan=True)


def rows(table):
    return [["nan" if math.isnan(v) else v for v in row] for row in table.tolist()]


def test_read_text_file_quirks(tmp_path):
    content = (b"1 2 3\n"
               b"\n"                       # blank: not a line
               b" \t,;\n"                  # only delimiters: not a line
               b"# comment\n"              # a row of zeros
               b"nan 5\n"                  # nan stays NaN ("use the default")
               b"6,7;8:9!10 11\n"          # every delimiter; the extra column is ignored
               b"12 13\r\n"                # CRLF: the rest of the row becomes 0
               b"\r\n"                     # a CRLF blank line counts, as zeros
               b"1.5e-3x 4abc 5\n"         # junk after a number is skipped
               b"14")                      # no final newline: the rest becomes 0
    table = read_text_file(text_file(tmp_path, content), 3, "-sourcefile")
    assert rows(table) == [[1, 2, 3], [0, 0, 0], ["nan", 5, "nan"], [6, 7, 8], [12, 13, 0],
                           [0, 0, 0], [0.0015, 4, 5], [14, 0, 0]]


def test_read_text_file_long_line_splits_like_fgets(tmp_path):
    line = b"1" + b" " * 10300 + b"2\n"
    table = read_text_file(text_file(tmp_path, line + b"3 4 5\n"), 3, "-stol")
    # the first fgets gets 10239 characters without the newline; the rest is a second line
    assert rows(table) == [[1, 0, 0], [2, "nan", "nan"], [3, 4, 5]]


def test_read_text_file_nul_and_hex(tmp_path):
    table = read_text_file(text_file(tmp_path, b"1 2\0 3\n0x10 -0x1p-1 inf\n"), 3, "-stol")
    # the C string ends at the NUL: no newline, so the last column becomes 0
    assert rows(table) == [[1, 2, 0], [16, -0.5, math.inf]]


def test_read_text_file_empty_and_missing(tmp_path):
    assert read_text_file(text_file(tmp_path, b"\n\n"), 2, "-stol").shape == (0, 2)
    with pytest.raises(InputError) as info:
        read_text_file(tmp_path / "none.txt", 5, "-sourcefile")
    assert str(info.value) == (f"-sourcefile {tmp_path / 'none.txt'}: "
                               "cannot open (No such file or directory)")

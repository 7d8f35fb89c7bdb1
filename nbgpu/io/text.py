"""nanoBragg's multi-column text reader (-sourcefile, -stol)."""
import re

from nbgpu.base.cnumbers import atof as c_atof
from nbgpu.io.files import read_input


_FGETS_SIZE = 10240          # nanoBragg's line buffer; fgets stores at most 10239 characters
_DELIMITERS = b" \t,;:!"
_NUMBER_CHARS = b"0123456789-+.EGeg"


# a line of plain decimal numbers between delimiters, ending in "\n": its values are what
# Python's float() reads (strtod and float() both round correctly), so it skips the token loop
_NUMBER = rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_PLAIN_LINE = re.compile(rb"[ \t,;:!]*" + _NUMBER + rb"(?:[ \t,;:!]+" + _NUMBER + rb")*[ \t,;:!]*\n")
_SEPARATORS = re.compile(rb"[ \t,;:!]+")
# a whole file of such lines (and lines of delimiters only), each shorter than fgets' buffer
_PLAIN_FILE = re.compile(rb"(?:[ \t,;:!]*(?:" + _NUMBER + rb"(?:[ \t,;:!]+" + _NUMBER + rb")*[ \t,;:!]*)?\n)*")


def _fgets_lines(data: bytes):
    """The strings successive fgets calls would return (as C strings: cut at a NUL byte)."""
    pos = 0
    while pos < len(data):
        newline = data.find(b"\n", pos)
        end = len(data) if newline < 0 else newline + 1
        end = min(end, pos + _FGETS_SIZE - 1)
        yield data[pos:end].split(b"\0", 1)[0]
        pos = end


def _span(text: bytes, pos: int, chars: bytes, inside=True) -> int:
    """strspn (inside=True) or strcspn (inside=False) from pos; returns the new position."""
    while pos < len(text) and (text[pos] in chars) == inside:
        pos += 1
    return pos


def _parse_text_line(text: bytes, row):
    """nanoBragg's per-line token loop: atof a value, skip number characters, skip the rest of
    the token and the delimiters, stop at a bare "\\n" or after the last column."""
    pos = _span(text, 0, _DELIMITERS)
    for column in range(len(row)):
        row[column] = c_atof(text[pos:].decode("latin-1"))
        pos = _span(text, pos, _NUMBER_CHARS)
        if text[pos:] == b"\n":
            return
        pos = _span(text, pos, _DELIMITERS, inside=False)
        pos = _span(text, pos, _DELIMITERS)
        if text[pos:] == b"\n":
            return


def read_text_rows(path, ncols, flag) -> list:
    """nanoBragg's multi-column text reader (-sourcefile, -stol): one row (a list of ncols
    floats) per counted line.

    A line counts unless it is only delimiters and "\\n"; missing columns stay NaN, but a
    line whose last value is not followed by delimiters and "\\n" (CRLF, no final newline) gets
    0 in every remaining column, and a comment line is all zeros.
    """
    data = read_input(path, flag)
    if _PLAIN_FILE.fullmatch(data):
        lines = data.split(b"\n")[:-1]
        if all(len(line) < _FGETS_SIZE - 1 for line in lines):
            return _plain_rows(lines, ncols)
    rows = []
    for text in _fgets_lines(data):
        if text[_span(text, 0, _DELIMITERS):] == b"\n":
            continue
        row = [float("nan")] * ncols
        if _PLAIN_LINE.fullmatch(text):
            values = _SEPARATORS.split(text[:-1].strip(b" \t,;:!"))[:ncols]
            row[:len(values)] = [float(v) for v in values]
        else:
            _parse_text_line(text, row)
        rows.append(row)
    return rows


def _plain_rows(lines, ncols) -> list:
    """The rows of a file that _PLAIN_FILE matches (lines without their "\\n")."""
    nan, rows = float("nan"), []
    split = _SEPARATORS.split
    for line in lines:
        values = split(line.strip(b" \t,;:!"))[:ncols]
        if values[0]:
            rows.append([float(v) for v in values] + [nan] * (ncols - len(values)))
    return rows


def read_text_file(path, ncols, flag):
    """read_text_rows as a numpy array (rows x ncols)."""
    import numpy as np
    rows = read_text_rows(path, ncols, flag)
    return np.array(rows, dtype=float).reshape(len(rows), ncols)


def read_text_columns(path, ncols, flag) -> list:
    """read_text_rows with the C library's own atof (csrc/nb_text.c): nonBragg's tables."""
    from nbgpu._nbcore import ffi, lib
    data = read_input(path, flag)
    source = ffi.from_buffer("char[]", data) if data else ffi.NULL
    rows = lib.nb_read_columns(source, len(data), ncols, ffi.NULL)
    out = ffi.new("double[]", max(1, rows * ncols))
    lib.nb_read_columns(source, len(data), ncols, out)
    values = ffi.unpack(out, rows * ncols)
    return [values[i:i + ncols] for i in range(0, rows * ncols, ncols)]

"""Tests for nbgpu.io: byte-exact outputs and nanoBragg's input-reading rules.

Golden-file tests use /work/shared (found relative to this file) and skip when it is absent;
the small inputs they need most are copied under tests/data so those tests always run.
"""
import gzip
import math
import os
import random
import re
import shlex
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

import nbgpu.io.smv
from nbgpu._nbcore import ffi, lib
from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError
from nbgpu.io import (StructureFactors, save_file, fdump_parts, float_image_parts, pgm_bytes_header, pgm_parts, read_fdump, read_hkl, read_smv, read_text_file, smv_header_bytes, smv_parts, SmvGeometry, write_fdump)

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


# ================================================================ atomic_write

def test_atomic_write_all_chunk_kinds(tmp_path):
    target = tmp_path / "out.bin"
    floats = np.arange(6, dtype=np.float64).reshape(2, 3)
    strided = np.arange(10, dtype=np.uint16)[::2]          # not contiguous
    parts = [b"ab", bytearray(b"cd"), memoryview(b"ef"), floats, strided]
    save_file(target, parts)
    expect = b"abcdef" + floats.tobytes() + strided.tobytes()
    assert target.read_bytes() == expect
    assert os.listdir(tmp_path) == ["out.bin"]


def test_atomic_write_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        save_file(tmp_path / "f", [b"x"])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f").stat().st_mode) == 0o644


def test_atomic_write_replaces_existing_file(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old content")
    save_file(str(target), [b"new"])
    assert target.read_bytes() == b"new"


def test_atomic_write_failure_keeps_old_file_and_no_temp(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"old")

    def parts():
        yield b"partial"
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match=r"cannot write .*f: No space left on device"):
        save_file(target, parts())
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_atomic_write_non_os_error_cleans_up(tmp_path):
    with pytest.raises(TypeError):
        save_file(tmp_path / "f", [b"ok", "a str is not bytes"])
    assert os.listdir(tmp_path) == []


def test_atomic_write_missing_directory(tmp_path):
    target = tmp_path / "nodir" / "f"
    with pytest.raises(InputError) as info:
        save_file(target, [b"x"])
    assert str(info.value) == f"cannot write {target}: No such file or directory"


def test_atomic_write_onto_directory(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="cannot write"):
        save_file(tmp_path / "d", [b"x"])
    assert sorted(os.listdir(tmp_path)) == ["d"]


# ================================================================ SMV header / output

def parse_header(raw: bytes):
    """(header bytes as nanoBragg wrote them, {key: value text}) of an SMV file."""
    end = raw.index(b"}\f") + 2
    header = raw[:max(end, 512)]
    fields = dict(re.findall(r"^(\w+)=([^;\n]*);?$", raw[:end].decode("ascii"), re.M))
    return header, fields


def values_from_header(fields):
    """Recover the geometry numbers nanoBragg printed into a header."""
    f = {k: float(v) for k, v in fields.items() if k not in ("BYTE_ORDER", "TYPE",
                                                             "DIALS_ORIGIN", "BEAMLINE")}
    Sbeam = f["DENZO_X_BEAM"] / 1000
    return SmvGeometry(
        fpixels=int(f["SIZE1"]), spixels=int(f["SIZE2"]), pixel_size=f["PIXEL_SIZE"] / 1000,
        distance=f["DISTANCE"] / 1000, lambda0=f["WAVELENGTH"] / 1e10,
        Xbeam=f["BEAM_CENTER_X"] / 1000, Ybeam=f["BEAM_CENTER_Y"] / 1000,
        Fbeam=f["ADXV_CENTER_X"] / 1000, Sbeam=Sbeam,
        detsize_s=f["ADXV_CENTER_Y"] / 1000 + Sbeam, close_distance=f["CLOSE_DISTANCE"] / 1000,
        dials_origin=tuple(float(v) for v in fields["DIALS_ORIGIN"].split(",")),
        ORGX=f["XDS_ORGX"], ORGY=f["XDS_ORGY"], phi0=f["PHI"] / RTD, osc=f["OSC_RANGE"] / RTD,
        detector_twotheta=f["TWOTHETA"] / RTD)


def check_regenerates(raw: bytes, noise: bool):
    header, fields = parse_header(raw)
    assert smv_header_bytes(values_from_header(fields), noise=noise) == header


def test_smv_header_regenerates_copied_golden_header():
    check_regenerates((Path(__file__).parent / "golden" / "cases" / "cell_cubic_defaultF" / "intimage.img").read_bytes(), noise=False)


def test_smv_header_regenerates_every_golden_header():
    checked = 0
    for name, noise in (("intimage.img", False), ("noiseimage.img", True)):
        for case in golden_files(name):
            raw = golden_bytes(case / name)
            check_regenerates(raw, noise)
            checked += 1
    assert checked >= 40


def test_smv_header_longer_than_512_is_not_padded():
    raw = golden_bytes(golden_dir() / "cases" / "supervisor_pilatus6m" / "intimage.img")
    header, fields = parse_header(raw)
    assert len(header) == 518                       # the documented over-long header
    regenerated = smv_header_bytes(values_from_header(fields))
    assert regenerated == header and regenerated.endswith(b"}\f")


def geometry(**changes):
    values = dict(fpixels=64, spixels=32, pixel_size=0.0001, distance=0.1, lambda0=1e-10,
                  Xbeam=0.0032, Ybeam=0.0016, Fbeam=0.00325, Sbeam=0.00165, detsize_s=0.0032,
                  close_distance=0.1, dials_origin=(-3.25, 1.65, -100.0), ORGX=32.5, ORGY=16.5,
                  phi0=0.0, osc=0.0, detector_twotheta=0.0)
    values.update(changes)
    return SmvGeometry(**values)


def test_smv_header_layout():
    h = geometry(phi0=0.1, osc=0.01, detector_twotheta=0.2)
    header = smv_header_bytes(h)
    assert len(header) == 512
    text = header.rstrip(b" ").decode("ascii")
    keys = re.findall(r"^(\w+)=", text, re.M)
    assert keys == ["HEADER_BYTES", "DIM", "BYTE_ORDER", "TYPE", "SIZE1", "SIZE2", "PIXEL_SIZE",
                    "DISTANCE", "WAVELENGTH", "BEAM_CENTER_X", "BEAM_CENTER_Y", "ADXV_CENTER_X",
                    "ADXV_CENTER_Y", "MOSFLM_CENTER_X", "MOSFLM_CENTER_Y", "DENZO_X_BEAM",
                    "DENZO_Y_BEAM", "DIALS_ORIGIN", "XDS_ORGX", "XDS_ORGY", "CLOSE_DISTANCE",
                    "PHI", "OSC_START", "OSC_RANGE", "TWOTHETA", "DETECTOR_SN", "BEAMLINE"]
    assert text.startswith("{\nHEADER_BYTES=512;\nDIM=2;\n")
    assert "\nDIALS_ORIGIN=-3.25,1.65,-100\nXDS_ORGX=32.5;\n" in text
    assert "\nPHI=%g;\nOSC_START=%g;\nOSC_RANGE=%g;\nTWOTHETA=%g;\n" % (
        0.1 * RTD, 0.1 * RTD, 0.01 * RTD, 0.2 * RTD) in text
    assert "\nMOSFLM_CENTER_X=1.6;\nMOSFLM_CENTER_Y=3.2;\n" in text
    assert "\nADXV_CENTER_Y=1.55;\n" in text
    assert text.endswith("DETECTOR_SN=000;\nBEAMLINE=fake;\n}\f")
    expected_order = "little_endian" if sys.byteorder == "little" else "big_endian"
    assert f"BYTE_ORDER={expected_order};" in text


def test_smv_header_big_endian_host(monkeypatch):
    monkeypatch.setattr(nbgpu.io.smv.sys, "byteorder", "big")
    assert b"BYTE_ORDER=big_endian;" in smv_header_bytes(geometry())


def test_smv_header_noise_differs_only_for_negative_zero():
    h = geometry(Sbeam=-0.0, Fbeam=-0.0)
    normal, noise = smv_header_bytes(h), smv_header_bytes(h, noise=True)
    assert b"DENZO_X_BEAM=-0;\nDENZO_Y_BEAM=-0;" in normal
    assert b"DENZO_X_BEAM=0;\nDENZO_Y_BEAM=0;" in noise
    assert len(normal) == len(noise) == 512
    assert (normal.rstrip(b" ").replace(b"DENZO_X_BEAM=-0;\nDENZO_Y_BEAM=-0;", b"") ==
            noise.rstrip(b" ").replace(b"DENZO_X_BEAM=0;\nDENZO_Y_BEAM=0;", b""))
    h = geometry()
    assert smv_header_bytes(h) == smv_header_bytes(h, noise=True)


def test_smv_header_nan_prints_like_c():
    text = smv_header_bytes(geometry(ORGX=math.nan, ORGY=-math.nan, distance=math.inf))
    assert b"XDS_ORGX=nan;\nXDS_ORGY=-nan;" in text
    assert b"DISTANCE=inf;" in text


def test_smv_file_reads_back_through_fabio(tmp_path):
    fabio = pytest.importorskip("fabio")
    h = geometry()
    pixels = (np.arange(64 * 32, dtype=np.uint32) * 37 % 65536).astype(np.uint16).reshape(32, 64)
    target = tmp_path / "intimage.img"
    save_file(target, smv_parts(smv_header_bytes(h), pixels))
    assert target.stat().st_size == 512 + 2 * pixels.size
    image = fabio.open(str(target))
    assert np.array_equal(image.data, pixels)
    _, fields = parse_header(target.read_bytes())
    assert dict(image.header) == fields and len(fields) == 27
    assert image.header["SIZE1"] == "64" and image.header["SIZE2"] == "32"
    assert image.header["PIXEL_SIZE"] == "0.1" and image.header["BEAMLINE"] == "fake"
    assert image.header["DIALS_ORIGIN"] == "-3.25,1.65,-100"
    back = read_smv(target, "-img")
    assert np.array_equal(back.data, pixels)
    assert back.value_of("BEAM_CENTER_X") == 3.2


def test_smv_file_rejects_wrong_dtype(tmp_path):
    with pytest.raises(TypeError):
        save_file(tmp_path / "x.img", smv_parts(b"", np.zeros(4, dtype=np.float32)))
    assert not (tmp_path / "x.img").exists()


def test_smv_file_converts_byte_order(tmp_path):
    big = np.array([1, 258], dtype=">u2")
    save_file(tmp_path / "x.img", smv_parts(b"H", big))
    assert (tmp_path / "x.img").read_bytes() == b"H" + np.array([1, 258], "=u2").tobytes()


# ================================================================ float image and PGM

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


# ================================================================ HKL files

def hkl_file(tmp_path, text, name="in.hkl"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_read_tiny_hkl():
    log = Log()
    path = DATA / "tiny.hkl"
    sf = read_hkl(path, 0.0, log)
    assert log.text == f"counting entries in {path}\nre-reading {path}\n"
    assert (sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max) == (-2, 1, -1, 1, -1, 2)
    assert (sf.h_range, sf.k_range, sf.l_range) == (4, 3, 4)
    assert sf.hkls == 5
    assert sf.grid.shape == (5, 4, 5) and sf.grid.dtype == np.float64
    assert sf.grid.flags.c_contiguous

    def F(h, k, l):
        return sf.grid[h - sf.h_min, k - sf.k_min, l - sf.l_min]

    assert F(0, 0, 1) == 10.5
    assert F(1, -1, 2) == 21.0            # the later duplicate wins
    assert F(-2, 1, 0) == 30.0
    assert F(0, 1, -1) == 150.0
    assert np.count_nonzero(sf.grid) == 4


def test_read_hkl_default_F_fills_all_but_padding():
    log = Log()
    sf = read_hkl(DATA / "tiny.hkl", 7.5, log)
    assert log.parts[1:3] == ["initializing to default_F = 7.5:\n", "done initializing:\n"]
    assert log.parts[3].startswith("re-reading ")
    inner = sf.grid[:4, :3, :4]
    assert np.count_nonzero(inner == 7.5) == inner.size - 4
    assert not sf.grid[4].any() and not sf.grid[:, 3].any() and not sf.grid[:, :, 4].any()


def test_read_hkl_missing_file(tmp_path):
    path = tmp_path / "x.hkl"
    log = Log()
    with pytest.raises(InputError) as info:
        read_hkl(path, 0.0, log)
    assert str(info.value) == f"-hkl {path}: cannot open (No such file or directory)"
    assert log.text == ""


@pytest.mark.parametrize("text", ["", "# a comment first\n1 2 3 4\n", "1,2,3,4\n", "1 2 3\n"])
def test_read_hkl_not_enough_indices(tmp_path, text):
    path = hkl_file(tmp_path, text)
    log = Log()
    with pytest.raises(InputError) as info:
        read_hkl(path, 0.0, log)
    assert str(info.value) == f"-hkl: not enough HKL indices in {path}"
    assert log.text == (f"counting entries in {path}\n"
                        "h: 1000000000 - -1000000000\n"
                        "k: 1000000000 - -1000000000\n"
                        "l: 1000000000 - -1000000000\n")


def test_read_hkl_is_a_stream_of_groups_of_four(tmp_path):
    # five columns: the sigma column shifts every later group (line breaks mean nothing)
    path = hkl_file(tmp_path, "1 2 3 10 0.5\n2 3 4 20 0.5\n")
    sf = read_hkl(path, 0.0, Log())
    assert sf.hkls == 2                    # (1 2 3 10) (0.5 2 3 4); "20 0.5" is left over
    assert (sf.h_min, sf.h_max) == (0, 1)  # 0.5 truncates to 0
    assert sf.grid[1 - sf.h_min, 2 - sf.k_min, 3 - sf.l_min] == 10.0
    assert np.count_nonzero(sf.grid) == 1  # pass 2 stops at "0.5"


def test_read_hkl_non_integer_index(tmp_path):
    path = hkl_file(tmp_path, "1 1 1 5\n2 1.5 1 6\n3 1 1 7\n0 0 nan 8\n")
    log = Log()
    sf = read_hkl(path, 1.0, log)
    assert log.parts[1:3] == ["WARNING: non-integer value for k (1.5) at line 1\n",
                              "WARNING: non-integer value for l (nan) at line 3\n"]
    assert sf.hkls == 4
    assert (sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max) == (0, 3, 0, 1, 1, 1)
    # pass 2 read "2 1" then failed on ".5": only the first reflection is stored
    assert sf.grid[1, 1, 0] == 5.0
    assert sf.grid[3, 1, 0] == 1.0        # 3 1 1 7 was never stored: default_F stays


def test_read_hkl_non_integer_l_misaligns_pass_2(tmp_path):
    # pass 2 reads "2 2 2" + ".5" as F, then "3 3 3 3": the true F of 3 3 3 (7) is lost
    path = hkl_file(tmp_path, "1 1 1 5\n2 2 2.5 3\n3 3 3 7\n")
    log = Log()
    sf = read_hkl(path, 0.0, log)
    assert log.parts[1] == "WARNING: non-integer value for l (2.5) at line 1\n"
    assert sf.hkls == 3
    assert sf.grid[0, 0, 0] == 5.0 and sf.grid[1, 1, 1] == 0.5 and sf.grid[2, 2, 2] == 3.0
    # with 6 instead of 3, pass 2 reads h = 6, outside 1..3, where nanoBragg writes out of bounds
    path = hkl_file(tmp_path, "1 1 1 5\n2 2 2.5 6\n3 3 3 7\n")
    with pytest.raises(InputError, match="reflection 6 3 3 lies outside"):
        read_hkl(path, 0.0, Log())


def test_read_hkl_warns_for_every_non_integer_index(tmp_path):
    # nanoBragg's test v != ceil(v - 0.4) is true for any non-integer v
    log = Log()
    read_hkl(hkl_file(tmp_path, "0.7 -0.6 1e0 4\n-0.5 0.99 2 5\n"), 0.0, log)
    assert log.parts[1:] == ["WARNING: non-integer value for h (0.7) at line 0\n",
                             "WARNING: non-integer value for k (-0.6) at line 0\n",
                             "WARNING: non-integer value for h (-0.5) at line 1\n",
                             "WARNING: non-integer value for k (0.99) at line 1\n",
                             f"re-reading {tmp_path / 'in.hkl'}\n"]    # 1e0 is an integer


def test_read_hkl_stops_at_comment_and_comma(tmp_path):
    sf = read_hkl(hkl_file(tmp_path, "1 1 1 5\n2 2 2 6 # note\n3 3 3 7\n"), 0.0, Log())
    assert sf.hkls == 2 and (sf.h_max, sf.k_max) == (2, 2)
    sf = read_hkl(hkl_file(tmp_path, "1 1 1 5\n2,2,2,6\n"), 0.0, Log())
    assert sf.hkls == 1


def pass_1(data: bytes, exact=True):
    """(groups, limits, plain) of nb_hkl_count on the bytes."""
    scan = ffi.new("nb_hkl_scan *")
    assert lib.nb_hkl_count(data, len(data), int(exact), scan) == lib.NB_OK
    try:
        limits = (scan.h_min, scan.h_max, scan.k_min, scan.k_max, scan.l_min, scan.l_max)
        return scan.hkls, limits, bool(scan.plain)
    finally:
        lib.nb_hkl_free(scan)


def c_int(v):
    """(int)v as x86 converts a double: INT_MIN for NaN and out of range."""
    return int(v) if -2147483648.0 <= v < 2147483648.0 else -2147483648


def limits_of(groups):
    """nanoBragg's pass-1 limits: ints from 1e9/-1e9, compared with the doubles, truncated."""
    limits = []
    for axis in range(3):
        lo, hi = 1000000000, -1000000000
        for group in groups:
            v = group[axis]
            if lo > v:
                lo = c_int(v)
            if hi < v:
                hi = c_int(v)
        limits += [lo, hi]
    return tuple(limits)


@pytest.mark.parametrize("text, groups", [
    # glibc 2.36 fscanf("%lg") behaviour, checked with a small C program
    ("1e 2 3 4", [(1, 2, 3, 4)]),             # "1e" is consumed and read as 1
    ("1e+ 2 3 4", [(1, 2, 3, 4)]),
    ("1-2 3 4 5", [(1, -2, 3, 4)]),           # a sign starts a new number
    ("1.5.5 1 2 1+2 2 2 2", [(1.5, 0.5, 1, 2), (1, 2, 2, 2)]),
    ("0x10 1 2 3", [(16, 1, 2, 3)]),          # hex floats
    ("0x1.8p1 1 2 3", [(3, 1, 2, 3)]),
    ("0x1p 1 2 3", [(1, 1, 2, 3)]),
    ("0x 1 2 3", []),                         # "0x" without digits fails
    ("NaN inf -Infinity 4", [(math.nan, math.inf, -math.inf, 4)]),
    ("infin 1 2 3", []),                      # "inf" then "i" must be "infinity"
    ("nan(1) 1 2 3", []),                     # no "(...)": the "(" ends reading
    (". 1 2 3", []),
    ("1e5e5 1 2 3", []),
])
def test_pass_1_reads_what_fscanf_reads(text, groups):
    """Files that are not plain numbers are read by the C library's own fscanf (nanoBragg's loop)."""
    assert pass_1(text.encode(), exact=False) == (len(groups), limits_of(groups), False)


def test_pass_2_ints_are_what_fscanf_d_stores(tmp_path):
    # pass 1 leaves h at 0..0 (99999999999 truncates to INT_MIN); pass 2's "%d" cuts it to
    # 32 bits, like glibc: h = 1215752191, outside what pass 1 counted
    path = hkl_file(tmp_path, "99999999999 1 +5 1.0\n-0 007 3 2.5\n")
    with pytest.raises(InputError, match="reflection 1215752191 1 5 lies outside"):
        read_hkl(path, 0.0, Log())
    # "%d" reads the 3 of "3.0", then "%lg" reads ".0" as F: the stream is now misaligned
    sf = read_hkl(hkl_file(tmp_path, "-0 007 +3 2.5 1 2 3.0 4\n"), 9.0, Log())
    assert (sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max) == (0, 1, 2, 7, 3, 3)
    assert sf.grid[0, 5, 0] == 2.5 and sf.grid[1, 0, 0] == 0.0
    assert np.count_nonzero(sf.grid == 9.0) == 2 * 6 * 1 - 2


def test_read_hkl_negative_nan_warning_prints_minus_nan(tmp_path):
    log = Log()
    read_hkl(hkl_file(tmp_path, "-nan 1 1 4\n1 1 1 1\n"), 0.0, log)
    assert log.parts[1] == "WARNING: non-integer value for h (-nan) at line 0\n"


def test_read_hkl_pass2_index_outside_pass1_range_is_refused(tmp_path):
    # pass 1 makes h_max = (int)3e9 = INT_MIN and h_min = INT_MIN: range 1; pass 2's "%d"
    # reads 3000000000 as -1294967296, far outside it (nanoBragg writes out of bounds)
    path = hkl_file(tmp_path, "-2147483648 0 0 1\n3000000000 0 0 2\n")
    with pytest.raises(InputError, match=r"-hkl .*in\.hkl: reflection -1294967296 0 0 lies "
                                         r"outside"):
        read_hkl(path, 0.0, Log())


def test_read_hkl_absurd_range_is_refused(tmp_path):
    path = hkl_file(tmp_path, "-1000000 -1000000 -1000000 1\n1000000 1000000 1000000 1\n")
    with pytest.raises(InputError, match="too large"):
        read_hkl(path, 0.0, Log())


def read_both_ways(path, default_F=0.0):
    """read_hkl through the fast path and through the C library's fscanf."""
    fast_log, exact_log = Log(), Log()
    fast = read_hkl(path, default_F, fast_log)
    exact = read_hkl(path, default_F, exact_log, exact=True)
    return (fast, fast_log.text), (exact, exact_log.text)


def is_plain(data: bytes) -> bool:
    return pass_1(data, exact=False)[2]


def assert_same_structure_factors(a: StructureFactors, b: StructureFactors):
    assert concat(fdump_parts(a)) == concat(fdump_parts(b))
    assert a.hkls == b.hkls


def test_fast_and_exact_hkl_readers_agree_on_tiny():
    path = DATA / "tiny.hkl"
    assert is_plain(path.read_bytes())
    (fast, fast_log), (exact, exact_log) = read_both_ways(path, 3.0)
    assert_same_structure_factors(fast, exact)
    assert fast_log == exact_log


def random_hkl_text(rng: random.Random, n: int) -> str:
    lines = []
    for _ in range(n):
        h, k, l = (rng.randint(-9, 9) for _ in range(3))
        F = rng.choice([f"{rng.uniform(0, 500):.2f}", f"{rng.uniform(0, 5):.4e}", f"{rng.uniform(0, 5):.3E}",
                        f"+{rng.randint(0, 99)}", f"{rng.uniform(0, 1):.17g}", f"{rng.uniform(0, 1):.15g}",
                        f"{rng.uniform(-1e30, 1e30):.6g}", f"{rng.uniform(0, 1e-300):.5g}",
                        f"{rng.randint(0, 10**25)}", "-.5", "7.", "-0", "0.000000000000000000001234"])
        sep = rng.choice([" ", "  ", "\t"])
        end = rng.choice(["\n", "\r\n", "\n\n", " \v\f\n"])
        lines.append(sep.join([f"{h:+d}" if rng.random() < 0.2 else f"{h:4d}",
                               f"{k:4d}", f"{l:03d}" if l >= 0 else str(l), F]) + end)
    return "".join(lines)


@pytest.mark.parametrize("seed", range(5))
def test_fast_and_exact_hkl_readers_agree_on_random_files(tmp_path, seed):
    rng = random.Random(seed)
    path = hkl_file(tmp_path, random_hkl_text(rng, 300) + rng.choice(["", "1 2", "5 5 5"]))
    assert is_plain(path.read_bytes())
    (fast, fast_log), (exact, exact_log) = read_both_ways(path, seed * 1.5)
    assert_same_structure_factors(fast, exact)
    assert fast_log == exact_log


@pytest.mark.parametrize("text", ["1 2 3 4\n1 2 3.0 5\n", "1 2 3 4\n1e1 2 3 5\n",
                                  "1 2 3 4\n1-2 3 4 5\n", "1 2 3 4\n5 6 7 0x8\n",
                                  "1 2 3 4\n3000000000 1 1 1\n", "1 2 3 4 # x\n",
                                  "1 2 3 4\n1 2 3.5\n", "1 2 3 4 1-2 3 4\n", "1 2 3 1e\n",
                                  "1 2 3 4\0\n", "1 2 3 nan\n", "1 2 3 .\n"])
def test_fast_path_declines_what_it_cannot_be_sure_of(text):
    assert not is_plain(text.encode())


def test_left_over_tokens_can_make_a_pass_2_group(tmp_path):
    # pass 1: one group; pass 2: "1 2 3 4" then "5 6 7" + ".5" (5 is outside h 1..1)
    with pytest.raises(InputError, match="reflection 5 6 7 lies outside"):
        read_hkl(hkl_file(tmp_path, "1 2 3 4\n5 6 7.5"), 0.0, Log())


def test_golden_hkl_files_fast_and_exact_agree():
    for name in ("p1_small.hkl", "p1_sparse.hkl", "scaled.hkl"):
        path = golden_dir() / "inputs" / name
        assert is_plain(path.read_bytes()), name
        (fast, fast_log), (exact, exact_log) = read_both_ways(path, 25.0)
        assert_same_structure_factors(fast, exact)
        assert fast_log == exact_log


# ================================================================ Fdump.bin

def case_hkl_arguments(case: Path):
    """The -hkl file and default_F of a golden case (None when it has no -hkl)."""
    args = shlex.split((case / "args").read_text())
    if "-hkl" not in args:
        return None
    hkl = args[args.index("-hkl") + 1]
    default_F = float(args[args.index("-default_F") + 1]) if "-default_F" in args else 0.0
    return hkl, default_F


def test_fdump_matches_every_golden_dump(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checked = set()
    for case in golden_files("Fdump.bin"):
        hkl, default_F = case_hkl_arguments(case)
        real_path = (case / hkl).resolve()
        log = Log()
        sf = read_hkl(real_path, default_F, log)
        write_fdump("Fdump.bin", sf, log)
        assert Path("Fdump.bin").read_bytes() == golden_bytes(case / "Fdump.bin"), case.name
        assert concat(fdump_parts(sf)) == golden_bytes(case / "Fdump.bin")
        # the lines nanoBragg printed while doing the same
        stdout = (case / "stdout.txt").read_text()
        block = stdout[stdout.index("counting entries"):]
        block = block[:block.index("writing dump file for next time: Fdump.bin\n") + 43]
        assert log.text.replace(str(real_path), hkl) == block, case.name
        checked.add(Path(hkl).name)
    assert checked == {"scaled.hkl", "p1_small.hkl", "p1_sparse.hkl"}


def test_fdump_golden_round_trip():
    case = golden_dir() / "cases" / "fdump_reuse"
    path = case / "pre" / "Fdump.bin"
    log = Log()
    sf = read_fdump(path, log)
    assert log.text == f"reading Fs from {path}\n"
    assert "reading Fs from Fdump.bin\n" in (case / "stdout.txt").read_text()
    assert concat(fdump_parts(sf)) == path.read_bytes()
    assert (sf.h_min, sf.h_max) == (-12, 12)
    assert sf.hkls == sf.h_range * sf.k_range * sf.l_range


def test_fdump_write_and_read_back(tmp_path):
    sf = read_hkl(DATA / "tiny.hkl", 2.0, Log())
    log = Log()
    write_fdump(tmp_path / "Fdump.bin", sf, log)
    assert log.text == f"writing dump file for next time: {tmp_path / 'Fdump.bin'}\n"
    raw = (tmp_path / "Fdump.bin").read_bytes()
    assert raw.startswith(b"-2 1 -1 1 -1 2\n\f")
    assert len(raw) == 16 + 8 * 5 * 4 * 5
    assert np.array_equal(np.frombuffer(raw[16:], dtype=np.float64), sf.grid.ravel())
    back = read_fdump(tmp_path / "Fdump.bin", Log())
    assert np.array_equal(back.grid, sf.grid)
    assert back.grid.flags.c_contiguous and back.grid.flags.writeable
    assert (back.h_min, back.h_max, back.k_min, back.k_max, back.l_min, back.l_max) == (
        -2, 1, -1, 1, -1, 2)
    assert back.hkls == 4 * 3 * 4        # nanoBragg's count after reading a dump


def test_fdump_first_double_with_whitespace_bytes_round_trips(tmp_path):
    # nanoBragg's own reader would swallow these leading 0x20/0x0c bytes; ours must not
    grid = np.zeros((2, 2, 2))
    grid[0, 0, 0] = np.frombuffer(b"\x20\x0c\x09abcd@", dtype=np.float64)[0]
    sf = StructureFactors(grid, 0, 0, 0, 0, 0, 0, hkls=1)
    write_fdump(tmp_path / "F", sf, Log())
    assert read_fdump(tmp_path / "F", Log()).grid.tobytes() == grid.tobytes()


def test_write_fdump_failure_is_a_warning(tmp_path):
    sf = read_hkl(DATA / "tiny.hkl", 0.0, Log())
    log = Log()
    target = tmp_path / "missing_dir" / "Fdump.bin"
    write_fdump(target, sf, log)
    assert log.text == f"WARNING: unable to open dump file: {target}\n"


@pytest.mark.parametrize("content, why", [
    (b"", "header"),
    (b"garbage\n\f" + bytes(64), "header"),
    (b"0 1 0 1 0 1\n" + bytes(64), "header"),             # no form feed
    (b"0 1 0 1 0\n\f" + bytes(64), "header"),             # five numbers
    (b"1 0 0 1 0 1\n\f" + bytes(1000), "impossible"),     # h_max < h_min
    (b"0 1 0 1 0 1\n\f" + bytes(8 * 27 - 1), "data bytes"),
    (b"-2000000000 2000000000 0 1 0 1\n\f" + bytes(64), "too large"),     # over 2^31 - 1 values
])
def test_read_fdump_corrupt(tmp_path, content, why):
    path = tmp_path / "Fdump.bin"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_fdump(path, Log())
    message = str(info.value)
    assert message.startswith(f"-dump {path}: corrupt Fdump file") and why in message


def test_read_fdump_exact_size_and_missing(tmp_path):
    path = tmp_path / "Fdump.bin"
    path.write_bytes(b"0 1 0 1 0 1\n\f" + np.arange(27, dtype=np.float64).tobytes())
    sf = read_fdump(path, Log())
    assert sf.grid.shape == (3, 3, 3) and sf.grid[2, 2, 2] == 26.0 and sf.hkls == 8
    with pytest.raises(InputError, match=r"^-dump .*nothere: cannot open \(No such file"):
        read_fdump(tmp_path / "nothere", Log())


# ================================================================ generic text reader

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


# ================================================================ SMV input

def test_read_smv_header_img():
    log = Log()
    path = INPUTS / "header.img"
    smv = read_smv(path, "-img", log)
    assert log.text == f"reading {path}\n"
    assert (smv.width, smv.height, smv.header_size) == (48, 40, 512)
    assert smv.data.shape == (40, 48) and smv.data.dtype == np.uint16
    raw = path.read_bytes()
    assert np.array_equal(smv.data.ravel(), np.frombuffer(raw, "<u2", offset=512))
    assert smv.value_of("DISTANCE") == 85.0          # last match: CLOSE_DISTANCE
    assert smv.value_of("CLOSE_DISTANCE") == 85.0
    assert smv.value_of("BEAM_CENTER_Y") == 8.4
    assert smv.value_of("PIXEL_SIZE") == 0.35
    assert smv.value_of("WAVELENGTH") == 1.1
    assert smv.value_of("ORGX") == 25.0 and smv.value_of("ORGY") == 21.5714
    assert smv.value_of("PHI") == 3.0 and smv.value_of("OSC_RANGE") == 0.5
    assert smv.value_of("TWOTHETA") == 5.0
    assert smv.value_of("DIALS_ORIGIN") == -8.575
    assert math.isnan(smv.value_of("NO_SUCH_KEY"))


def test_read_smv_mask_img():
    smv = read_smv(INPUTS / "mask.img", "-mask")
    assert (smv.width, smv.height) == (72, 60)
    assert smv.value_of("BEAM_CENTER_Y") == 8.1 and smv.value_of("PIXEL_SIZE") == 0.3
    assert math.isnan(smv.value_of("DISTANCE"))
    raw = (INPUTS / "mask.img").read_bytes()
    assert np.array_equal(smv.data.ravel(), np.frombuffer(raw, "<u2", offset=512))
    assert (smv.data == 0).any() and (smv.data != 0).any()


def test_read_smv_golden_inputs_match_copies():
    for name in ("header.img", "mask.img"):
        assert (golden_dir() / "inputs" / name).read_bytes() == (INPUTS / name).read_bytes()


def test_read_smv_logs_like_golden_runs():
    for case, flag in (("img_header", "-img"), ("mask_roi", "-mask")):
        case_dir = golden_dir() / "cases" / case
        args = shlex.split((case_dir / "args").read_text())
        name = args[args.index(flag) + 1]
        log = Log()
        read_smv(case_dir / name, flag, log)
        first = (case_dir / "stdout.txt").read_text().splitlines(keepends=True)[0]
        assert log.text.replace(str(case_dir / name), name) == first == f"reading {name}\n"


def test_read_smv_without_fabio(monkeypatch):
    with_fabio = read_smv(INPUTS / "header.img", "-img")
    monkeypatch.setitem(sys.modules, "fabio", None)       # "import fabio" now fails
    without = read_smv(INPUTS / "header.img", "-img")
    assert np.array_equal(with_fabio.data, without.data)
    assert without.header == with_fabio.header


def smv_with(tmp_path, header_lines, data=b"", name="x.img", size=512):
    text = ("{\nHEADER_BYTES=%d;\n" % size + "".join(l + "\n" for l in header_lines) + "}\f")
    raw = text.encode().ljust(size, b" ") + data
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def test_value_of_rules(tmp_path):
    path = smv_with(tmp_path, ["SIZE1=2;", "SIZE2=1;", "AAA=1;", "NOEQUALS", "X= 1.5e1 mm;",
                               "HEX=0x10;"], bytes(4))
    smv = read_smv(path, "-img")
    assert smv.value_of("AA") == 1.0                  # first scan match at 0, then none
    assert smv.value_of("NOEQUALS") == 15.0           # takes the next '=' further on
    assert smv.value_of("X") == 16.0                  # the last "X" is the one in "HEX"
    assert smv.value_of("X=") == 0.0                  # ... "HEX=": no '=' after it
    assert smv.value_of("HEX") == 16.0
    assert smv.value_of("}") == 0.0                   # no '=' after it
    assert smv.value_of("HEADER_BYTES") == 512.0


def test_read_smv_detector_dimensions_and_header_size(tmp_path):
    data = np.arange(9, dtype=np.uint16).tobytes()
    path = smv_with(tmp_path, ["SIZE1=0;", "DETECTOR_DIMENSIONS=3;"], data)
    smv = read_smv(path, "-mask")
    assert (smv.width, smv.height) == (3, 3)
    assert smv.data.ravel().tolist() == list(range(9))
    path = smv_with(tmp_path, ["SIZE1=3;", "SIZE2=2;"], data[:12], size=1024)
    smv = read_smv(path, "-img")
    assert smv.header_size == 1024 and smv.data.ravel().tolist() == list(range(6))


def test_read_smv_big_endian_pixels_via_fabio(tmp_path):
    pytest.importorskip("fabio")
    values = np.array([[0, 1, 258]], dtype=">u2")
    path = smv_with(tmp_path, ["BYTE_ORDER=big_endian;", "TYPE=unsigned_short;", "SIZE1=3;",
                               "SIZE2=1;"], values.tobytes())
    assert read_smv(path, "-mask").data.tolist() == [[0, 1, 258]]


@pytest.mark.parametrize("content, message", [
    (b"P5\n2 2\n255\nabcd", "does not look like an ADSC frame"),
    (b"{\nHEADER_BYTES=512;\n}", "too short for an SMV header"),
])
def test_read_smv_refuses_non_smv(tmp_path, content, message):
    path = tmp_path / "bad.img"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_smv(path, "-img")
    assert str(info.value).startswith(f"-img {path}: {message}")


def test_read_smv_refuses_truncated_file(tmp_path):
    raw = (INPUTS / "header.img").read_bytes()
    path = tmp_path / "short.img"
    path.write_bytes(raw[:-1])
    with pytest.raises(InputError, match=r"^-mask .*short\.img: file is truncated"):
        read_smv(path, "-mask")


def test_read_smv_refuses_missing_sizes_and_bad_header_size(tmp_path):
    path = smv_with(tmp_path, ["PIXEL_SIZE=0.1;"], bytes(100))
    with pytest.raises(InputError, match="no image size"):
        read_smv(path, "-img")
    path = smv_with(tmp_path, ["SIZE1=-4;", "SIZE2=2;"], bytes(100))
    with pytest.raises(InputError, match="no image size"):
        read_smv(path, "-img")
    path = tmp_path / "hb.img"
    path.write_bytes(b"{\nHEADER_BYTES=99999;\nSIZE1=1;\nSIZE2=1;\n}\f".ljust(600))
    with pytest.raises(InputError, match="bad HEADER_BYTES"):
        read_smv(path, "-img")


def test_read_smv_reads_what_fabio_refuses_as_nanobragg_does(tmp_path):
    """nanoBragg's own images can have a header over 512 bytes (the supervisor case) and fabio
    refuses them; -img must still take their geometry, reading the header as nanoBragg does."""
    pytest.importorskip("fabio")
    header = smv_header_bytes(geometry(ORGX=-1.23457e-300, ORGY=-1.23457e-300,
                                       dials_origin=[-1.23457e-300] * 3, phi0=-1.23457e-300))
    assert len(header) > 512
    path = tmp_path / "long.img"
    pixels = np.arange(32 * 64, dtype=np.uint16).reshape(32, 64)
    save_file(path, smv_parts(header, pixels))
    smv = read_smv(path, "-img")
    assert (smv.width, smv.height, smv.header_size) == (64, 32, 512)
    assert smv.value_of("SIZE1") == 64.0
    # nanoBragg reads the pixels from byte HEADER_BYTES=512, 6 bytes before they really start
    raw = path.read_bytes()
    assert np.array_equal(smv.data.ravel(), np.frombuffer(raw, np.uint16, 64 * 32, offset=512))
    # trailing bytes: fabio refuses the size, nanoBragg's reading still works
    path.write_bytes((INPUTS / "header.img").read_bytes() + b"\0\0")
    assert read_smv(path, "-img").value_of("DISTANCE") == 85.0


def test_read_smv_missing_file(tmp_path):
    with pytest.raises(InputError) as info:
        read_smv(tmp_path / "none.img", "-img")
    path = tmp_path / "none.img"
    assert str(info.value) == f"-img {path}: cannot open (No such file or directory)"


def test_formats_does_not_import_fabio_eagerly(tmp_path):
    import subprocess
    code = "import sys, nbgpu.io; print('fabio' in sys.modules)"
    # outside the checkout, so that the installed package (with its compiled module) is used
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "False"

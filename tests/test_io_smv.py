"""io.smv: SMV headers and images byte for byte as nanoBragg writes them, and -img/-mask read as it
reads them (with fabio when installed, without it too)."""
import math
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest

import nbgpu.io.smv
from helpers import INPUTS, Log, golden_bytes, golden_dir, golden_files
from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError
from nbgpu.io import SmvGeometry, read_smv, save_file, smv_header_bytes, smv_parts


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

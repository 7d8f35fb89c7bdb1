"""SMV (ADSC) images: the header nanoBragg writes for its int and noise images, and the reader
of -img/-mask headers and pixels."""
import math
import os
import sys

from nbgpu.base.cnumbers import INT_MAX, INT_MIN, RTD, cfmt_g
from nbgpu.base.cnumbers import atof as c_atof
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.io.files import STREAM_HEAD, checked_pixels, read_input


class SmvGeometry(Record):
    """The numbers nanoBragg prints into its SMV headers (SI units, angles in radians)."""
    fpixels: int
    spixels: int
    pixel_size: float
    distance: float
    lambda0: float
    Xbeam: float                     # the beam centre as typed or defaulted
    Ybeam: float
    Fbeam: float                     # where the direct beam hits, along the detector axes
    Sbeam: float
    detsize_s: float
    close_distance: float
    dials_origin: tuple              # mm
    ORGX: float                      # pixels
    ORGY: float
    phi0: float
    osc: float
    detector_twotheta: float


def _byte_order() -> str:
    return "little_endian" if sys.byteorder == "little" else "big_endian"


def smv_header_bytes(h: SmvGeometry, noise=False) -> bytes:
    """nanoBragg's ADSC header for the int image (noise=False) or the noise image.

    Every value is computed with the same double arithmetic as nanoBragg.  The text is padded
    with spaces to 512 bytes; a longer text is left as it is (nanoBragg then still claims
    HEADER_BYTES=512, and the pixels start right after the form feed).
    """
    px = float(h.pixel_size)
    Fbeam, Sbeam = float(h.Fbeam), float(h.Sbeam)
    # the two images differ only here: Sbeam+0.0*px vs Sbeam-0.0*px (visible for -0.0 only)
    if noise:
        denzo_x, denzo_y = (Sbeam + 0.0 * px) * 1000.0, (Fbeam + 0.0 * px) * 1000
    else:
        denzo_x, denzo_y = (Sbeam - 0.0 * px) * 1000.0, (Fbeam - 0.0 * px) * 1000
    values = [
        ("PIXEL_SIZE", px * 1000.0),
        ("DISTANCE", float(h.distance) * 1000.0),
        ("WAVELENGTH", float(h.lambda0) * 1e10),
        ("BEAM_CENTER_X", float(h.Xbeam) * 1000.0),
        ("BEAM_CENTER_Y", float(h.Ybeam) * 1000),
        ("ADXV_CENTER_X", Fbeam * 1000.0),
        ("ADXV_CENTER_Y", (float(h.detsize_s) - Sbeam) * 1000),
        ("MOSFLM_CENTER_X", (Sbeam - 0.5 * px) * 1000.0),
        ("MOSFLM_CENTER_Y", (Fbeam - 0.5 * px) * 1000),
        ("DENZO_X_BEAM", denzo_x),
        ("DENZO_Y_BEAM", denzo_y),
        # nanoBragg writes this one without the semicolon
        ("DIALS_ORIGIN", ",".join(cfmt_g(v) for v in h.dials_origin), ""),
    ]
    phi = float(h.phi0) * RTD
    values += [
        ("XDS_ORGX", float(h.ORGX)),
        ("XDS_ORGY", float(h.ORGY)),
        ("CLOSE_DISTANCE", float(h.close_distance) * 1000.0),
        ("PHI", phi),
        ("OSC_START", phi),
        ("OSC_RANGE", float(h.osc) * RTD),
        ("TWOTHETA", float(h.detector_twotheta) * RTD),
    ]
    return smv_header(int(h.fpixels), int(h.spixels), values)


def smv_header(fpixels: int, spixels: int, values, pixel_type="unsigned_short") -> bytes:
    """An ADSC header as the suite's programs write it: `{`, HEADER_BYTES=512, DIM, BYTE_ORDER
    (this machine's), TYPE, SIZE1, SIZE2, then each
    (KEY, value[, end]) as KEY=value; (a number as C's %g; `end` replaces the semicolon), then
    DETECTOR_SN=000, BEAMLINE=fake, `}` and a form feed, padded with spaces to 512 bytes (a
    longer text is left as it is, still claiming 512)."""
    return _header_text(["{", "HEADER_BYTES=512;", "DIM=2;", f"BYTE_ORDER={_byte_order()};",
                         f"TYPE={pixel_type};"], fpixels, spixels, values)


def smv_header_untyped(fpixels: int, spixels: int, values) -> bytes:
    """noisify's header for a word size other than 16 or 32 bits: smv_header's text without its
    first five lines (no `{`, HEADER_BYTES, DIM, BYTE_ORDER, TYPE), padded to 512 bytes."""
    return _header_text([], fpixels, spixels, values)


def _header_text(first_lines: list, fpixels: int, spixels: int, values) -> bytes:
    lines = first_lines + [f"SIZE1={fpixels};", f"SIZE2={spixels};"]
    for key, value, *end in values:
        text = value if isinstance(value, str) else cfmt_g(value)
        lines.append(f"{key}={text}{end[0] if end else ';'}")
    lines += ["DETECTOR_SN=000;", "BEAMLINE=fake;", "}\f"]
    text = "\n".join(lines).encode("ascii")
    return text + b" " * (512 - len(text))   # a negative count gives no padding


def smv_parts(header_bytes, data_uint16) -> list:
    """SMV file: the header as given, then the pixels as native-order uint16."""
    return [header_bytes, checked_pixels(data_uint16, "uint16", None, "SMV pixel data")]


def _value_of(header: str, keyword: str) -> float:
    """nanoBragg's ValueOf: the text after the '=' that follows the last occurrence of the
    keyword anywhere in the header (so DISTANCE finds CLOSE_DISTANCE); NaN if absent."""
    if not keyword:
        raise ValueError("empty SMV keyword")
    pos = -1
    found = header.find(keyword)
    while found >= 0:     # scan forward like repeated strstr (non-overlapping matches)
        pos = found + len(keyword)
        found = header.find(keyword, pos)
    if pos < 0:
        return math.nan
    equals = header.find("=", pos)
    if equals < 0:
        return 0.0
    return c_atof(header[equals + 1:])


class SmvFile:
    """An SMV image as nanoBragg's GetFrame sees it."""

    def __init__(self, path: str, header: str, header_size: int, width: int, height: int, data):
        self.path = path
        self.header = header              # the text nanoBragg searches (header_size bytes, up to a NUL)
        self.header_size = header_size
        self.width, self.height = width, height
        self.data = data                  # numpy uint16, shape (height, width)

    def value_of(self, keyword: str) -> float:
        return _value_of(self.header, keyword)


def _c_string(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1")


def _header_int(header: str, keyword: str):
    """(int) of a header value, or None when it is missing or not a usable number."""
    value = _value_of(header, keyword)
    if not math.isfinite(value) or not INT_MIN <= value <= INT_MAX:
        return None
    return math.trunc(value)


def _fabio_pixels(path, shape):
    """Pixels as read by fabio, or None when fabio is missing or refuses a file that passed
    nanoBragg's own checks (then the caller reads the pixels as nanoBragg does)."""
    try:
        import fabio   # slow to import and optional: only -img/-mask need it
    except ImportError:
        return None
    import logging
    logger = logging.getLogger("fabio")    # its warnings go to stderr; nanoBragg prints none
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        pixels = fabio.open(os.fspath(path)).data
    except Exception:   # e.g. nanoBragg's own images with a header longer than 512 bytes
        return None
    finally:
        logger.setLevel(level)
    import numpy as np
    if pixels is None or pixels.shape != shape or pixels.dtype != np.uint16:
        return None
    return np.ascontiguousarray(pixels)


SMV_START = b"{\nHEADER_BYT"


def _smv_size(head: bytes, flag, path):
    """How many bytes an SMV file read from a stream needs, from its first bytes (None: not
    known yet); InputError as soon as they show it is not one."""
    if not head.startswith(SMV_START[:len(head)]):
        raise InputError(f"{flag} {path}: does not look like an ADSC frame")
    if len(head) < 512:
        return None
    header = _c_string(head[:512])
    header_size = _header_int(header, "HEADER_BYTES")
    if header_size is None or header_size <= 0:
        return 512
    if len(head) < header_size:
        return None if header_size <= STREAM_HEAD else header_size
    header = _c_string(head[:header_size])
    width, height = _header_int(header, "SIZE1"), _header_int(header, "SIZE2")
    if not width:
        width = height = _header_int(header, "DETECTOR_DIMENSIONS")
    if width is None or height is None or width <= 0 or height <= 0:
        return header_size
    return header_size + 2 * width * height


def read_smv(path, flag, log=None) -> SmvFile:
    """Read an SMV (ADSC) file for -img/-mask with nanoBragg's header rules.

    Files nanoBragg would choke on (not SMV, no sizes, too short) are refused.  Pixels come
    from fabio when it is installed and can read the file (it honours
    BYTE_ORDER; nanoBragg never swaps bytes, which makes no difference to a mask's zero/non-zero
    test), else (and for DETECTOR_DIMENSIONS headers, which fabio cannot size) from the
    native-order bytes after the header, as nanoBragg reads them.
    `log` receives nanoBragg's "reading NAME" line; its "mmap(...) = 0x..." line, a pointer,
    is left to the caller.
    """
    raw = read_input(path, flag, text=False, size_of=lambda head: _smv_size(head, flag, path))
    if not raw.startswith(SMV_START):
        raise InputError(f"{flag} {path}: does not look like an ADSC frame")
    if len(raw) < 512:
        raise InputError(f"{flag} {path}: too short for an SMV header ({len(raw)} bytes)")
    header = _c_string(raw[:512])
    header_size = _header_int(header, "HEADER_BYTES")
    if header_size is None or not 0 < header_size <= len(raw):
        raise InputError(f"{flag} {path}: bad HEADER_BYTES in the SMV header")
    if header_size != 512:
        header = _c_string(raw[:header_size])
    width, height = _header_int(header, "SIZE1"), _header_int(header, "SIZE2")
    square = width == 0     # nanoBragg's fallback; fabio knows only SIZE1/SIZE2
    if square:
        width = height = _header_int(header, "DETECTOR_DIMENSIONS")
    if width is None or height is None or width <= 0 or height <= 0:
        raise InputError(f"{flag} {path}: no image size (SIZE1/SIZE2) in the SMV header")
    if log is not None:
        log(f"reading {path}\n")
    need = header_size + 2 * width * height
    if len(raw) < need:
        raise InputError(f"{flag} {path}: file is truncated ({len(raw)} bytes, the header "
                         f"promises {need})")
    data = None if square or not os.path.isfile(path) else _fabio_pixels(path, (height, width))
    if data is None:
        import numpy as np
        data = np.frombuffer(raw, dtype=np.uint16, count=width * height,
                             offset=header_size).reshape(height, width).copy()
    return SmvFile(os.fspath(path), header, header_size, width, height, data)


class SmvHeader(Record):
    """An SMV file's header as noisify's -header takes it (GetFrame's rules)."""
    raw: bytes                       # the first HEADER_BYTES bytes, copied verbatim onto the outputs
    text: str                        # what its keyword search sees (up to the first NUL)
    width: int                       # SIZE1 (or DETECTOR_DIMENSIONS)
    height: int                      # SIZE2 (or DETECTOR_DIMENSIONS)

    def value_of(self, keyword: str) -> float:
        return _value_of(self.text, keyword)


def read_smv_header(path, flag) -> SmvHeader:
    """The header of an SMV file for noisify's -header: the 512 first bytes must start as an
    ADSC frame does, HEADER_BYTES bytes must be there, and the size (SIZE1/SIZE2, or
    DETECTOR_DIMENSIONS when SIZE1 is 0) must be positive; the pixels are not needed (noisify
    reads them, and uses none).  InputError otherwise: noisify would go on with an uninitialised
    header, or stop."""
    raw = read_input(path, flag, text=False, size_of=lambda head: _smv_size(head, flag, path))
    if len(raw) < 512:
        raise InputError(f"{flag} {path}: too short for an SMV header ({len(raw)} bytes)")
    if not raw.startswith(SMV_START):
        raise InputError(f"{flag} {path}: does not look like an ADSC frame")
    header_size = _header_int(_c_string(raw[:512]), "HEADER_BYTES")
    if header_size is None or not 0 < header_size <= len(raw):
        raise InputError(f"{flag} {path}: bad HEADER_BYTES in the SMV header")
    text = _c_string(raw[:header_size])
    width, height = _header_int(text, "SIZE1"), _header_int(text, "SIZE2")
    if width == 0:
        width = height = _header_int(text, "DETECTOR_DIMENSIONS")
    if width is None or height is None or width <= 0 or height <= 0 or width * height > INT_MAX:
        raise InputError(f"{flag} {path}: no usable image size (SIZE1/SIZE2) in the SMV header")
    return SmvHeader(raw=raw[:header_size], text=text, width=width, height=height)

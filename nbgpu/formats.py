"""nanoBragg's file formats, byte for byte: outputs (SMV, raw float, PGM, Fdump.bin) and inputs
(HKL text, Fdump.bin, the generic text reader, SMV headers for -img/-mask).

Everything nanoBragg prints while reading or writing goes through a `log` callable so that the
caller controls where stdout text ends up.  Problems the user can fix raise InputError with one
line that names the flag and the file.
"""
import math
import os
import re
import sys

from ._nbcore import ffi, lib
from .cnum import INT_MAX, INT_MIN, RTD, cformat
from .cnum import atof as c_atof
from .errors import InputError
from .memory import check_allocation
# refuse structure-factor grids beyond this many doubles (16 GiB): only a misparsed file gets here
MAX_GRID_ELEMENTS = 2**31


# ---------------------------------------------------------------- small C-compatibility helpers

def cfmt_g(x) -> str:
    """C printf "%g" of a double."""
    return cformat("%g", float(x))


def _strerror(err: OSError) -> str:
    return err.strerror or str(err)


def _open_error(flag: str, path, err: OSError) -> InputError:
    return InputError(f"{flag} {path}: cannot open ({_strerror(err)})")


def _read_input(path, flag: str) -> bytes:
    """Whole content of an input file, or InputError naming the flag."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise _open_error(flag, path, err) from err


# ---------------------------------------------------------------- atomic output

def _as_bytes_view(part):
    """A writable-to-file view of one chunk: bytes, a C array, or a numpy array."""
    if isinstance(part, ffi.CData):
        return ffi.buffer(part)
    if type(part).__module__ == "numpy":
        return _checked_pixels(part, part.dtype, None, "data").reshape(-1).view("uint8")
    return part


def atomic_write(path, parts):
    """Write the chunks to a temporary file beside `path`, then rename it into place.

    nanoBragg writes straight into the final name; a drop-in should never leave a half-written
    image behind, so the final name only ever holds a complete file.
    """
    atomic_write_all([(path, parts)])


def atomic_write_all(files):
    """Several files, all or none: every one is written to a temporary name first, and only
    when all are complete are they renamed into place (a failure leaves no new file)."""
    written = []
    try:
        for path, parts in files:
            path = os.fspath(path)
            directory, base = os.path.split(path)
            tmp = os.path.join(directory, f".{base[:200]}.{os.getpid()}.{os.urandom(6).hex()}.tmp")
            try:
                # O_EXCL with mode 0666: the kernel applies the umask, as for nanoBragg's fopen
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
                written.append((tmp, path))
                with os.fdopen(fd, "wb") as f:
                    for part in parts:
                        f.write(_as_bytes_view(part))
            except OSError as err:
                raise InputError(f"cannot write {path}: {_strerror(err)}") from err
        for tmp, path in written:
            try:
                os.replace(tmp, path)
            except OSError as err:
                raise InputError(f"cannot write {path}: {_strerror(err)}") from err
        written = []
    finally:
        for tmp, _ in written:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _checked_pixels(array, dtype, count: int, what: str):
    """The pixels as written: a C array as it is, anything else as a numpy array in native
    byte order and C order, after checking its type and size."""
    if isinstance(array, ffi.CData):
        if count is not None and len(array) != count:
            raise ValueError(f"{what} has {len(array)} pixels, expected {count}")
        return array
    import numpy as np
    array = np.asarray(array)
    want = np.dtype(dtype)
    if array.dtype.kind != want.kind or array.dtype.itemsize != want.itemsize:
        raise TypeError(f"{what} must be {want.name}, not {array.dtype}")
    if count is not None and array.size != count:
        raise ValueError(f"{what} has {array.size} pixels, expected {count}")
    return np.ascontiguousarray(array, dtype=want)


# ---------------------------------------------------------------- SMV / float / PGM output

def _byte_order() -> str:
    return "little_endian" if sys.byteorder == "little" else "big_endian"


def smv_header_bytes(h, noise=False) -> bytes:
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
    ]
    lines = ["{", "HEADER_BYTES=512;", "DIM=2;", f"BYTE_ORDER={_byte_order()};",
             "TYPE=unsigned_short;", f"SIZE1={int(h.fpixels)};", f"SIZE2={int(h.spixels)};"]
    lines += [f"{key}={cfmt_g(value)};" for key, value in values]
    # nanoBragg writes this one without the semicolon
    lines.append("DIALS_ORIGIN=" + ",".join(cfmt_g(v) for v in h.dials_origin))
    phi = float(h.phi0) * RTD
    values = [
        ("XDS_ORGX", float(h.ORGX)),
        ("XDS_ORGY", float(h.ORGY)),
        ("CLOSE_DISTANCE", float(h.close_distance) * 1000.0),
        ("PHI", phi),
        ("OSC_START", phi),
        ("OSC_RANGE", float(h.osc) * RTD),
        ("TWOTHETA", float(h.detector_twotheta) * RTD),
    ]
    lines += [f"{key}={cfmt_g(value)};" for key, value in values]
    lines += ["DETECTOR_SN=000;", "BEAMLINE=fake;", "}\f"]
    text = "\n".join(lines).encode("ascii")
    return text + b" " * (512 - len(text))   # a negative count gives no padding


def smv_parts(header_bytes, data_uint16) -> list:
    """SMV file: the header as given, then the pixels as native-order uint16."""
    return [header_bytes, _checked_pixels(data_uint16, "uint16", None, "SMV pixel data")]


def write_smv(path, header_bytes, data_uint16):
    atomic_write(path, smv_parts(header_bytes, data_uint16))


def float_image_parts(image_float32) -> list:
    """nanoBragg's float image: raw native float32, no header."""
    return [_checked_pixels(image_float32, "float32", None, "float image")]


def write_float_image(path, image_float32):
    atomic_write(path, float_image_parts(image_float32))


def pgm_bytes_header(fpixels, spixels, pgm_scale) -> bytes:
    """Binary PGM header with nanoBragg's scale comment."""
    return (f"P5\n{int(fpixels)} {int(spixels)}\n"
            f"# pixels scaled by {cfmt_g(pgm_scale)}\n255\n").encode("ascii")


def pgm_parts(fpixels, spixels, pgm_scale, pixels_uint8) -> list:
    """PGM image: header then one byte per pixel, fast index fastest."""
    pixels = _checked_pixels(pixels_uint8, "uint8", int(fpixels) * int(spixels), "PGM pixels")
    return [pgm_bytes_header(fpixels, spixels, pgm_scale), pixels]


def write_pgm(path, fpixels, spixels, pgm_scale, pixels_uint8):
    atomic_write(path, pgm_parts(fpixels, spixels, pgm_scale, pixels_uint8))


# ---------------------------------------------------------------- structure factors

class StructureFactors:
    """nanoBragg's Fhkl grid: [h-h_min][k-k_min][l-l_min], l fastest, with one extra zero plane
    along each axis.  `values` is the C array of doubles (any buffer of them is accepted);
    `grid` is the same memory as a numpy array."""

    def __init__(self, values, h_min, h_max, k_min, k_max, l_min, l_max, hkls):
        self.values = values if isinstance(values, ffi.CData) else ffi.from_buffer("double[]", values)
        self.h_min, self.h_max, self.k_min, self.k_max, self.l_min, self.l_max = (
            h_min, h_max, k_min, k_max, l_min, l_max)
        self.hkls = hkls

    @property
    def h_range(self) -> int:
        return self.h_max - self.h_min + 1

    @property
    def k_range(self) -> int:
        return self.k_max - self.k_min + 1

    @property
    def l_range(self) -> int:
        return self.l_max - self.l_min + 1

    @property
    def shape(self) -> tuple:
        return (self.h_range + 1, self.k_range + 1, self.l_range + 1)

    @property
    def grid(self):
        import numpy as np
        return np.frombuffer(ffi.buffer(self.values), dtype=np.float64).reshape(self.shape)


def read_hkl(path, default_F, log, flag="-hkl", exact=False) -> StructureFactors:
    """Read an HKL text file the way nanoBragg does: two fscanf passes over 4-number groups.

    Pass 1 ("%lg" x4) counts the groups and the index limits; pass 2 ("%d %d %d %lg") stores
    F, the last of any duplicates winning.  A non-integer index ends pass 2 (as h or k) or
    misaligns it (as l, whose fraction "%lg" then reads as F).  Both passes are C (nb_hkl.c):
    the C library's fscanf itself, or for plain files (exact=False) a tokenizer that gives the
    same numbers.
    """
    data = _read_input(path, flag)
    log(f"counting entries in {path}\n")
    scan = ffi.new("nb_hkl_scan *")
    try:
        if lib.nb_hkl_count(data, len(data), int(exact), scan) != lib.NB_OK:
            raise InputError(f"{flag} {path}: not enough memory to read the file")
        for line in ffi.string(scan.warnings).decode("latin-1").splitlines(keepends=True):
            log(line)
        limits = ((scan.h_min, scan.h_max), (scan.k_min, scan.k_max), (scan.l_min, scan.l_max))
        ranges = (scan.h_range, scan.k_range, scan.l_range)
        if min(ranges) < 0:
            for name, (lo, hi) in zip("hkl", limits):
                log(f"{name}: {lo} - {hi}\n")
            raise InputError(f"{flag}: not enough HKL indices in {path}")
        count = math.prod(r + 1 for r in ranges)
        if count > MAX_GRID_ELEMENTS:
            raise InputError(f"{flag} {path}: HKL index ranges {ranges[0]}x{ranges[1]}x{ranges[2]}"
                             f" are too large (misparsed file?)")
        check_allocation(8 * count, f"{flag} {path}: the structure-factor grid of index ranges "
                         f"{ranges[0]}x{ranges[1]}x{ranges[2]}", "check the file's h, k, l columns")
        try:
            values = ffi.new("double[]", count)
        except MemoryError as err:
            raise InputError(f"{flag} {path}: not enough memory for the structure factors") from err
        if default_F != 0.0:
            log(f"initializing to default_F = {cfmt_g(default_F)}:\n")
            lib.nb_hkl_fill(scan, values, default_F)
            log("done initializing:\n")
        log(f"re-reading {path}\n")
        bad = ffi.new("int[3]")
        status = lib.nb_hkl_store(data, len(data), scan, values, bad)
        if status == lib.NB_BAD_ARGUMENT:
            raise InputError(f"{flag} {path}: reflection {bad[0]} {bad[1]} {bad[2]} lies outside the index "
                             f"ranges counted in the first pass (misparsed file?)")
        if status != lib.NB_OK:
            raise InputError(f"{flag} {path}: not enough memory to read the file")
        return StructureFactors(values, scan.h_min, scan.h_max, scan.k_min, scan.k_max, scan.l_min,
                                scan.l_max, hkls=scan.hkls)
    finally:
        lib.nb_hkl_free(scan)


def fdump_bytes(sf: StructureFactors) -> list:
    """Fdump.bin as chunks: "h_min h_max k_min k_max l_min l_max\\n\\f", then the whole grid
    (padding planes included) as native doubles, h slowest."""
    header = (f"{sf.h_min} {sf.h_max} {sf.k_min} {sf.k_max} {sf.l_min} {sf.l_max}\n\f"
              .encode("ascii"))
    return [header, ffi.buffer(sf.values)]


def write_fdump(path, sf: StructureFactors, log):
    """Write the dump file for next time; like nanoBragg, failure is only a warning."""
    try:
        atomic_write(path, fdump_bytes(sf))
    except InputError:
        log(f"WARNING: unable to open dump file: {path}\n")
        return
    log(f"writing dump file for next time: {path}\n")


_FDUMP_HEADER = re.compile(rb"[ \t]*" + rb"[ \t]+".join([rb"([+-]?\d{1,10})"] * 6)
                           + rb"[ \t]*\n\f")


def read_fdump(path, log, flag="-dump") -> StructureFactors:
    """Read a dump file written by write_fdump (or nanoBragg).

    nanoBragg reads the header with fscanf("%d%d%d%d%d%d\\n\\f"), whose whitespace directives
    also swallow any leading bytes of the first double that happen to be whitespace
    (0x09-0x0D, 0x20), misaligning the grid.  We read the layout that is written instead:
    the header line, exactly one form feed, then the doubles.
    """
    try:
        f = open(path, "rb")
    except OSError as err:
        raise _open_error(flag, path, err) from err
    with f:
        log(f"reading Fs from {path}\n")
        try:
            head = f.read(128)
            size = os.fstat(f.fileno()).st_size
            m = _FDUMP_HEADER.match(head)
            if not m:
                raise _corrupt(flag, path, "no 'h_min h_max k_min k_max l_min l_max' header")
            h_min, h_max, k_min, k_max, l_min, l_max = (int(v) for v in m.groups())
            ranges = (h_max - h_min + 1, k_max - k_min + 1, l_max - l_min + 1)
            limits = (h_min, h_max, k_min, k_max, l_min, l_max)
            if min(ranges) < 1 or not all(INT_MIN <= v <= INT_MAX for v in limits):
                raise _corrupt(flag, path, f"impossible index ranges {ranges}")
            shape = tuple(r + 1 for r in ranges)
            count = math.prod(shape)
            have = size - m.end()
            if have < 8 * count:
                raise _corrupt(flag, path, f"{have} data bytes, the index ranges need {8 * count}")
            check_allocation(8 * count, f"{flag} {path}: a structure-factor grid of index ranges {ranges}",
                             "is it an Fdump.bin?")
            f.seek(m.end())
            values = ffi.new("double[]", count)
            got = f.readinto(ffi.buffer(values))
        except OSError as err:
            raise InputError(f"{flag} {path}: cannot read ({_strerror(err)})") from err
    if got != 8 * count:
        raise _corrupt(flag, path, "file shrank while being read")
    return StructureFactors(values, h_min, h_max, k_min, k_max, l_min, l_max,
                            hkls=ranges[0] * ranges[1] * ranges[2])


def _corrupt(flag, path, why) -> InputError:
    return InputError(f"{flag} {path}: corrupt Fdump file ({why})")


# ---------------------------------------------------------------- generic text reader

_FGETS_SIZE = 10240          # nanoBragg's line buffer; fgets stores at most 10239 characters
_DELIMITERS = b" \t,;:!"
_NUMBER_CHARS = b"0123456789-+.EGeg"


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


def read_text_file(path, ncols, flag):
    """nanoBragg's multi-column text reader (-sourcefile, -stol): one row per counted line.

    A line counts unless it is only delimiters and "\\n"; missing columns stay NaN, but a
    line whose last value is not followed by delimiters and "\\n" (CRLF, no final newline) gets
    0 in every remaining column, and a comment line is all zeros.
    """
    import numpy as np
    data = _read_input(path, flag)
    lines = [text for text in _fgets_lines(data)
             if text[_span(text, 0, _DELIMITERS):] != b"\n"]
    table = np.full((len(lines), ncols), np.nan)
    for text, row in zip(lines, table):
        _parse_text_line(text, row)
    return table


# ---------------------------------------------------------------- SMV input (-img, -mask)

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


def _fabio_pixels(path, flag: str, shape):
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
    raw = _read_input(path, flag)
    if not raw.startswith(b"{\nHEADER_BYT"):
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
    data = None if square else _fabio_pixels(path, flag, (height, width))
    if data is None:
        import numpy as np
        data = np.frombuffer(raw, dtype=np.uint16, count=width * height,
                             offset=header_size).reshape(height, width).copy()
    return SmvFile(os.fspath(path), header, header_size, width, height, data)

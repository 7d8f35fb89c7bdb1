"""C's atof/atoi, which nanoBragg uses for every number it reads.

nanoBragg never validates: it converts the longest numeric prefix and reads 0 when there is
none.  Parity needs the same conversion wherever nanoBragg applies it (collided flags, SMV
header values, text files); validation of typed values happens in setup/flags.py.
"""
import math
import re

from nbgpu.base.errors import InputError

RTD = 180.0 * 0.31830988618379067154      # nanoBragg's RTD = 180*M_1_PI, bit for bit
INT_MIN, INT_MAX = -2**31, 2**31 - 1

# strtod's decimal syntax (hex floats are left out: nothing nanoBragg reads uses them)
_FLOAT_PREFIX = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan))",
    re.IGNORECASE)
_INT_PREFIX = re.compile(r"[ \t\n\v\f\r]*([+-]?\d+)")


_HEX_FLOAT = re.compile(
    r"[ \t\n\v\f\r]*([+-]?)0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP]([+-]?\d+))?")


def hex_float(sign: str, mantissa: str, exponent) -> float:
    """Value of a C hex float (strtod rounds correctly, so does float.fromhex)."""
    try:
        return float.fromhex(f"{sign}0x{mantissa}p{exponent or 0}")
    except OverflowError:
        return -math.inf if sign == "-" else math.inf


def atof(text: str) -> float:
    """Value of the longest leading number in text, 0.0 when there is none (glibc atof)."""
    m = _HEX_FLOAT.match(text)
    if m:
        return hex_float(*m.groups())
    m = _FLOAT_PREFIX.match(text)
    return float(m.group(1)) if m else 0.0


def c_int(x: float) -> int:
    """(int)x as x86 converts a double: truncation; NaN and out-of-range give INT_MIN."""
    if x == x and -2147483648.0 <= x < 2147483648.0:
        return int(x)
    return INT_MIN


def atoi(text: str) -> int:
    """Value of the leading integer in text, 0 when there is none (C atoi, 32-bit wrap)."""
    m = _INT_PREFIX.match(text)
    if not m:
        return 0
    value = int(m.group(1))
    # glibc atoi is (int)strtol: out-of-range values saturate to LONG_MIN/MAX, then truncate
    value = max(min(value, 2**63 - 1), -2**63)
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def is_number(text: str) -> bool:
    """True when the whole word is one finite-or-not decimal number (what a value should be)."""
    m = _FLOAT_PREFIX.fullmatch(text.strip())
    return m is not None


def checked(flag: str, number: float, check: str = "", shown=None) -> float:
    """number, or the InputError naming the flag where it is NaN/inf or fails `check`
    ("positive": > 0, "nonnegative": >= 0): the one rule for typed numbers, nanoBragg's flags
    and the click options alike (shown: the word as typed)."""
    shown = f"{number:g}" if shown is None else repr(shown)
    if not math.isfinite(number):
        raise InputError(f"{flag}: value must be finite, got {shown}")
    if check == "positive" and not number > 0:
        raise InputError(f"{flag}: value must be greater than 0, got {shown}")
    if check == "nonnegative" and not number >= 0:
        raise InputError(f"{flag}: value must not be negative, got {shown}")
    return number


def scan_numbers(text: str, count: int) -> list[float]:
    """Up to `count` numbers read like repeated scanf("%lg"): stops at the first non-number."""
    values, pos = [], 0
    while len(values) < count:
        m = _FLOAT_PREFIX.match(text, pos)
        if not m:
            break
        values.append(float(m.group(1)))
        pos = m.end()
    return values


_CONVERSION = re.compile(r"%([-+ #0]*)(\d*)(\.\d+)?[diouxXeEfFgGcs%]")


def cformat(fmt: str, *args) -> str:
    """printf as C prints it: Python's % formatting, except that a NaN keeps its sign ("-nan",
    as glibc prints the NaN of 0/0 or inf-inf)."""
    out, pos, n = [], 0, 0
    for m in _CONVERSION.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        if m.group() == "%%":
            out.append("%")
            continue
        arg, n = args[n], n + 1
        if isinstance(arg, float) and arg != arg:
            flags, width = m.group(1), m.group(2)
            text = ("-" if math.copysign(1.0, arg) < 0 else "+" if "+" in flags else "") + "nan"
            out.append(("%" + ("-" if "-" in flags else "") + width + "s") % text)
        else:
            out.append(m.group() % arg)
    out.append(fmt[pos:])
    return "".join(out)


def cfmt_g(x) -> str:
    """C printf "%g" of a double."""
    return cformat("%g", float(x))

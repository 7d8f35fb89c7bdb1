"""C's atof/atoi, which nanoBragg uses for every number it reads.

nanoBragg never validates: it converts the longest numeric prefix and reads 0 when there is
none.  Parity needs the same conversion wherever nanoBragg applies it (collided flags, SMV
header values, text files); validation of typed values happens in flags.py.
"""
import re

# strtod's decimal syntax (hex floats are left out: nothing nanoBragg reads uses them)
_FLOAT_PREFIX = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan))",
    re.IGNORECASE)
_INT_PREFIX = re.compile(r"[ \t\n\v\f\r]*([+-]?\d+)")


def atof(text: str) -> float:
    """Value of the longest leading number in text, 0.0 when there is none (C atof)."""
    m = _FLOAT_PREFIX.match(text)
    return float(m.group(1)) if m else 0.0


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

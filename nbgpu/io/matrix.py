"""The -mat file: a MOSFLM orientation matrix, whose first nine numbers are the A matrix
(reciprocal cell vectors in 1/A, scaled by the wavelength), read as nanoBragg scans them."""
import math

from nbgpu.base.cnumbers import scan_numbers
from nbgpu.base.errors import InputError
from nbgpu.io.files import read_input


def read_matrix(path, log, flag="-mat") -> tuple:
    """The nine numbers, row by row; `log` gets nanoBragg's "reading" line once the file is open."""
    try:
        text = read_input(path, flag).decode()
    except UnicodeDecodeError as exc:
        raise InputError(f"{flag} {path}: cannot read ({exc})") from None
    log("reading %s\n" % path)
    numbers = scan_numbers(text, 9)
    if len(numbers) < 9 or not all(math.isfinite(x) for x in numbers):
        raise InputError(f"{flag} {path}: expected 9 finite numbers (a MOSFLM A matrix), found {len(numbers)}")
    return tuple(numbers[:9])

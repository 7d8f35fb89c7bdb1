"""Fdump.bin, the cache of the structure-factor grid nanoBragg writes after reading an HKL file."""
import math
import os
import re

from nbgpu._nbcore import ffi
from nbgpu.base.cnumbers import INT_MAX, INT_MIN
from nbgpu.base.errors import InputError
from nbgpu.base.memory import check_allocation
from nbgpu.io.files import open_error, save_file, strerror
from nbgpu.io.hkl import MAX_GRID_ELEMENTS, StructureFactors, finite


def fdump_parts(sf: StructureFactors) -> list:
    """Fdump.bin's parts: "h_min h_max k_min k_max l_min l_max\\n\\f", then the whole grid
    (padding planes included) as native doubles, h slowest."""
    header = (f"{sf.h_min} {sf.h_max} {sf.k_min} {sf.k_max} {sf.l_min} {sf.l_max}\n\f"
              .encode("ascii"))
    return [header, ffi.buffer(sf.values)]


def write_fdump(path, sf: StructureFactors, log):
    """Write the dump file for next time; like nanoBragg, failure is only a warning."""
    try:
        save_file(path, fdump_parts(sf))
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
        raise open_error(flag, path, err) from err
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
            if count > MAX_GRID_ELEMENTS:
                raise _corrupt(flag, path, f"index ranges {ranges} too large for the engines' 32-bit offsets")
            have = size - m.end()
            if have < 8 * count:
                raise _corrupt(flag, path, f"{have} data bytes, the index ranges need {8 * count}")
            check_allocation(8 * count, f"{flag} {path}: a structure-factor grid of index ranges {ranges}",
                             "is it an Fdump.bin?")
            f.seek(m.end())
            values = ffi.new("double[]", count)
            got = f.readinto(ffi.buffer(values))
        except OSError as err:
            raise InputError(f"{flag} {path}: cannot read ({strerror(err)})") from err
    if got != 8 * count:
        raise _corrupt(flag, path, "file shrank while being read")
    return finite(StructureFactors(values, h_min, h_max, k_min, k_max, l_min, l_max,
                                   hkls=ranges[0] * ranges[1] * ranges[2]), flag, path)


def _corrupt(flag, path, why) -> InputError:
    return InputError(f"{flag} {path}: corrupt Fdump file ({why})")

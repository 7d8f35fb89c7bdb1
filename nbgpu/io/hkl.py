"""Structure factors: nanoBragg's Fhkl grid and its HKL text reader (both passes in C, nb_hkl.c)."""
import math

from nbgpu._nbcore import ffi, lib
from nbgpu.base.cnumbers import cfmt_g
from nbgpu.base.errors import InputError
from nbgpu.base.memory import check_allocation
from nbgpu.io.files import read_input

# refuse structure-factor grids beyond this many doubles (16 GiB): only a misparsed file gets
# here, and it keeps every offset into the grid a 32-bit int (the kernels' nb_tricubic)
MAX_GRID_ELEMENTS = 2**31 - 1


class StructureFactors:
    """nanoBragg's Fhkl grid: [h-h_min][k-k_min][l-l_min], l fastest, with one extra zero plane
    along each axis.  `values` is the C array of doubles (any buffer of them is accepted);
    `grid` is the same memory as a numpy array."""

    cell = None          # (a, b, c, alpha, beta, gamma) in A and degrees where the file gives one (MTZ, mmCIF)

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
    return hkl_grid(read_input(path, flag), path, default_F, log, flag, exact)


def hkl_grid(data: bytes, path, default_F, log, flag="-hkl", exact=False) -> StructureFactors:
    """The grid of an `h k l F` text list (the bytes of a file, or a list made from another
    format), by nanoBragg's two passes; `path` names it in the log and the errors."""
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
        count = grid_elements(ranges, flag, path)
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
        return finite(StructureFactors(values, scan.h_min, scan.h_max, scan.k_min, scan.k_max, scan.l_min,
                                       scan.l_max, hkls=scan.hkls), flag, path)
    finally:
        lib.nb_hkl_free(scan)


def grid_elements(ranges, flag, path) -> int:
    """The grid's size for these index ranges (with the zero plane after each), once it is
    known to be addressable and to fit in memory."""
    count = math.prod(r + 1 for r in ranges)
    if count > MAX_GRID_ELEMENTS:
        raise InputError(f"{flag} {path}: HKL index ranges {ranges[0]}x{ranges[1]}x{ranges[2]}"
                         f" are too large (misparsed file?)")
    check_allocation(8 * count, f"{flag} {path}: the structure-factor grid of index ranges "
                     f"{ranges[0]}x{ranges[1]}x{ranges[2]}", "check the file's h, k, l columns")
    return count


def finite(sf: StructureFactors, flag, path) -> StructureFactors:
    """The structure factors, or InputError naming the first reflection whose F is NaN or
    infinite: nanoBragg renders NaN or infinity wherever that reflection (or, interpolated,
    its neighbourhood) reaches the detector."""
    bad = lib.nb_first_nonfinite(sf.values, len(sf.values))
    if bad >= 0:
        _, k_size, l_size = sf.shape
        h, k, l = bad // (k_size * l_size), bad // l_size % k_size, bad % l_size
        raise InputError(f"{flag} {path}: F of reflection {h + sf.h_min} {k + sf.k_min} {l + sf.l_min} is "
                         f"{sf.values[bad]} (not a finite number)")
    return sf

"""Reflections of any space group as nanoBragg's P1 list: the expansion by the space group's
operators and Friedel's law, the `h k l F` text (F written so that reading it back gives the
same double), and the grid of that list, filled from the values directly with the text
reader's rules (io.hkl: limits, default_F inside them, the last of duplicates) -- so that MTZ,
mmCIF and model inputs give exactly the grid of the text list nbgpu exports from them, without
writing and parsing the text (tests/test_io_model.py compares the two).
"""
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.vectors import reciprocal_metric
from nbgpu.io.hkl import StructureFactors, finite, grid_elements

NEEDS_GEMMI = "{flag} {path}: reading {what} needs gemmi: pip install 'nbgpu[structures]'"


class Reflections(Record):
    """A P1 list of amplitudes and where it came from (MTZ, SF-mmCIF or a model's Fcalc)."""
    hkl: object                      # numpy int array (n, 3), sorted by h, then k, then l
    F: object                        # numpy float64 array (n,)
    cell: tuple                      # a, b, c (A), alpha, beta, gamma (degrees)
    spacegroup: str                  # the file's space group (Hermann-Mauguin)
    unique: int                      # reflections before the expansion


def gemmi_module(flag, path, what):
    """gemmi, or one InputError naming the extra that installs it."""
    try:
        import gemmi
    except ImportError:
        raise InputError(NEEDS_GEMMI.format(flag=flag, path=path, what=what)) from None
    return gemmi


def checked_reflections(hkl, F, where, what, blame=""):
    """InputError unless every F is finite and some reflection besides F000 is left: an
    infinite F renders infinity, and a list of F000 alone (or nothing) is no diffraction."""
    import numpy as np
    bad = np.flatnonzero(~np.isfinite(F))
    if len(bad):
        h, k, l = np.asarray(hkl)[bad[0]].tolist()
        raise InputError(f"{where}: {what} has F = {F[bad[0]]} at {h} {k} {l} (not a finite number){blame}")
    if not np.any(np.asarray(hkl).reshape(-1, 3) != 0):
        raise InputError(f"{where}: {what} has no reflections (besides F000)")


def last_of(code):
    """Indices of the last occurrence of each distinct code, in the codes' sorted order: the
    text reader's rule for duplicates (the later line wins)."""
    import numpy as np
    _, last = np.unique(code[::-1], return_index=True)
    return len(code) - 1 - last


def linear(keys, low, span):
    """Each index row's place in a box of `span` starting at `low` (l fastest)."""
    return ((keys[:, 0] - low[0]) * span[1] + keys[:, 1] - low[1]) * span[2] + keys[:, 2] - low[2]


def expand(spacegroup, hkl, plus, minus=None):
    """(P1 indices, F): each reflection's symmetry mates with its F (`plus`) and their Friedel
    mates with `minus` (F(-); `plus` where None); NaN values are skipped.  Where two land on one
    index the later reflection wins, F(-) after F(+), as nanoBragg's reader keeps the last of
    duplicates.  Indices come out sorted."""
    import numpy as np
    hkl = np.asarray(hkl, dtype=np.int64).reshape(-1, 3)
    plus = np.asarray(plus, dtype=np.float64)
    minus = plus if minus is None else np.asarray(minus, dtype=np.float64)
    rotations = [np.array(op.rot, dtype=np.int64) // op.DEN for op in spacegroup.operations()]
    mates = np.stack([hkl @ r for r in rotations], axis=1)                 # (n, ops, 3)
    keys = np.stack([mates, -mates], axis=1).reshape(-1, 3)               # reflection, sign, op
    values = np.repeat(np.stack([plus, minus], axis=1), len(rotations), axis=1).reshape(-1)
    keep = ~np.isnan(values)
    keys, values = keys[keep], values[keep]
    if len(keys) == 0:
        return keys, values
    low = keys.min(axis=0)
    chosen = last_of(linear(keys, low, keys.max(axis=0) - low + 1))
    return keys[chosen], values[chosen]


def list_text(hkl, F) -> bytes:
    """nanoBragg's `h k l F` lines; F as the shortest digits that read back as the same double."""
    return "".join(f"{h} {k} {l} {value!r}\n" for (h, k, l), value in zip(hkl.tolist(), F.tolist())).encode()


def grid(reflections: Reflections, path, default_F, flag="-hkl") -> StructureFactors:
    """The structure-factor grid of the P1 list, as io.hkl.hkl_grid builds it from the list's
    text (the index limits of the list, default_F inside them, a zero plane after each axis,
    the last of duplicates, every reflection counted); the file's cell goes with it."""
    import numpy as np
    hkl = np.asarray(reflections.hkl, dtype=np.int64).reshape(-1, 3)
    if len(hkl) == 0:
        raise InputError(f"{flag}: not enough HKL indices in {path}")
    low, high = hkl.min(axis=0), hkl.max(axis=0)
    ranges = (high - low + 1).tolist()
    grid_elements(ranges, flag, path)
    values = np.zeros([r + 1 for r in ranges])
    if default_F != 0.0:
        values[:ranges[0], :ranges[1], :ranges[2]] = default_F
    chosen = last_of(linear(hkl, low, ranges))
    place = hkl[chosen] - low
    values[place[:, 0], place[:, 1], place[:, 2]] = np.asarray(reflections.F, dtype=np.float64)[chosen]
    (h_min, k_min, l_min), (h_max, k_max, l_max) = low.tolist(), high.tolist()
    sf = finite(StructureFactors(values.reshape(-1), h_min, h_max, k_min, k_max, l_min, l_max, hkls=len(hkl)),
                flag, path)
    sf.cell = reflections.cell
    return sf


def inverse_d2(cell, hkl):
    """1/d^2 (1/A^2) of each reflection, from the cell's reciprocal metric."""
    import numpy as np
    hkl = np.asarray(hkl, dtype=np.float64)
    return np.einsum("ni,ij,nj->n", hkl, reciprocal_metric(cell), hkl)


def within(reflections: Reflections, dmin, where) -> Reflections:
    """The reflections with d >= dmin (A); InputError naming `where` when none is left."""
    keep = inverse_d2(reflections.cell, reflections.hkl) <= 1 / (dmin * dmin)
    kept = reflections.replace(hkl=reflections.hkl[keep], F=reflections.F[keep])
    checked_reflections(kept.hkl, kept.F, where, f"the list cut to {dmin:g} A")
    return kept


def has_volume(cell) -> bool:
    """Whether a file's cell (a, b, c, alpha, beta, gamma in A and degrees) encloses a volume:
    edges above 0 and angles that close (1 - cos^2 a - cos^2 b - cos^2 g + 2 cos a cos b cos g > 0)."""
    import math
    if not all(math.isfinite(x) for x in cell) or min(cell[:3]) <= 0:
        return False
    ca, cb, cg = (math.cos(math.radians(x)) for x in cell[3:])
    return 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg > 0

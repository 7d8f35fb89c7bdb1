"""Reflections of any space group as nanoBragg's P1 list: the expansion by the space group's
operators and Friedel's law, the `h k l F` text (F written so that reading it back gives the
same double), and the grid built from that text by io.hkl.hkl_grid -- so that MTZ, mmCIF and
model inputs give exactly the grid of the text list nbgpu exports from them.
"""
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.io.hkl import hkl_grid

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
    span = keys.max(axis=0) - low + 1
    code = ((keys[:, 0] - low[0]) * span[1] + keys[:, 1] - low[1]) * span[2] + keys[:, 2] - low[2]
    _, last = np.unique(code[::-1], return_index=True)                     # sorted codes, last writer
    chosen = len(code) - 1 - last
    return keys[chosen], values[chosen]


def list_text(hkl, F) -> bytes:
    """nanoBragg's `h k l F` lines; F as the shortest digits that read back as the same double."""
    return "".join(f"{h} {k} {l} {value!r}\n" for (h, k, l), value in zip(hkl.tolist(), F.tolist())).encode()


def grid(reflections: Reflections, path, default_F, flag="-hkl"):
    """The structure-factor grid of the P1 list, built from its text as a text file is; the
    file's cell goes with it."""
    sf = hkl_grid(list_text(reflections.hkl, reflections.F), path, default_F, lambda *_a, **_k: None, flag)
    sf.cell = reflections.cell
    return sf


def inverse_d2(cell, hkl):
    """1/d^2 (1/A^2) of each reflection, from the cell's reciprocal metric."""
    import numpy as np
    a, b, c = cell[:3]
    cos = [np.cos(np.radians(angle)) for angle in cell[3:]]
    metric = np.array([[a * a, a * b * cos[2], a * c * cos[1]],
                       [a * b * cos[2], b * b, b * c * cos[0]],
                       [a * c * cos[1], b * c * cos[0], c * c]])
    hkl = np.asarray(hkl, dtype=np.float64)
    return np.einsum("ni,ij,nj->n", hkl, np.linalg.inv(metric), hkl)


def within(reflections: Reflections, dmin) -> Reflections:
    """The reflections with d >= dmin (A)."""
    keep = inverse_d2(reflections.cell, reflections.hkl) <= 1 / (dmin * dmin)
    return reflections.replace(hkl=reflections.hkl[keep], F=reflections.F[keep])

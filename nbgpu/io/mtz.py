"""Structure factors from MTZ and SF-mmCIF reflection files (through gemmi), for -hkl and
`nbgpu sf` (io.structure_factors tells the kinds apart).

The amplitudes come from the column -sf_column names, else from the first of DEFAULT_F_LABELS
present (then any MTZ column of type F), else from intensities (F = sqrt(max(I, 0)), with a
warning).  The reflections are expanded to P1 with the file's space group and their Friedel
mates (from anomalous F(+)/F(-) columns, each mate its own F) by io.p1, whose grid is the one
the text list of the same reflections gives, so that a P1 file and the equivalent text list
give the same StructureFactors.  The file's cell goes with the grid (StructureFactors.cell).
"""
from nbgpu.base.errors import InputError
from nbgpu.io.p1 import Reflections, checked_reflections, expand, gemmi_module, has_volume

FLAG = "-hkl"
COLUMN_FLAG = "-sf_column"
# amplitudes: model amplitudes first, then observed ones (MTZ labels, then mmCIF _refln. tags)
DEFAULT_F_LABELS = ("FC", "FCALC", "F-model", "F", "FP", "FOBS", "F-obs",
                    "F_calc", "F_meas_au", "F_meas")
NAMES = {"mtz": "MTZ", "sf-mmcif": "SF-mmCIF"}     # the kinds of reflection file (io.structure_factors)
ANOMALOUS = ("F(+)", "F(-)")           # anomalous amplitudes (MTZ type G): Friedel mates kept apart
DEFAULT_I_LABELS = ("I", "IMEAN", "intensity_meas", "intensity_calc")


def read_reflections(data, path, kind, column, log, flag=FLAG, column_flag=COLUMN_FLAG) -> Reflections:
    """An MTZ's or SF-mmCIF's amplitudes (the column picked), expanded to P1."""
    gemmi = gemmi_module(flag, path, "MTZ/mmCIF")
    try:
        if kind == "mtz":
            hkl, labels, cell, sg, name = read_mtz(gemmi, path)
        else:
            hkl, labels, cell, sg, name = read_mmcif(gemmi, data)
    except (RuntimeError, ValueError, OSError, IndexError) as exc:
        raise InputError(f"{flag} {path}: cannot read it as {NAMES[kind]}: {exc}") from None
    if not has_volume(cell):
        raise InputError(f"{flag} {path}: the {NAMES[kind]} file's cell {' '.join('%g' % x for x in cell)} "
                         "has no volume")
    import numpy as np
    pair = anomalous_pair(labels, column)
    if pair is not None:
        label, (plus, minus), intensity = "F(+)/F(-)", pair, False
    else:
        label, plus, intensity = pick_column(labels, column, path, flag, column_flag)
        minus = None
    plus = np.asarray(plus, dtype=np.float64)
    minus = plus if minus is None else np.asarray(minus, dtype=np.float64)
    if intensity:
        log(f"WARNING: {path} has no amplitudes: F = sqrt(max(I, 0)) from intensity column {label}\n")
        plus, minus = np.sqrt(np.maximum(plus, 0.0)), np.sqrt(np.maximum(minus, 0.0))      # NaN stays NaN
    count = int(np.count_nonzero(~(np.isnan(plus) & np.isnan(minus))))
    p1, F = expand(sg, hkl, plus, minus)
    checked_reflections(p1, F, f"{flag} {path}", f"column {label}")
    log(f"reading {path} as {name}: {count} reflections, column {label}, space group {sg.hm} "
        f"-> {len(F)} in P1\n")
    return Reflections(hkl=p1, F=F, cell=cell, spacegroup=sg.hm, unique=count)


def read_mtz(gemmi, path):
    """(hkl rows, {label: (type, values)}, cell, space group, 'MTZ').  Only a regular file gets
    here: a device or FIFO is read as text (io.files.read_stream refuses binary data in it)."""
    mtz = gemmi.read_mtz_file(str(path))
    if mtz.spacegroup is None:
        raise ValueError("no space group")
    hkl = mtz.make_miller_array()
    labels = {c.label: (c.type, c.array) for c in mtz.columns if c.label not in ("H", "K", "L")}
    return hkl, labels, cell_of(mtz.cell), mtz.spacegroup, "MTZ"


def read_mmcif(gemmi, data: bytes):
    """(hkl rows, {tag: (type, values)}, cell, space group, 'mmCIF'): the first _refln. block."""
    blocks = gemmi.as_refln_blocks(gemmi.cif.read_string(data.decode("utf-8", "replace")))
    if not blocks:
        raise ValueError("no _refln. loop")
    rb = blocks[0]
    if rb.spacegroup is None:
        raise ValueError("no space group")
    labels = {}
    for tag in rb.column_labels():
        if tag in ("index_h", "index_k", "index_l"):
            continue
        kind = "F" if tag.startswith("F_") else "J" if tag.startswith("intensity_") else "?"
        try:
            labels[tag] = (kind, rb.make_float_array(tag))
        except (RuntimeError, ValueError):
            continue
    return rb.make_miller_array(), labels, cell_of(rb.cell), rb.spacegroup, "mmCIF"


def cell_of(cell):
    return (cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma)


def anomalous_pair(labels, column):
    """(F(+) values, F(-) values) where the file has both, as columns of type G, and either
    -sf_column names one of them or no amplitude of DEFAULT_F_LABELS is present; else None."""
    if not all(labels.get(name, ("",))[0] == "G" for name in ANOMALOUS):
        return None
    if column in ANOMALOUS or (column is None and not any(
            labels.get(name, ("",))[0] in ("F", "?") for name in DEFAULT_F_LABELS)):
        return tuple(labels[name][1] for name in ANOMALOUS)
    return None


def pick_column(labels, column, path, flag=FLAG, column_flag=COLUMN_FLAG):
    """(label, values, is_intensity): the named column, else the default order."""
    present = ", ".join(labels) or "none"
    if column is not None:
        if column not in labels:
            raise InputError(f"{column_flag} {column}: no such column in {flag} {path} "
                             f"(columns: {present})")
        kind, values = labels[column]
        return column, values, kind in ("J", "K")
    for wanted, types in ((DEFAULT_F_LABELS, ("F", "?")), (DEFAULT_I_LABELS, ("J", "?"))):
        for label in wanted:
            if label in labels and labels[label][0] in types:
                return label, labels[label][1], types[0] == "J"
        for label, (kind, values) in labels.items():
            if kind == types[0]:
                return label, values, types[0] == "J"
    raise InputError(f"{flag} {path}: no amplitude (type F) or intensity (type J) column "
                     f"(columns: {present}); name one with {column_flag} LABEL")

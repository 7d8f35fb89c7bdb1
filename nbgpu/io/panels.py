"""What a multi-panel detector file describes, as plain values in the file's own lab frame:
the records io/crystfel.py (-geom) and io/dials.py (-expt) return, and the checks both share.
setup/panels.py turns them into nanoBragg's frame."""
from __future__ import annotations

import math

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record


class PanelSpec(Record):
    """One panel: a flat grid of square pixels (lengths in m, vectors in the file's frame)."""
    name: str
    fpixels: int
    spixels: int
    pixel_size: float
    origin: tuple                    # the outer corner of pixel (0, 0)
    fast: tuple                      # unit vector along a row
    slow: tuple                      # unit vector down the rows
    bad: tuple = ()                  # (f0, f1, s0, s1) inclusive rectangles not rendered
    data_origin: tuple = (0, 0)      # (min_ss, min_fs) of the panel in the file's data block
    data: str = ""                   # the data block it is stored in (CrystFEL's `data`)
    thickness: float = 0.0           # sensor thickness (m), 0: not given
    mu: float = 0.0                  # sensor attenuation coefficient (1/m)
    adu_per_photon: float = math.nan  # the file's gain, kept for later outputs; not applied


class DetectorFile(Record):
    """A detector file's panels and what else it says about the experiment (None: not said)."""
    path: str
    flag: str                        # "-geom" or "-expt"
    frame: str                       # "crystfel" or "dials": the lab frame of every vector
    panels: tuple                    # PanelSpec, in the file's order
    beam: tuple = (0.0, 0.0, 1.0)    # the direction the beam travels, in the file's frame
    wavelength: float | None = None  # A
    energy: float | None = None      # eV
    reciprocal: tuple | None = None  # a*, b*, c* (1/A) in the file's frame: the crystal's A = UB columns
    spindle: tuple | None = None     # the rotation axis
    phi0: float | None = None        # deg
    osc: float | None = None         # deg
    layout: tuple = ()               # CrystFEL's dim0, dim1, ... as written
    layout_problem: str = ""         # why the layout cannot be written ("": it can)


def fail(df_path, flag, key, message):
    return InputError(f"{flag} {df_path}: {key}: {message}")


def unit(vector, path, flag, key) -> tuple:
    """The vector scaled to length 1; InputError for a zero or non-finite one."""
    length = math.sqrt(sum(x * x for x in vector))
    if not (math.isfinite(length) and length > 0):
        raise fail(path, flag, key, f"not a direction ({' '.join('%g' % x for x in vector)})")
    return tuple(x / length for x in vector)


def check_panels(path, flag, panels):
    """Refuse what cannot be rendered: no panel, a panel without pixels, parallel axes, two
    panels stored over the same data, pixel sizes that differ (one oversampling for all)."""
    if not panels:
        raise fail(path, flag, "panels", "no panel described")
    for p in panels:
        if p.fpixels <= 0 or p.spixels <= 0:
            raise fail(path, flag, f"{p.name}", f"{p.fpixels}x{p.spixels} pixels")
        if not (math.isfinite(p.pixel_size) and p.pixel_size > 0):
            raise fail(path, flag, f"{p.name}", f"pixel size {p.pixel_size:g} m")
        cross = (p.fast[1] * p.slow[2] - p.fast[2] * p.slow[1], p.fast[2] * p.slow[0] - p.fast[0] * p.slow[2],
                 p.fast[0] * p.slow[1] - p.fast[1] * p.slow[0])
        if math.sqrt(sum(x * x for x in cross)) < 1e-6:
            raise fail(path, flag, f"{p.name}", "fast and slow axes are parallel")
        if not all(math.isfinite(x) for x in p.origin):
            raise fail(path, flag, f"{p.name}", "origin is not finite")
    for i, a in enumerate(panels):
        for b in panels[i + 1:]:
            if a.data != b.data:
                continue
            (sa, fa), (sb, fb) = a.data_origin, b.data_origin
            if fa < fb + b.fpixels and fb < fa + a.fpixels and sa < sb + b.spixels and sb < sa + a.spixels:
                raise fail(path, flag, f"{a.name}, {b.name}", "panels overlap in the data layout")
    sizes = {p.pixel_size for p in panels}
    if max(sizes) - min(sizes) > 1e-9 * max(sizes):
        raise fail(path, flag, "pixel size", "panels of different pixel sizes are not supported "
                   f"({min(sizes) * 1e3:g} to {max(sizes) * 1e3:g} mm)")

"""-layoutfile: the image as an HDF5 file in a CrystFEL geometry file's data layout, so that
CrystFEL reads it back with the same .geom (through h5py: the nexus extra).

Each panel's pixels go where the geometry file says they are stored: into the dataset its `data`
key names (CrystFEL's default /data/data without one), at min_fs..max_fs along the dataset's
fs dimension and min_ss..max_ss along its ss dimension.  The dimN entries order the dimensions
(default: ss, fs); a `%` dimension is the frame index (this file holds one frame: size 1); a
number places every panel at that index of its dimension.  What no panel covers is 0.  The
values are 32-bit floats in the file's detector units: photons times the panel's adu_per_photon
(or adu_per_eV times the photon energy) where the file gives a gain, photons where it does not,
so that CrystFEL's gain reads them back as the photons rendered.
"""
from __future__ import annotations

from nbgpu.base.errors import InputError

DEFAULT_DATA = "/data/data"
DEFAULT_DIMS = ("ss", "fs")


def check_layout(df, flag: str = "-layoutfile"):
    """Fail before rendering when the file's layout cannot be written: no .geom, or a data path
    CrystFEL fills in per event."""
    if df is None or df.frame != "crystfel":
        raise InputError(f"{flag}: the data layout is a CrystFEL geometry file's: give -geom FILE "
                         "(a DIALS .expt has none; -nexusfile writes any detector)")
    if df.layout_problem:
        raise InputError(f"{flag}: {df.layout_problem}")
    for p in df.panels:
        if "%" in (p.data or DEFAULT_DATA):
            raise InputError(f"{flag}: -geom {df.path}: {p.name}/data = {p.data}: a data path filled in per "
                             "event is not supported (name one dataset)")


def datasets(df) -> dict:
    """data path -> (shape, [(panel index, ss axis, fs axis, index tuple of the panel's corner)])."""
    dims = df.layout or DEFAULT_DIMS
    ss_axis, fs_axis = dims.index("ss"), dims.index("fs")
    out = {}
    for i, p in enumerate(df.panels):
        path = p.data or DEFAULT_DATA
        out.setdefault(path, [])
        out[path].append(i)
    layout = {}
    for path, members in out.items():
        shape = []
        for axis, d in enumerate(dims):
            if axis == ss_axis:
                shape.append(max(df.panels[i].data_origin[0] + df.panels[i].spixels for i in members))
            elif axis == fs_axis:
                shape.append(max(df.panels[i].data_origin[1] + df.panels[i].fpixels for i in members))
            else:
                shape.append(1 if d == "%" else int(d) + 1)
        fixed = tuple(0 if d in ("%", "ss", "fs") else int(d) for d in dims)
        layout[path] = (tuple(shape), ss_axis, fs_axis, fixed, members)
    return layout


def gain(p) -> float:
    return p.adu_per_photon if p.adu_per_photon == p.adu_per_photon else 1.0


def write_layout(handle, df, images, flag: str = "-layoutfile"):
    """The file into `handle` (an open, empty binary file): images[i] is panel i's (slow, fast)
    float image."""
    from nbgpu.io.nexus import SafeSink, h5py_module
    h5py = h5py_module(flag)
    import numpy as np
    sink = SafeSink(handle)
    with h5py.File(sink, "w") as out:
        for path, (shape, ss_axis, fs_axis, fixed, members) in datasets(df).items():
            block = np.zeros(shape, dtype=np.float32)
            for i in members:
                p = df.panels[i]
                where = list(fixed)
                where[ss_axis] = slice(p.data_origin[0], p.data_origin[0] + p.spixels)
                where[fs_axis] = slice(p.data_origin[1], p.data_origin[1] + p.fpixels)
                block[tuple(where)] = np.asarray(images[i], dtype=np.float32) * np.float32(gain(p))
            out.create_dataset(path, data=block)
    sink.flush()
    sink.check()

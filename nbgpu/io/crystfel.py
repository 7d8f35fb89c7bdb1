"""-geom FILE: a CrystFEL geometry file (crystfel_geometry(5)) into io.panels.DetectorFile.

What is read: each panel's min/max_fs/ss (inclusive, in the data block), corner_x/y (pixels),
fs/ss (pixel vectors in x, y and optionally z), res (pixels per m), clen and coffset (m: the
panel's corner lies at z = clen + coffset), adu_per_photon or
adu_per_eV, data and dimN (the data layout); photon_energy (eV); bad regions (badNAME/min_x,
max_x, min_y, max_y in the lab's pixel units, or min_fs, max_fs, min_ss, max_ss with an optional
panel).  A key without a panel name is a default for every panel that does not set it.  Rigid
groups and keys that only matter to CrystFEL's indexing or peak search are accepted and ignored.

The lab frame is CrystFEL's: +z along the beam, +y up, +x completing a right-handed frame.
"""
from __future__ import annotations

import math
import re

from nbgpu.base.errors import InputError
from nbgpu.io.files import read_input
from nbgpu.io.panels import DetectorFile, PanelSpec, check_panels, fail, unit

FLAG = "-geom"
REQUIRED = ("min_fs", "max_fs", "min_ss", "max_ss", "corner_x", "corner_y", "fs", "ss", "res", "clen")
NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
TERM = re.compile(r"([+-]?)\s*(" + NUMBER + r")?\s*([xyz])")
VECTOR = re.compile(r"(?:\s*[+-]?\s*(?:" + NUMBER + r")?\s*[xyz])+\s*")
HC_EV_A = 12398.42                     # nanoBragg's -energy constant: eV x A


def parse_lines(text):
    """(globals, panels, bad regions): key -> value dicts, each in the file's order."""
    glob, panels, bad = {}, {}, {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise InputError(f"{FLAG}: line {number}: expected 'key = value', got {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        if key.startswith("rigid_group"):
            continue
        if "/" not in key:
            glob[key] = value
            continue
        name, param = key.rsplit("/", 1)
        (bad if name.startswith("bad") else panels).setdefault(name, {})[param] = value
    return glob, panels, bad


def number(path, key, text) -> float:
    try:
        value = float(text)
    except ValueError:
        raise fail(path, FLAG, key, f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise fail(path, FLAG, key, f"not a finite number ({text})")
    return value


def integer(path, key, text) -> int:
    value = number(path, key, text)
    if value != int(value) or value < 0:
        raise fail(path, FLAG, key, f"expected a pixel index, got {text!r}")
    return int(value)


def vector(path, key, text) -> tuple:
    """'+0.0019x +1.0000y' (optionally a z term) as (x, y, z)."""
    if not VECTOR.fullmatch(text):
        raise fail(path, FLAG, key, f"expected a vector such as '+1.0x -0.01y', got {text!r}")
    parts = {"x": 0.0, "y": 0.0, "z": 0.0}
    for sign, digits, axis in TERM.findall(text):
        parts[axis] += (-1.0 if sign == "-" else 1.0) * (float(digits) if digits else 1.0)
    return parts["x"], parts["y"], parts["z"]


def layout(path, glob, panels):
    """The dimN entries (panel values must agree with the defaults): fs and ss exactly once each."""
    keys = sorted((k for k in glob if re.fullmatch(r"dim\d+", k)), key=lambda k: int(k[3:]))
    dims = tuple(glob[k] for k in keys)
    if dims:
        if [int(k[3:]) for k in keys] != list(range(len(keys))):
            raise fail(path, FLAG, "dim", f"dimensions {', '.join(keys)} are not dim0, dim1, ...")
        for name in ("fs", "ss"):
            if dims.count(name) != 1:
                raise fail(path, FLAG, "dim", f"the layout must name {name} once ({' '.join(dims)})")
        if dims.index("ss") > dims.index("fs"):
            raise fail(path, FLAG, "dim", "ss after fs: the fast-scan dimension must be the fastest")
        for d in dims:
            if d not in ("fs", "ss", "%") and not d.isdigit():
                raise fail(path, FLAG, "dim", f"{d!r} is neither fs, ss, % nor an index")
    for name, values in panels.items():
        for k, v in values.items():
            if re.fullmatch(r"dim\d+", k) and glob.get(k) != v:
                raise fail(path, FLAG, f"{name}/{k}", "per-panel layouts are not supported")
    return dims


def panel_spec(path, name, values, glob, energy):
    """One panel from its keys (and the defaults)."""
    def get(param):
        return values.get(param, glob.get(param))
    for param in REQUIRED:
        if get(param) is None:
            raise fail(path, FLAG, f"{name}/{param}", "missing")
    min_fs, max_fs, min_ss, max_ss = (integer(path, f"{name}/{k}", get(k)) for k in ("min_fs", "max_fs", "min_ss", "max_ss"))
    if max_fs < min_fs or max_ss < min_ss:
        raise fail(path, FLAG, f"{name}/max_fs", f"fs {min_fs}..{max_fs}, ss {min_ss}..{max_ss}: an empty panel")
    res = number(path, f"{name}/res", get("res"))
    if res <= 0:
        raise fail(path, FLAG, f"{name}/res", f"{res:g} pixels per m")
    clen = get("clen")
    if not re.fullmatch(r"[-+0-9.eE]+", clen):
        raise fail(path, FLAG, f"{name}/clen", f"{clen!r}: a camera length read from the data file is "
                   "not supported, give it in metres")
    z = number(path, f"{name}/clen", clen) + number(path, f"{name}/coffset", get("coffset") or "0")
    fs_raw, ss_raw = vector(path, f"{name}/fs", get("fs")), vector(path, f"{name}/ss", get("ss"))
    corner = (number(path, f"{name}/corner_x", get("corner_x")) / res,
              number(path, f"{name}/corner_y", get("corner_y")) / res, z)
    gain = math.nan
    if get("adu_per_photon") is not None:
        gain = number(path, f"{name}/adu_per_photon", get("adu_per_photon"))
    elif get("adu_per_eV") is not None and energy is not None:
        gain = number(path, f"{name}/adu_per_eV", get("adu_per_eV")) * energy
    return PanelSpec(name=name, fpixels=max_fs - min_fs + 1, spixels=max_ss - min_ss + 1, pixel_size=1.0 / res,
                     origin=corner, fast=unit(fs_raw, path, FLAG, f"{name}/fs"),
                     slow=unit(ss_raw, path, FLAG, f"{name}/ss"), data_origin=(min_ss, min_fs),
                     data=get("data") or "", adu_per_photon=gain)


def bad_regions(path, bad, specs):
    """Each panel with its bad rectangles in its own pixels (f0, f1, s0, s1, inclusive)."""
    by_name = {p.name: p for p in specs}
    rects = {p.name: [] for p in specs}
    for name, values in bad.items():
        if values.get("ignore", "0").strip() not in ("0", "false"):
            continue
        if {"min_x", "max_x", "min_y", "max_y"} <= set(values):
            x0, x1, y0, y1 = (number(path, f"{name}/{k}", values[k]) for k in ("min_x", "max_x", "min_y", "max_y"))
            for p in specs:
                rects[p.name] += lab_rectangle(p, x0, x1, y0, y1)
        elif {"min_fs", "max_fs", "min_ss", "max_ss"} <= set(values):
            f0, f1, s0, s1 = (integer(path, f"{name}/{k}", values[k]) for k in ("min_fs", "max_fs", "min_ss", "max_ss"))
            targets = specs
            if "panel" in values:
                if values["panel"] not in by_name:
                    raise fail(path, FLAG, f"{name}/panel", f"no panel {values['panel']!r}")
                targets = [by_name[values["panel"]]]
            for p in targets:
                (ps, pf) = p.data_origin
                rect = (max(f0 - pf, 0), min(f1 - pf, p.fpixels - 1), max(s0 - ps, 0), min(s1 - ps, p.spixels - 1))
                if rect[0] <= rect[1] and rect[2] <= rect[3]:
                    rects[p.name].append(rect)
        else:
            raise fail(path, FLAG, name, "a bad region needs min_x, max_x, min_y, max_y or "
                       "min_fs, max_fs, min_ss, max_ss")
    return [p.replace(bad=tuple(rects[p.name])) for p in specs]


def lab_rectangle(p, x0, x1, y0, y1) -> list:
    """The pixels of panel p whose centres lie in the lab rectangle (pixel units), one-pixel
    rectangles merged along rows."""
    res = 1.0 / p.pixel_size
    rects = []
    for s in range(p.spixels):
        run = None
        for f in range(p.fpixels + 1):
            inside = False
            if f < p.fpixels:
                x = p.origin[0] * res + (f + 0.5) * p.fast[0] + (s + 0.5) * p.slow[0]
                y = p.origin[1] * res + (f + 0.5) * p.fast[1] + (s + 0.5) * p.slow[1]
                inside = x0 <= x <= x1 and y0 <= y <= y1
            if inside and run is None:
                run = f
            elif not inside and run is not None:
                rects.append((run, f - 1, s, s))
                run = None
    return rects


def read_crystfel_geometry(path, log=None) -> DetectorFile:
    """The file's panels and photon energy; InputError naming the file and the key."""
    try:
        text = read_input(path, FLAG).decode()
    except UnicodeDecodeError as exc:
        raise InputError(f"{FLAG} {path}: not a text file ({exc})") from None
    try:
        glob, panels, bad = parse_lines(text)
    except InputError as exc:
        raise InputError(str(exc).replace(f"{FLAG}:", f"{FLAG} {path}:", 1)) from None
    energy = None
    if "photon_energy" in glob and re.fullmatch(r"[-+0-9.eE]+", glob["photon_energy"]):
        energy = number(path, "photon_energy", glob["photon_energy"])
        if energy <= 0:
            raise fail(path, FLAG, "photon_energy", f"{energy:g} eV")
    dims = layout(path, glob, panels)
    specs = [panel_spec(path, name, values, glob, energy) for name, values in panels.items()]
    check_panels(path, FLAG, specs)
    return DetectorFile(path=path, flag=FLAG, frame="crystfel", panels=tuple(bad_regions(path, bad, specs)),
                        energy=energy, layout=dims)

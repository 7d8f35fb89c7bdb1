"""-geom FILE: a CrystFEL geometry file (crystfel_geometry(5)) into io.panels.DetectorFile.

What is read: each panel's min/max_fs/ss (inclusive, in the data block), corner_x/y (pixels),
fs/ss (unit pixel vectors in x, y and optionally z), res (pixels per m), clen and coffset (m, or
with a unit: the panel's corner lies at z = clen + coffset), adu_per_photon or adu_per_eV, data
and dimN (the data layout); photon_energy (eV or keV) or wavelength (m or A); bad regions
(badNAME/min_x, max_x, min_y, max_y in the lab's pixel units, or min_fs, max_fs, min_ss, max_ss,
either with an optional panel).  A key without a panel name is a default for the panels first
named after it (CrystFEL's rule).  Rigid groups and keys that only matter to CrystFEL's indexing
or peak search are accepted and ignored; any other key is refused, as CrystFEL refuses it.

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


# The keys read (panel: per panel or as a default; GLOBAL: the file's), the keys accepted and
# ignored (they only matter to CrystFEL's indexing, peak search or masks of measured data), and
# those of a bad region.  CrystFEL refuses any other key; nbgpu warns (a typo, or a key of a
# CrystFEL version it does not know) and renders without it.
PANEL_KEYS = {"min_fs", "max_fs", "min_ss", "max_ss", "corner_x", "corner_y", "fs", "ss", "res", "clen",
              "coffset", "adu_per_photon", "adu_per_eV", "data", "no_index"}
GLOBAL_KEYS = {"photon_energy", "wavelength"}
IGNORED = {"max_adu", "badrow_direction", "mask", "mask_file", "mask_good", "mask_bad", "mask_edge_pixels",
           "saturation_map", "saturation_map_file", "flag_lessthan", "flag_morethan", "flag_equal",
           "peak_list", "peak_list_type", "peak_info_location", "hdf5_peak_path", "bandwidth",
           "photon_energy_bandwidth", "photon_energy_scale", "clen_for_centering", "rail_direction",
           "adu_scale", "data_type", "electron_voltage_scale"}
UNSUPPORTED = {"detector_shift_x", "detector_shift_y"}
BAD_KEYS = {"min_x", "max_x", "min_y", "max_y", "min_fs", "max_fs", "min_ss", "max_ss", "panel", "ignore"}
# value units: key -> {suffix: factor to the unit kept (eV, A, m)}; no suffix: the first entry's
UNITS = {"photon_energy": {"eV": 1.0, "keV": 1000.0},
         "wavelength": {"m": 1e10, "A": 1.0},
         "clen": {"m": 1.0, "mm": 1e-3}, "coffset": {"m": 1.0, "mm": 1e-3}}


def known(key, param, bad) -> bool:
    if param.startswith(("rigid_group", "group_")) or re.fullmatch(r"mask\d*_(data|file|goodbits|badbits)", param):
        return True
    if bad:
        return param in BAD_KEYS
    return param in PANEL_KEYS or param in IGNORED or re.fullmatch(r"dim\d+", param) is not None or (
        "/" not in key and param in GLOBAL_KEYS)


def parse_lines(text):
    """(globals, panels, bad regions, unknown keys) in the file's order: globals key -> value; panels and bad
    regions name -> {param: (value, key as written)}.  A key without a panel name is a default
    only for the panels first mentioned after it (CrystFEL's rule), so each panel starts with
    the defaults in force at its first line."""
    glob, panels, bad, unknown = {}, {}, {}, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise InputError(f"{FLAG}: line {number}: expected 'key = value', got {line!r}")
        key, value = (part.strip() for part in line.split("=", 1))
        name, _, param = key.rpartition("/")
        is_bad = name.startswith("bad")
        if key in UNSUPPORTED:
            raise InputError(f"{FLAG}: line {number}: {key}: not supported (it moves the detector: fold it "
                             "into the panels' corner_x/corner_y)")
        if not known(key, param, is_bad):
            unknown.append(f"line {number}: {key}")
            continue
        if param.startswith(("rigid_group", "group_")):
            continue
        if not name:
            glob[key] = value
        elif is_bad:
            bad.setdefault(name, {})[param] = (value, key)
        else:
            if name not in panels:
                panels[name] = {k: (v, k) for k, v in glob.items() if k not in GLOBAL_KEYS}
            panels[name][param] = (value, key)
    return glob, panels, bad, unknown


def quantity(path, key, text, param) -> float:
    """A number with an optional unit (UNITS), in the unit kept; a value read from the data file
    (an HDF5 path) is refused."""
    if text.startswith("/"):
        raise fail(path, FLAG, key, f"{text!r}: a value read from the data file is not supported, give a number")
    units = UNITS[param]
    parts = text.split()
    if len(parts) == 2 and parts[1] in units:
        return number(path, key, parts[0]) * units[parts[1]]
    if len(parts) == 2:
        raise fail(path, FLAG, key, f"{text!r}: unknown unit (use {' or '.join(units)})")
    return number(path, key, text) * next(iter(units.values()))


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


def layout(path, glob, panels) -> tuple:
    """(the dimN entries, "" or why the layout cannot be written): fs and ss exactly once each.
    Per-panel entries are accepted; only -layoutfile needs them to agree (io.crystfel_data)."""
    keys = sorted((k for k in glob if re.fullmatch(r"dim\d+", k)), key=lambda k: int(k[3:]))
    dims = tuple(glob[k] for k in keys)
    per_panel = {name: {k: v for k, (v, _) in values.items() if re.fullmatch(r"dim\d+", k)}
                 for name, values in panels.items()}
    layouts = {tuple(v for _, v in sorted(d.items(), key=lambda kv: int(kv[0][3:]))) for d in per_panel.values()}
    if len(layouts) > 1:
        return dims, f"{FLAG} {path}: dim: panels with different data layouts are not supported"
    if layouts and next(iter(layouts)):
        keys = sorted(next(iter(per_panel.values())), key=lambda k: int(k[3:]))
        dims = next(iter(layouts))
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
    return dims, ""


def panel_spec(path, name, values, energy):
    """One panel from its keys (its own and the defaults before its first line)."""
    def get(param):
        return values[param][0] if param in values else None

    def key(param):
        return values[param][1] if param in values else f"{name}/{param}"
    for param in REQUIRED:
        if get(param) is None:
            raise fail(path, FLAG, key(param), "missing")
    min_fs, max_fs, min_ss, max_ss = (integer(path, key(k), get(k)) for k in ("min_fs", "max_fs", "min_ss", "max_ss"))
    if max_fs < min_fs or max_ss < min_ss:
        raise fail(path, FLAG, key("max_fs"), f"fs {min_fs}..{max_fs}, ss {min_ss}..{max_ss}: an empty panel")
    if get("no_index") is not None and number(path, key("no_index"), get("no_index")) != 0:
        raise fail(path, FLAG, key("no_index"), "panels left out of the detector are not supported "
                   "(remove the panel)")
    res = number(path, key("res"), get("res"))
    if res <= 0:
        raise fail(path, FLAG, key("res"), f"{res:g} pixels per m")
    z = quantity(path, key("clen"), get("clen"), "clen") + quantity(path, key("coffset"), get("coffset") or "0",
                                                                    "coffset")
    fs_raw, ss_raw = vector(path, key("fs"), get("fs")), vector(path, key("ss"), get("ss"))
    for param, raw in (("fs", fs_raw), ("ss", ss_raw)):
        # CrystFEL spaces the pixels by the vector's length: within 1% of 1 (files round their
        # tilted vectors) it is normalised, further off it would change the pixel spacing
        if abs(math.sqrt(sum(x * x for x in raw)) - 1.0) > 0.01:
            raise fail(path, FLAG, key(param), f"{get(param)!r} is not of length 1: pixels spaced other than "
                       "by the pixel size are not supported")
    corner = (number(path, key("corner_x"), get("corner_x")) / res,
              number(path, key("corner_y"), get("corner_y")) / res, z)
    gain = math.nan
    if get("adu_per_photon") is not None:
        gain = number(path, key("adu_per_photon"), get("adu_per_photon"))
    elif get("adu_per_eV") is not None and energy is not None:
        gain = number(path, key("adu_per_eV"), get("adu_per_eV")) * energy
    return PanelSpec(name=name, fpixels=max_fs - min_fs + 1, spixels=max_ss - min_ss + 1, pixel_size=1.0 / res,
                     origin=corner, fast=unit(fs_raw, path, FLAG, key("fs")),
                     slow=unit(ss_raw, path, FLAG, key("ss")), data_origin=(min_ss, min_fs),
                     data=get("data") or "", adu_per_photon=gain)


def bad_regions(path, bad, specs):
    """Each panel with its bad rectangles in its own pixels (f0, f1, s0, s1, inclusive)."""
    by_name = {p.name: p for p in specs}
    rects = {p.name: [] for p in specs}
    for name, entries in bad.items():
        values = {param: value for param, (value, _) in entries.items()}
        if values.get("ignore", "0").strip() not in ("0", "false"):
            continue
        targets = specs
        if "panel" in values:
            if values["panel"] not in by_name:
                raise fail(path, FLAG, f"{name}/panel", f"no panel {values['panel']!r}")
            targets = [by_name[values["panel"]]]
        lab, data = {"min_x", "max_x", "min_y", "max_y"}, {"min_fs", "max_fs", "min_ss", "max_ss"}
        if lab <= set(values) and not data & set(values):
            x0, x1, y0, y1 = (number(path, f"{name}/{k}", values[k]) for k in ("min_x", "max_x", "min_y", "max_y"))
            inverted(path, name, (x0, x1, y0, y1), ("x", "y"))
            for p in targets:
                rects[p.name] += lab_rectangle(p, x0, x1, y0, y1)
        elif data <= set(values) and not lab & set(values):
            f0, f1, s0, s1 = (integer(path, f"{name}/{k}", values[k]) for k in ("min_fs", "max_fs", "min_ss", "max_ss"))
            inverted(path, name, (f0, f1, s0, s1), ("fs", "ss"))
            for p in targets:
                (ps, pf) = p.data_origin
                rect = (max(f0 - pf, 0), min(f1 - pf, p.fpixels - 1), max(s0 - ps, 0), min(s1 - ps, p.spixels - 1))
                if rect[0] <= rect[1] and rect[2] <= rect[3]:
                    rects[p.name].append(rect)
        else:
            raise fail(path, FLAG, name, "a bad region needs min_x, max_x, min_y, max_y or "
                       "min_fs, max_fs, min_ss, max_ss (one of the two)")
    return [p.replace(bad=tuple(rects[p.name])) for p in specs]


def inverted(path, name, bounds, axes):
    """Refuse min > max: such a region covers nothing, surely not what the file meant."""
    for (low, high), axis in zip((bounds[:2], bounds[2:]), axes):
        if low > high:
            raise fail(path, FLAG, f"{name}/min_{axis}", f"{low:g} > max_{axis} {high:g}: an inverted region")


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
        text = read_input(path, FLAG).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{FLAG} {path}: not a text file ({exc})") from None
    try:
        glob, panels, bad, unknown = parse_lines(text)
    except InputError as exc:
        raise InputError(str(exc).replace(f"{FLAG}:", f"{FLAG} {path}:", 1)) from None
    for where in unknown:       # CrystFEL refuses them; nbgpu renders without them and says so
        if log is not None:
            log(f"WARNING: {FLAG} {path}: {where}: not a key nbgpu knows, ignored\n")
    energy, wavelength = beam(path, glob)
    dims, problem = layout(path, glob, panels)
    specs = [panel_spec(path, name, values, energy) for name, values in panels.items()]
    check_panels(path, FLAG, specs)
    return DetectorFile(path=path, flag=FLAG, frame="crystfel", panels=tuple(bad_regions(path, bad, specs)),
                        energy=energy, wavelength=wavelength, layout=dims, layout_problem=problem)


def beam(path, glob) -> tuple:
    """(photon energy in eV, wavelength in A) the file gives (one of them; None: not given)."""
    if "photon_energy" in glob and "wavelength" in glob:
        raise fail(path, FLAG, "wavelength", "give one of photon_energy and wavelength")
    energy = wavelength = None
    if "photon_energy" in glob:
        energy = quantity(path, "photon_energy", glob["photon_energy"], "photon_energy")
        if energy <= 0:
            raise fail(path, FLAG, "photon_energy", f"{energy:g} eV")
    if "wavelength" in glob:
        wavelength = quantity(path, "wavelength", glob["wavelength"], "wavelength")
        if wavelength <= 0:
            raise fail(path, FLAG, "wavelength", f"{wavelength:g} A")
        energy = HC_EV_A / wavelength
    return energy, wavelength

"""-expt FILE: a DIALS experiment list (dxtbx's .expt JSON) into io.panels.DetectorFile.

The first experiment's models are read: its detector's panels (origin, fast_axis, slow_axis in
mm, pixel_size, image_size as (fast, slow), thickness in mm and mu in 1/mm), placed through the
detector's hierarchy where it has one (a group's or panel's frame is given in its parent's
frame: origin and axes along the parent's fast, slow and normal = fast x slow); the beam (its
`direction` points from the sample toward the source, wavelength in A); the crystal's
real-space vectors (A), from which A = UB is formed; the goniometer's rotation axis and the
scan's first oscillation (deg), where present.

The lab frame is dxtbx's (imgCIF's): the beam travels along -z, +y up, +x along the usual
rotation axis.
"""
from __future__ import annotations

import json
import math

from nbgpu.base.errors import InputError
from nbgpu.io.files import read_input
from nbgpu.io.panels import DetectorFile, PanelSpec, check_panels, fail, unit

FLAG = "-expt"


def vec(path, key, value, size=3) -> tuple:
    if not (isinstance(value, list) and len(value) == size and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value)):
        raise fail(path, FLAG, key, f"expected {size} finite numbers, got {json.dumps(value)[:40]}")
    return tuple(float(x) for x in value)


def scalar(path, key, value) -> float:
    """A finite number, 0 when absent (null)."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(path, FLAG, key, f"expected a finite number, got {json.dumps(value)[:40]}")
    return float(value)


def model(path, data, experiment, kind):
    """The experiment's `kind` model (its index into data[kind]), or None when absent."""
    index = experiment.get(kind)
    if index is None:
        return None
    models = data.get(kind)
    if not isinstance(index, int) or not isinstance(models, list) or not 0 <= index < len(models):
        raise fail(path, FLAG, kind, f"experiment names {kind} {index!r}, the file has {len(models or [])}")
    return models[index]


def cross(a, b) -> tuple:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def in_parent(parent, origin, fast, slow) -> tuple:
    """A frame given in its parent's frame, in the lab frame."""
    p_origin, p_fast, p_slow = parent
    normal = unit(cross(p_fast, p_slow), "", "", "")

    def lab(v, base):
        return tuple(b + v[0] * f + v[1] * s + v[2] * n for b, f, s, n in zip(base, p_fast, p_slow, normal))
    zero = (0.0, 0.0, 0.0)
    return lab(origin, p_origin), lab(fast, zero), lab(slow, zero)


def frames(path, detector, count) -> dict:
    """panel index -> its (origin, fast, slow) in the lab frame (mm), through the hierarchy."""
    placed = {}

    def walk(node, parent, where):
        here = in_parent(parent, vec(path, f"{where}/origin", node.get("origin", [0, 0, 0])),
                         vec(path, f"{where}/fast_axis", node.get("fast_axis", [1, 0, 0])),
                         vec(path, f"{where}/slow_axis", node.get("slow_axis", [0, 1, 0])))
        children = node.get("children", [])
        if not isinstance(children, list):
            raise fail(path, FLAG, f"{where}/children", "not a list")
        for i, child in enumerate(children):
            key = f"{where}/children[{i}]"
            if not isinstance(child, dict):
                raise fail(path, FLAG, key, "not an object")
            if "panel" in child:
                index = child["panel"]
                if not (isinstance(index, int) and not isinstance(index, bool) and 0 <= index < count):
                    raise fail(path, FLAG, f"{key}/panel", f"{json.dumps(index)[:20]}: the detector has "
                               f"panels 0 to {count - 1}")
                if index in placed:
                    raise fail(path, FLAG, f"{key}/panel", f"panel {index} is placed twice")
                placed[index] = here
            else:
                walk(child, here, key)
    identity = ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    hierarchy = detector.get("hierarchy")
    if isinstance(hierarchy, dict):
        walk(hierarchy, identity, "detector/hierarchy")
    return placed


def panels(path, detector) -> list:
    entries = detector.get("panels") if isinstance(detector, dict) else None
    if not isinstance(entries, list) or not entries:
        raise fail(path, FLAG, "detector/panels", "no panel in the detector")
    parents = frames(path, detector, len(entries))
    specs = []
    for i, entry in enumerate(entries):
        key = f"detector/panels[{i}]"
        if not isinstance(entry, dict):
            raise fail(path, FLAG, key, "not an object")
        for name in ("origin", "fast_axis", "slow_axis", "pixel_size", "image_size"):
            if name not in entry:
                raise fail(path, FLAG, f"{key}/{name}", "missing")
        size = vec(path, f"{key}/image_size", entry["image_size"], 2)
        if size[0] != int(size[0]) or size[1] != int(size[1]):
            raise fail(path, FLAG, f"{key}/image_size", "not whole pixels")
        pixel = vec(path, f"{key}/pixel_size", entry["pixel_size"], 2)
        if pixel[0] != pixel[1]:
            raise fail(path, FLAG, f"{key}/pixel_size", f"{pixel[0]:g} x {pixel[1]:g} mm: only square pixels")
        frame = (vec(path, f"{key}/origin", entry["origin"]), vec(path, f"{key}/fast_axis", entry["fast_axis"]),
                 vec(path, f"{key}/slow_axis", entry["slow_axis"]))
        if i in parents:
            frame = in_parent(parents[i], *frame)
        origin, fast, slow = frame
        thickness, mu = (scalar(path, f"{key}/{name}", entry.get(name)) for name in ("thickness", "mu"))
        specs.append(PanelSpec(name=str(entry.get("name") or f"panel{i}"), fpixels=int(size[0]), spixels=int(size[1]),
                               pixel_size=pixel[0] / 1000.0, origin=tuple(x / 1000.0 for x in origin),
                               fast=unit(fast, path, FLAG, f"{key}/fast_axis"),
                               slow=unit(slow, path, FLAG, f"{key}/slow_axis"), data_origin=(0, 0), data=str(i),
                               thickness=thickness / 1000.0, mu=mu * 1000.0))
    return specs


def reciprocal(path, crystal) -> tuple | None:
    """a*, b*, c* (1/A) from the real-space vectors."""
    if not isinstance(crystal, dict):
        return None
    a, b, c = (vec(path, f"crystal/real_space_{x}", crystal.get(f"real_space_{x}")) for x in "abc")
    bc, ca, ab = cross(b, c), cross(c, a), cross(a, b)
    volume = sum(x * y for x, y in zip(a, bc))
    if not (math.isfinite(volume) and volume != 0.0):
        raise fail(path, FLAG, "crystal/real_space_a", "the cell has no volume")
    return tuple(tuple(x / volume for x in v) for v in (bc, ca, ab))


IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def rotation_axis(path, goniometer):
    """The rotation axis, or None.  dxtbx's crystal setting is S R(phi) F U B: only F = S = 1
    and one axis are supported, so that the crystal's A = UB and the axis are the lab's as read;
    anything else is refused rather than rendered with a wrong orientation."""
    if not isinstance(goniometer, dict):
        return None
    for key in ("fixed_rotation", "setting_rotation"):
        if key in goniometer:
            matrix = vec(path, f"goniometer/{key}", goniometer[key], 9)
            if any(abs(a - b) > 1e-9 for a, b in zip(matrix, IDENTITY)):
                raise fail(path, FLAG, f"goniometer/{key}", "a goniometer rotation other than the identity "
                           "is not supported")
    if "axes" in goniometer:
        raise fail(path, FLAG, "goniometer/axes", "multi-axis goniometers are not supported")
    if "rotation_axis" not in goniometer:
        return None
    return unit(vec(path, "goniometer/rotation_axis", goniometer["rotation_axis"]), path, FLAG,
                "goniometer/rotation_axis")


def oscillation(path, scan):
    """The first image's (start, width) in degrees, or (None, None)."""
    if not isinstance(scan, dict):
        return None, None
    values = scan.get("oscillation")
    if values is None:
        values = (scan.get("properties") or {}).get("oscillation")
        if isinstance(values, list) and len(values) >= 2:
            values = [values[0], values[1] - values[0]]
        elif isinstance(values, list) and len(values) == 1:
            values = [values[0], (scan.get("properties") or {}).get("oscillation_width", [0.0])[0]]
    if values is None:
        return None, None
    start, width = vec(path, "scan/oscillation", list(values[:2]), 2)
    return start, width


def read_dials_experiments(path, log=None) -> DetectorFile:
    """The first experiment's detector, beam, crystal, goniometer and scan; InputError naming
    the file and the key."""
    try:
        data = json.loads(read_input(path, FLAG).decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{FLAG} {path}: not a JSON experiment list ({exc})") from None
    if not isinstance(data, dict):
        raise fail(path, FLAG, "experiment", "not a JSON experiment list (an object)")
    experiments = data.get("experiment")
    if not isinstance(experiments, list) or not experiments or not isinstance(experiments[0], dict):
        raise fail(path, FLAG, "experiment", "no experiment in the list")
    first = experiments[0]
    detector = model(path, data, first, "detector")
    if detector is None:
        raise fail(path, FLAG, "detector", "the experiment has no detector")
    specs = panels(path, detector)
    check_panels(path, FLAG, specs)
    beam = model(path, data, first, "beam")
    direction, wavelength = (0.0, 0.0, 1.0), None
    if isinstance(beam, dict):
        if "direction" in beam:
            direction = unit(vec(path, "beam/direction", beam["direction"]), path, FLAG, "beam/direction")
        if beam.get("wavelength") is not None:
            wavelength = vec(path, "beam/wavelength", [beam["wavelength"]], 1)[0]
            if wavelength <= 0:
                raise fail(path, FLAG, "beam/wavelength", f"{wavelength:g} A")
    spindle = rotation_axis(path, model(path, data, first, "goniometer"))
    phi0, osc = oscillation(path, model(path, data, first, "scan"))
    return DetectorFile(path=path, flag=FLAG, frame="dials", panels=tuple(specs),
                        beam=tuple(-x for x in direction), wavelength=wavelength,
                        reciprocal=reciprocal(path, model(path, data, first, "crystal")), spindle=spindle,
                        phi0=phi0, osc=osc)

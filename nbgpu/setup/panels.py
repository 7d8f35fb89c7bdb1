"""Multi-panel detectors from files (-geom: CrystFEL, -expt: DIALS): each panel placed in
nanoBragg's frame as a single-panel nanoBragg run would place it.

The parity contract: every panel's pixels are those of a single-panel run with the same command
line and the panel's own placement flags (`equivalent_argv`).  So a panel is not placed by new
arithmetic: its placement is written as nanoBragg flag words (custom -fdet/-sdet/-odet/-beam
vectors, -pivot sample and the origin through -Xclose/-Yclose/-close_distance, which is how
nanoBragg can be made to put pix0 anywhere: it recomputes -pix0_vector), those words are parsed
on top of the run's flags and the detector stages (setup.detector) place it.  What the file says
about the experiment (wavelength, sensor, spindle, oscillation) likewise becomes flag words put
before the user's, so that any flag typed overrides it, as for -img headers.

Frames: nanoBragg's lab frame has the beam along +x (MOSFLM's: +y up, +z = x cross y).
CrystFEL's (+z along the beam, +y up) maps as (x, y, z) -> (z, y, -x); dxtbx's (the beam along
-z, +y up) as (x, y, z) -> (-z, y, x), the inverse of nanoBragg's own "dials origin".  Both are
rotations, exact in floating point (a permutation with signs).

The image of a multi-panel run stacks the panels: panel i holds rows [i*rows, (i+1)*rows) of a
(panels*rows) x columns image, rows and columns the largest panel's; pixels outside a smaller
panel, and bad regions, are masked (not rendered, 0).  The run's `Setup.detector` describes that
stacked image with panel 0's geometry; `Setup.panels` holds each panel's own placed detector.
"""
from __future__ import annotations

import itertools
import math

from nbgpu.base.errors import InputError
from nbgpu.base.memory import check_allocation
from nbgpu.base.records import Record
from nbgpu.base.vectors import cross, dot, unitize
from nbgpu.setup import detector, flags

FILE_FLAGS = ("-geom", "-expt")

# Flags fields that place a single-panel detector: with a detector file the file places the panels
PLACEMENT = {"distance": "-distance", "close_distance": "-close_distance", "Xbeam": "-Xbeam", "Ybeam": "-Ybeam",
             "Xclose": "-Xclose", "Yclose": "-Yclose", "ORGX": "-ORGX", "ORGY": "-ORGY",
             "detector_pivot": "-pivot", "beam_convention": "-mosflm/-xds/-adxv/-denzo/-dials",
             "fdet_vector": "-fdet_vector", "sdet_vector": "-sdet_vector", "odet_vector": "-odet_vector",
             "beam_vector": "-beam_vector", "pix0_given_m": "-pix0_vector", "detector_twotheta": "-twotheta",
             "detector_rotx": "-detector_rotx", "detector_roty": "-detector_roty", "detector_rotz": "-detector_rotz",
             "curved_detector": "-curved_det", "pixel_size": "-pixel", "fpixels": "-detpixels",
             "spixels": "-detpixels", "detsize_f": "-detsize", "detsize_s": "-detsize", "roi": "-roi"}
# outputs and diagnostics that do not know about panels yet
NOT_YET = {"cbffilename": "-cbffile", "noisecbffilename": "-noisecbffile", "trace_pixel": "-trace_pixel",
           "printout": "-printout"}


class Panels(Record):
    """The panels of a detector file, placed in nanoBragg's frame, and how they are stacked."""
    source: str                      # "-geom FILE" or "-expt FILE"
    names: tuple                     # the file's panel names
    detectors: tuple                 # detector.Detector of each panel (its own size and geometry)
    words: tuple                     # each panel's placement as nanoBragg flag words
    file_words: tuple                # the file's settings as flag words, put before the user's
    argv: tuple                      # the user's words without the detector file flag
    sizes: tuple                     # (fpixels, spixels) of each panel
    rows: int                        # rows of each panel in the stacked image
    columns: int                     # pixels per row of the stacked image
    mask: bytes | None               # the stacked image's flags (0: not rendered), None: all rendered
    matrix: tuple | None             # the file's crystal as -mat's nine numbers, or None
    described: object = None         # io.panels.DetectorFile as read (its data layout, for the outputs)

    @property
    def count(self) -> int:
        return len(self.detectors)


def file_flag(argv) -> tuple:
    """(flag, path) of the detector file argv names, or (None, None); both flags: InputError."""
    found = [(word, argv[i + 1]) for i, word in enumerate(argv[:-1]) if word in FILE_FLAGS]
    if len({flag for flag, _ in found}) > 1:
        raise InputError("-geom and -expt: give one detector file")
    return found[-1] if found else (None, None)


def without_file(argv) -> list:
    """argv without its -geom/-expt words and their values."""
    out, skip = [], False
    for i, word in enumerate(argv):
        if skip:
            skip = False
            continue
        if word in FILE_FLAGS and i + 1 < len(argv):
            skip = True
            continue
        out.append(word)
    return out


def to_nanobragg(frame, v) -> tuple:
    """A vector of the file's lab frame in nanoBragg's (module docstring)."""
    x, y, z = v
    if frame == "crystfel":
        return (z, y, -x)
    return (-z, y, x)


def word(value) -> str:
    """A float as the shortest text that reads back as the same double."""
    return repr(float(value))


def file_words(df) -> list:
    """What the file says about the experiment, as nanoBragg flags (before the user's)."""
    first = df.panels[0]
    words = ["-pixel", word(first.pixel_size * 1000.0),
             "-beam_vector", *(word(x) for x in to_nanobragg(df.frame, df.beam))]
    if df.energy is not None:
        words += ["-energy", word(df.energy)]
    if df.wavelength is not None:
        words += ["-lambda", word(df.wavelength)]
    if df.spindle is not None:
        words += ["-spindle_axis", *(word(x) for x in to_nanobragg(df.frame, df.spindle))]
    if df.phi0 is not None:
        words += ["-phi", word(df.phi0), "-osc", word(df.osc)]
    thickness = {p.thickness for p in df.panels}
    mu = {p.mu for p in df.panels}
    if len(thickness) > 1 or len(mu) > 1:
        raise InputError(f"{df.flag} {df.path}: thickness/mu: panels with different sensors are not supported")
    if first.thickness > 0:
        words += ["-detector_thick", word(first.thickness * 1e6)]
        if first.mu > 0:
            words += ["-detector_abs", word(1e6 / first.mu)]
    return words


def solve(columns, target) -> tuple:
    """x with sum(x_i * columns_i) = target (Cramer's rule)."""
    def det(a, b, c):
        return dot(a, cross(b, c))
    d = det(*columns)
    a, b, c = columns
    return det(target, b, c) / d, det(a, target, c) / d, det(a, b, target) / d


def unit_normal(fast, slow, origin) -> list:
    """The panel's normal pointing away from the sample, of length exactly 1.0 as nanoBragg
    measures it: otherwise nanoBragg replaces -odet_vector by fdet x sdet, which points back at
    the sample for a panel whose data are stored as seen from behind (CrystFEL allows both)."""
    normal, _ = unitize(cross(fast, slow))
    if dot(normal, origin) < 0:
        normal = [-x for x in normal]
    if unitize(normal)[1] == 1.0:
        return normal
    for step in itertools.product((0, 1, -1), repeat=3):       # one ulp at most on each component
        tried = [math.nextafter(x, math.copysign(math.inf, s)) if s else x for x, s in zip(normal, step)]
        if unitize(tried)[1] == 1.0:
            return tried
    return normal                    # nanoBragg would rebuild it as fdet x sdet: refused below


def placement_words(df, spec) -> list:
    """The flags that place one panel: its axes, -pivot sample and its origin through
    -Xclose/-Yclose/-close_distance (mm), and its size."""
    origin = to_nanobragg(df.frame, spec.origin)
    fast, slow = to_nanobragg(df.frame, spec.fast), to_nanobragg(df.frame, spec.slow)
    normal = unit_normal(fast, slow, origin)
    # nanoBragg's sample pivot: pix0 = -Xclose fdet - Yclose sdet + close_distance odet
    xclose, yclose, close = solve(([-x for x in fast], [-x for x in slow], normal), origin)
    where = f"{df.flag} {df.path}: panel {spec.name}"
    if not close > 0 or unitize(normal)[1] != 1.0:
        raise InputError(f"{where}: its plane passes through the sample, or its normal cannot be given "
                         "to nanoBragg as a unit vector")
    return ["-fdet_vector", *map(word, fast), "-sdet_vector", *map(word, slow), "-odet_vector", *map(word, normal),
            "-pivot", "sample", "-Xclose", word(xclose * 1000.0), "-Yclose", word(yclose * 1000.0),
            "-close_distance", word(close * 1000.0),
            "-detpixels_f", str(spec.fpixels), "-detpixels_s", str(spec.spixels)]


def panel_flags(f, words):
    """The run's flags with a panel's placement words parsed after them."""
    start = {name: list(value) if isinstance(value, tuple) else value
             for name, value in ((n, getattr(f, n)) for n in f.fields())}
    placed, _ = flags.parse(list(words), start)
    return placed


def sentinel(value):
    """A value unlike `value` of its kind: a field left as it was differs from it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return -987654.25 if value != -987654.25 else 1.5
    if isinstance(value, str):
        return "\x01" + value
    if isinstance(value, (list, tuple)):
        return [sentinel(x) for x in value]
    return value


def typed_placement(argv) -> str | None:
    """The first word of argv (the user's, without the detector file) that sets a field
    PLACEMENT names, whatever value it gives (a value equal to nanoBragg's default included):
    each flag word is parsed alone over two different starts, and a field it sets is one that
    leaves either start."""
    base = flags.draft()
    starts = (dict(vars(base)), {name: sentinel(getattr(base, name)) for name in PLACEMENT})
    for i, text in enumerate(argv):
        rules = flags.TABLE.rules_matching(text) if text.startswith("-") else ()
        if not rules:
            continue
        piece = argv[i:i + 1 + max(rule.nargs for rule in rules)]
        for start in starts:
            try:
                parsed, _ = flags.parse(list(piece), dict(start))
            except InputError:
                continue
            if any(repr(as_tuple(getattr(parsed, name))) != repr(as_tuple(start[name])) for name in PLACEMENT):
                return text
    return None


def as_tuple(value):
    return tuple(value) if isinstance(value, list) else value


def refuse_placement(f, argv, df):
    """A flag the user typed that places a single detector, or an output that knows one panel."""
    typed = typed_placement(without_file(argv))
    if typed is not None:
        raise InputError(f"{typed} with {df.flag} {df.path}: the file places the panels; leave out the flags "
                         "that place a single detector")
    for field, flag in NOT_YET.items():
        if getattr(f, field) not in (None, False):
            raise InputError(f"{flag} with {df.flag} {df.path}: not yet available for multi-panel detectors")


def stacked_mask(sizes, rows, columns, bad) -> bytes | None:
    """The stacked image's flags: each panel's own pixels outside its bad regions."""
    if all(size == (columns, rows) for size in sizes) and not any(bad):
        return None
    flags_ = bytearray(len(sizes) * rows * columns)
    for i, ((fp, sp), rects) in enumerate(zip(sizes, bad)):
        base = i * rows * columns
        for s in range(sp):
            flags_[base + s * columns:base + s * columns + fp] = b"\x01" * fp
        for f0, f1, s0, s1 in rects:
            for s in range(s0, s1 + 1):
                flags_[base + s * columns + f0:base + s * columns + f1 + 1] = bytes(f1 - f0 + 1)
    return bytes(flags_)


def crystal_matrix(df, f):
    """The file's crystal as -mat's nine numbers (MOSFLM's A: a*, b*, c* as columns, times the
    wavelength in A), in nanoBragg's frame; None without one, or when -mat or -cell is given."""
    if df.reciprocal is None or f.matfilename is not None or f.user_cell:
        return None
    stars = [to_nanobragg(df.frame, v) for v in df.reciprocal]
    wavelength = f.lambda0 * 1e10
    return tuple(stars[col][row] * wavelength for row in range(3) for col in range(3))


def place_panels(f, df, argv) -> Panels:
    """Every panel of the file placed (f: the run's flags, file words included; argv: the
    user's words, to find placement flags the user typed)."""
    refuse_placement(f, argv, df)
    words = [placement_words(df, spec) for spec in df.panels]
    placed = []
    for spec, panel_words in zip(df.panels, words):
        fp = panel_flags(f, panel_words)
        grid = detector.pixel_grid(fp)
        frame, _ = detector.frame(fp, grid)
        placed.append(detector.place(fp, frame)[0])
    sizes = tuple((spec.fpixels, spec.spixels) for spec in df.panels)
    rows, columns = max(s for _, s in sizes), max(fp for fp, _ in sizes)
    total = len(sizes) * rows * columns
    if total > detector.MAX_PIXELS:
        raise InputError(f"{df.flag} {df.path}: {len(sizes)} panels of up to {columns}x{rows} pixels are too many "
                         "to render (at most 2^31-1 pixels)")
    check_allocation(total * detector.BYTES_PER_PIXEL, f"{len(sizes)} panels of {columns}x{rows} pixels",
                     f"check {df.flag} {df.path}")
    return Panels(source=f"{df.flag} {df.path}", names=tuple(p.name for p in df.panels), detectors=tuple(placed),
                  words=tuple(tuple(w) for w in words), file_words=tuple(file_words(df)), argv=tuple(without_file(argv)),
                  sizes=sizes, rows=rows, columns=columns,
                  mask=stacked_mask(sizes, rows, columns, [p.bad for p in df.panels]), matrix=crystal_matrix(df, f),
                  described=df)


def stacked(first, panels: Panels):
    """The run's detector record: the stacked image (all panels), with panel 0's geometry."""
    fr = first.frame
    height = panels.count * panels.rows
    grid = fr.grid.replace(fpixels=panels.columns, spixels=height, detsize_f=panels.columns * fr.grid.pixel_size,
                           detsize_s=height * fr.grid.pixel_size)
    roi = (0, panels.columns, 0, height)
    frame = fr.replace(grid=grid, roi=roi, progress_pixels=(panels.columns + 1) * (height + 1))
    return first.replace(frame=frame)


def equivalent_argv(setup, index, mat_path=None) -> list:
    """The single-panel command line whose image is panel `index` of a multi-panel run, bit for
    bit: the file's settings, the user's words (without -geom/-expt), the panel's placement and
    the run's oversampling.  A crystal read from an .expt is written to mat_path (needed then)
    as a -mat file.  Bad regions are not part of it: compare the pixels outside them."""
    panels = setup.panels
    words = list(panels.file_words) + list(panels.argv) + list(panels.words[index])
    words += ["-oversample", str(setup.oversample)]
    if panels.matrix is not None:
        if mat_path is None:
            raise InputError("equivalent_argv: the crystal comes from the .expt file: give mat_path to write it")
        with open(mat_path, "w") as handle:
            for row in range(3):
                handle.write(" ".join(word(x) for x in panels.matrix[3 * row:3 * row + 3]) + "\n")
        words += ["-mat", str(mat_path)]
    return words

"""nanoBragg's command-line language: one table of flags, applied with nanoBragg's own rules.

nanoBragg tests every word that starts with '-' against a fixed list of branches, in source
order, by substring (a few by exact match or exact length); every branch that matches fires,
unless one ends the word ("stop", the C `continue`).  Values are never consumed, so a value
that starts with '-' is tested too.  Reproducing exactly that, from one table, gives the
documented quirks (-twotheta_axis also sets -twotheta, -misset_seed also sets -misset, ...)
without a special case for any of them.

What we add, and nanoBragg does not do: a flag the user typed with a missing, non-numeric,
NaN/inf or impossible value is an error naming the flag; unknown flags and stray words get a
warning on stderr.  Values reached only through a substring collision are converted silently
with C's atof/atoi, as nanoBragg does.
"""
from __future__ import annotations

import math
import threading

from types import SimpleNamespace

from nbgpu.base.choices import BACKENDS, COMPRESSIONS, PRECISIONS
from nbgpu.base.cnumbers import RTD, atof, atoi, is_number
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
NAN = float("nan")


class Flags(Record):
    """The parsed command line: every value the flags (and -img/-mask headers) set, with
    nanoBragg's defaults, frozen.  Names follow nanoBragg's variables; units are SI (m, rad) as
    nanoBragg stores them; vectors are tuples.  The setup stages read it and return records of
    their own: nothing here is changed after parsing."""
    # crystal
    Na: float = 1.0
    Nb: float = 1.0
    Nc: float = 1.0
    user_cell: bool = False
    cell: tuple = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # a b c (A) al be ga (rad)
    misset: str = ""                 # "", "angles" or "random"
    misset_angles: tuple = (0.0, 0.0, 0.0)
    sample_x: float = 0.0
    sample_y: float = 0.0
    sample_z: float = 0.0
    density: float = 1.0e6
    molecular_weight: float = 18.0
    xtal_shape: str = "square"
    fudge: float = 1.0
    mosaic_spread: float = -1.0
    mosaic_domains: int = -1
    mosaic_seed: int = -12345678
    misset_seed: int = 0             # set to the time-based seed before parsing
    # beam
    lambda0: float = 1.0e-10
    dispersion: float = 0.0
    dispsteps: int = -1
    hdivrange: float = -1.0
    vdivrange: float = -1.0
    hdivstep: float = -1.0
    vdivstep: float = -1.0
    hdivsteps: int = -1
    vdivsteps: int = -1
    round_div: bool = True
    polarization: float = 0.0
    nopolar: bool = False
    polar_vector: tuple = (0.0, 0.0, 1.0)
    beam_vector: tuple = (1.0, 0.0, 0.0)
    fluence: float = 125932015286227086360700780544.0
    flux: float = 0.0
    exposure: float = 1.0
    beamsize: float = 1e-4
    water_size: float = 0.0
    coherent: bool = False
    # detector
    pixel_size: float = 0.1e-3
    fpixels: int = 0
    spixels: int = 0
    detsize_f: float = 102.4e-3
    detsize_s: float = 102.4e-3
    distance: float = 100.0e-3
    close_distance: float = NAN
    Xbeam: float = NAN
    Ybeam: float = NAN
    Xclose: float = NAN
    Yclose: float = NAN
    ORGX: float = NAN
    ORGY: float = NAN
    detector_pivot: str = "beam"
    beam_convention: str = "mosflm"
    fdet_vector: tuple = (0.0, 0.0, 1.0)
    sdet_vector: tuple = (0.0, -1.0, 0.0)
    odet_vector: tuple = (1.0, 0.0, 0.0)
    twotheta_axis: tuple = (0.0, 1.0, 0.0)
    spindle_vector: tuple = (0.0, 0.0, 1.0)
    pix0_vector: tuple = (0.0, 0.0, 0.0)   # the origin as typed (m); nanoBragg ignores it, as nbgpu does
    pix0_given_m: tuple | None = None  # nbgpu: the origin the user asked for, in metres
    pix0_flag: str = ""
    detector_twotheta: float = 0.0
    detector_rotx: float = 0.0
    detector_roty: float = 0.0
    detector_rotz: float = 0.0
    curved_detector: bool = False
    point_pixel: bool = False
    detector_mu: float = -1.0
    detector_thick: float = 0.0
    detector_thicksteps: int = -1
    header_twotheta: float = 0.0     # TWOTHETA of an -img/-mask header: read, never used
    # sampling
    phi0: float = 0.0
    osc: float = -1.0
    phistep: float = -1.0
    phisteps: int = -1
    oversample: int = -1
    oversample_thick: bool = False
    oversample_polar: bool = False
    oversample_omega: bool = False
    roi: tuple = (-1, -1, -1, -1)   # xmin xmax ymin ymax
    dmin: float = 0.0
    interpolate: int = 2             # 2 = automatic
    # files
    matfilename: str | None = None
    hklfilename: str | None = None
    dumpfilename: str = "Fdump.bin"
    stolfilename: str | None = None
    stol_file_mult: float = 1.0e10
    stoloutfilename: str = "output.stol"
    imginfilename: str | None = None
    maskfilename: str | None = None
    sourcefilename: str | None = None
    floatfilename: str = "floatimage.bin"
    intfilename: str = "intimage.img"
    pgmfilename: str = "image.pgm"
    noisefilename: str = "noiseimage.img"
    default_F: float = 0.0
    # output and control
    calculate_noise: bool = True
    write_pgm: bool = True
    intfile_scale: float = 0.0
    pgm_scale: float = 0.0
    adc_offset: float = 40.0
    seed: int = 0                    # set to -time() before parsing
    printout: bool = False
    printout_fpixel: int = -1
    printout_spixel: int = -1
    progress_meter: bool = True
    # nbgpu additions
    backend: str = ""                 # -backend auto|cuda|c; "" = NBGPU_BACKEND or auto
    precision: str = "double"         # -precision double|single
    libm: bool = False                # -libm: the C library's sin/cos/exp everywhere (no vector math)
    trace_pixel: tuple | None = None  # (slow, fast)
    cbffilename: str | None = None    # -cbffile: the int image as miniCBF
    noisecbffilename: str | None = None   # -noisecbffile: the noise image as miniCBF
    nexusfilename: str | None = None  # -nexusfile: the int (and noise) image as NeXus/NXmx
    nexus_compression: str = "auto"   # -nexus_compression auto|none|bslz4





# ---------------------------------------------------------------------------------------
# value conversions: each takes the list of value words and whether to validate

class Value:
    """One value of a flag: word index, C conversion, then scaling, then a check.  (Plain
    classes here: typing's NamedTuple is a noticeable share of a small render's start-up.)"""
    __slots__ = ("index", "kind", "op", "check")

    def __init__(self, index=0, kind="f", op=None, check=""):
        self.index = index
        self.kind = kind                  # "f" atof, "i" atoi, "s" the word itself
        self.op = op                      # applied to the converted number, or None
        self.check = check                # "", "positive"


def per(divisor):
    return lambda x: x / divisor


def times(factor):
    return lambda x: x * factor


MM = per(1000.0)          # mm -> m, as nanoBragg divides
DEG = per(RTD)            # degrees -> rad


def convert(flag: str, words: list[str], spec: Value, strict: bool):
    word = words[spec.index]
    if spec.kind == "s":
        return word
    if strict:
        if not is_number(word):
            raise InputError(f"{flag}: expected a number, got {word!r}")
        number = float(word)
        if not math.isfinite(number):
            raise InputError(f"{flag}: value must be finite, got {word!r}")
        if spec.check == "positive" and not number > 0:
            raise InputError(f"{flag}: value must be greater than 0, got {word!r}")
    if spec.kind == "i":
        value = atoi(word)
        if strict and value != float(word):
            _warn(f"{flag} {word} is read as {value} (an integer), as nanoBragg does")
        return value
    value = atof(word)
    return spec.op(value) if spec.op else value


def num(index=0, op=None, check=""):
    return Value(index, "f", op, check)


def integer(index=0, check="", op=None):
    return Value(index, "i", op, check)


def word(index=0):
    return Value(index, "s")


def vec3():
    return [num(0), num(1), num(2)]


class Rule:
    """One branch of nanoBragg's argument scan.

    names: the branch fires if any of them is a substring of the word (match="exact": equal;
    an int: substring and that total length; ">n": substring and longer than n).
    nargs: values it needs after the word (it silently does nothing with fewer).
    sets: setting -> Value, list of Values, or a constant.
    action: for the few irregular branches, called as (draft, flag, words, strict).
    nbgpu: our addition, not a nanoBragg flag.
    needs_next: -curved_det: no value, but fires only if a word follows.
    """
    __slots__ = ("names", "nargs", "sets", "match", "stop", "action", "nbgpu", "needs_next")

    def __init__(self, names, nargs=0, sets=None, match="substr", stop=False, action=None, nbgpu=False,
                 needs_next=False):
        self.names, self.nargs, self.sets, self.match = names, nargs, sets or {}, match
        self.stop, self.action, self.nbgpu, self.needs_next = stop, action, nbgpu, needs_next


def R(names, nargs=0, match="substr", stop=False, action=None, nbgpu=False, needs_next=False, **sets):
    names = (names,) if isinstance(names, str) else tuple(names)
    return Rule(names, nargs, sets, match, stop, action, nbgpu, needs_next)


# -- the irregular branches ---------------------------------------------------------------

CELL_DEFAULTS = ("", "b = a", "c = a", "alpha = 90", "beta = 90", "gamma = 90")


def cell_action(s, flag, words, strict):
    """-cell a [b [c [al [be [ga]]]]]: reads values until a word starting with '-' (quirk Q33:
    the missing ones take nanoBragg's defaults, which nbgpu says when the user typed -cell)."""
    s.user_cell = True
    given = 0
    for text in words[:6]:
        if text.startswith("-"):
            break
        value = convert(flag, [text], num(), strict)
        s.cell[given] = value / RTD if given >= 3 else value
        given += 1
    if strict and 0 < given < 6:
        _warn(f"{flag} with {given} value{'s' if given > 1 else ''}: {', '.join(CELL_DEFAULTS[given:])}, "
              "as nanoBragg does")
    return "stop" if given < 6 else None


def misset_random_action(s, flag, words, strict):
    if "rand" in words[0]:
        s.misset = "random"
        return "stop"
    return None


def misset_angles_action(s, flag, words, strict):
    s.misset = "angles"
    s.misset_angles = [convert(flag, words, num(i, DEG), strict) for i in range(3)]


def pivot_action(s, flag, words, strict):
    if "sample" in words[0]:
        s.detector_pivot = "sample"
    if "beam" in words[0]:
        s.detector_pivot = "beam"
    if strict and "sample" not in words[0] and "beam" not in words[0]:
        _warn(f"{flag} {words[0]}: neither 'sample' nor 'beam', ignored (as nanoBragg does)")


def detector_abs_action(s, flag, words, strict):
    text = words[0]
    if "inf" in text or atof(text) == 0.0:
        if strict and "inf" not in text and not is_number(text):
            raise InputError(f"{flag}: expected an attenuation depth in um or 'inf', got {text!r}")
        s.detector_thick = 0.0
        s.detector_mu = 0.0
    else:
        s.detector_mu = 1.0 / (convert(flag, words, num(), strict) * 1e-6)


def pix0_mm_action(s, flag, words, strict):
    s.pix0_given_m = [convert(flag, words, num(i), strict) / 1000.0 for i in range(3)]
    s.pix0_flag = flag


def pix0_m_action(s, flag, words, strict):
    s.pix0_vector = [atof(w) for w in words[:3]]
    if flag == "-pix0_vector":
        s.pix0_given_m = [convert(flag, words, num(i), strict) for i in range(3)]
        s.pix0_flag = flag


def choice_action(attribute, choices):
    """An nbgpu flag taking one word out of a fixed set."""
    def action(s, flag, words, strict):
        if words[0] not in choices:
            raise InputError(f"{flag}: expected one of {', '.join(choices)}, got {words[0]!r}")
        setattr(s, attribute, words[0])
    return action


def trace_pixel_action(s, flag, words, strict):
    slow, fast = (convert(flag, words, integer(i), True) for i in range(2))
    s.trace_pixel = (slow, fast)


# -- the table, in nanoBragg's source order (flags.md §2.7) -------------------------------

CUSTOM = "custom"
FLAGS: list[Rule] = [
    R("-Na", 1, stop=True, Na=integer()),
    R("-Nb", 1, stop=True, Nb=integer()),
    R("-Nc", 1, stop=True, Nc=integer()),
    R("-N", 1, match="exact", stop=True, Na=integer(), Nb=integer(), Nc=integer()),
    R("-cell", 1, action=cell_action),
    R("-misset", 1, action=misset_random_action),
    R("-misset", 3, action=misset_angles_action),
    R(("-samplesize", "-sample_size"), 1, sample_x=num(0, MM), sample_y=num(0, MM), sample_z=num(0, MM)),
    R(("-sample_thick", "-sample_x"), 1, sample_x=num(0, MM)),
    R(("-sample_width", "-sample_y", "-width"), 1, sample_y=num(0, MM)),
    R(("-sample_heigh", "-sample_z", "-heigh"), 1, sample_z=num(0, MM)),
    R(("-xtalsize", "-xtal_size"), 1, sample_x=num(0, MM), sample_y=num(0, MM), sample_z=num(0, MM)),
    R(("-xtal_thick", "-xtal_x"), 1, sample_x=num(0, MM)),
    R(("-xtal_width", "-xtal_y", "-width"), 1, sample_y=num(0, MM)),
    R(("-xtal_heigh", "-xtal_z", "-heigh"), 1, sample_z=num(0, MM)),
    R(("-density", "-sample_den"), 1, density=num(0, times(1e6))),
    R("-MW", 1, match="exact", molecular_weight=num()),
    R("-molec", 1, molecular_weight=num()),
    R("-Xbeam", 1, Xbeam=num(0, MM), detector_pivot="beam"),
    R("-Ybeam", 1, Ybeam=num(0, MM), detector_pivot="beam"),
    R("-Xclose", 1, Xclose=num(0, MM), detector_pivot="sample"),
    R("-Yclose", 1, Yclose=num(0, MM), detector_pivot="sample"),
    R("-ORGX", 1, ORGX=num(), detector_pivot="sample"),
    R("-ORGY", 1, ORGY=num(), detector_pivot="sample"),
    R("-pivot", 1, action=pivot_action),
    R("-mosflm", beam_convention="mosflm", detector_pivot="beam"),
    R("-xds", beam_convention="xds", detector_pivot="sample"),
    R("-adxv", beam_convention="adxv", detector_pivot="beam"),
    R("-denzo", beam_convention="denzo", detector_pivot="beam"),
    R("-dials", beam_convention="dials", detector_pivot="beam"),
    R("-fdet_vector", 3, beam_convention=CUSTOM, fdet_vector=vec3()),
    R("-sdet_vector", 3, beam_convention=CUSTOM, sdet_vector=vec3()),
    R("-odet_vector", 3, beam_convention=CUSTOM, odet_vector=vec3()),
    R("-beam_vector", 3, beam_convention=CUSTOM, beam_vector=vec3()),
    R("-polar_vector", 3, beam_convention=CUSTOM, polar_vector=vec3()),
    R("-spindle_axis", 3, beam_convention=CUSTOM, spindle_vector=vec3()),
    R("-twotheta_axis", 3, beam_convention=CUSTOM, twotheta_axis=vec3()),
    R("-pix0_vector", 3, beam_convention=CUSTOM, action=pix0_m_action),
    R("-pix0_vector_mm", 3, match="exact", action=pix0_mm_action, nbgpu=True),
    R("-distance", 1, distance=num(0, MM, "positive"), detector_pivot="beam"),
    R("-close_distance", 1, close_distance=num(0, MM, "positive"), detector_pivot="sample"),
    R("-detector_abs", 1, action=detector_abs_action),
    R("-detector_thick", 1, match=15, detector_thick=num(0, times(1e-6))),
    R("-detector_thicksteps", 1, detector_thicksteps=integer()),
    R("-thicksteps", 1, detector_thicksteps=integer()),
    R("-twotheta", 1, detector_twotheta=num(0, DEG), detector_pivot="sample"),
    R("-detector_rotx", 1, detector_rotx=num(0, DEG)),
    R("-detector_roty", 1, detector_roty=num(0, DEG)),
    R("-detector_rotz", 1, detector_rotz=num(0, DEG)),
    R("-detsize", 1, match=8, detsize_f=num(0, MM, "positive"), detsize_s=num(0, MM, "positive")),
    R("-detsize_f", 1, detsize_f=num(0, MM, "positive")),
    R("-detsize_s", 1, detsize_s=num(0, MM, "positive")),
    R("-detpixels", 1, match=10, fpixels=integer(0, "positive"), spixels=integer(0, "positive")),
    R(("-detpixels_f", "-detpixels_x"), 1, fpixels=integer(0, "positive")),
    R(("-detpixels_s", "-detpixels_y"), 1, spixels=integer(0, "positive")),
    R("-curved_det", needs_next=True, curved_detector=True),
    R("-pixel", 1, pixel_size=num(0, MM, "positive")),
    R("-point_pixel", point_pixel=True),
    R("-polar", 1, match=6, polarization=num(), nopolar=False),
    R("-nopolar", nopolar=True),
    R("-oversample_thick", stop=True, oversample_thick=True),
    R("-oversample_polar", stop=True, oversample_polar=True),
    R("-oversample_omega", stop=True, oversample_omega=True),
    R("-oversample", 1, oversample=integer()),
    R("-roi", 4, roi=[integer(0), integer(1), integer(2), integer(3)]),
    R(("-lambda", "-wave"), 1, lambda0=num(0, per(1.0e10), "positive")),
    R("-energy", 1, lambda0=num(0, lambda e: (12398.42 / e) / 1.0e10, "positive")),
    R("-fluence", 1, fluence=num()),
    R("-flux", 1, flux=num()),
    R("-exposure", 1, exposure=num()),
    R("-beamsize", 1, beamsize=num(0, per(1000))),
    R("-mosaic", 1, match=7, mosaic_spread=num(0, DEG)),
    R(("-mosaici", "-mosaic_spr"), 1, mosaic_spread=num(0, DEG)),
    R("-mosaic_dom", 1, mosaic_domains=integer()),
    R("-dispersion", 1, dispersion=num(0, per(100.0))),
    R("-dispsteps", 1, dispsteps=integer()),
    R("-divergence", 1, hdivrange=num(0, MM), vdivrange=num(0, MM)),
    R("-hdivrange", 1, hdivrange=num(0, MM)),
    R("-vdivrange", 1, vdivrange=num(0, MM)),
    R("-hdivstep", 1, match=9, hdivstep=num(0, MM)),
    R("-hdivsteps", 1, hdivsteps=integer()),
    R("-vdivstep", 1, match=9, vdivstep=num(0, MM)),
    R("-vdivsteps", 1, vdivsteps=integer()),
    R("-divsteps", 1, hdivsteps=integer(), vdivsteps=integer()),
    R("-round_div", round_div=True),
    R("-square_div", round_div=False),
    R("-adc", 1, adc_offset=num()),
    R("-phi", 1, match=4, phi0=num(0, DEG)),
    R("-osc", 1, osc=num(0, DEG)),
    R("-phistep", 1, match=8, phistep=num(0, DEG)),
    R("-phisteps", 1, phisteps=integer()),
    R("-dmin", 1, dmin=num(0, times(1e-10))),
    R("-mat", 1, matfilename=word()),
    R("-hkl", 1, hklfilename=word()),
    R("-default_F", 1, default_F=num()),
    R("-dump", 1, dumpfilename=word()),
    R("-img", 1, imginfilename=word()),
    R("-stolout", 1, match=">7", stoloutfilename=word()),
    R("-stol", 1, match=5, stolfilename=word(), stol_file_mult=1e10),
    R("-4stol", 1, match=6, stolfilename=word(), stol_file_mult=1e10 / 4),
    R("-Q", 1, match=2, stolfilename=word(), stol_file_mult=1e10 / math.pi / 4),
    R("-sourcefile", 1, sourcefilename=word()),
    R(("-floatfile", "-floatimage"), 1, floatfilename=word()),
    R(("-intfile", "-intimage"), 1, intfilename=word()),
    R(("-pgmfile", "-pgmimage"), 1, pgmfilename=word(), write_pgm=True),
    R(("-noisefile", "-noiseimage"), 1, noisefilename=word(), calculate_noise=True),
    R("-nonoise", calculate_noise=False),
    R("-nopgm", write_pgm=False),
    R("-scale", 1, intfile_scale=num()),
    R("-pgmscale", 1, pgm_scale=num(), write_pgm=True),
    R("-coherent", coherent=True),
    R("-printout", printout=True),
    R("-noprogress", progress_meter=False),
    R("-progress", progress_meter=True),
    R("-interpolate", interpolate=1),
    R("-nointerpolate", interpolate=0),
    R("-round_xtal", xtal_shape="round"),
    R("-square_xtal", xtal_shape="square"),
    R("-gauss_xtal", xtal_shape="gauss"),
    R(("-binary_spots", "-tophat_spots"), xtal_shape="tophat"),
    R("-fudge", 1, fudge=num()),
    R("-printout_pixel", 2, printout_fpixel=integer(0), printout_spixel=integer(1)),
    R("-seed", 1, seed=integer(0, op=lambda n: -n)),
    R("-mosaic_seed", 1, mosaic_seed=integer(0, op=lambda n: -n)),
    R("-misset_seed", 1, misset_seed=integer(0, op=lambda n: -n)),
    R("-water", 1, water_size=num(0, per(1e6))),
    R("-trace_pixel", 2, match="exact", action=trace_pixel_action, nbgpu=True),
    R("-backend", 1, match="exact", action=choice_action("backend", BACKENDS), nbgpu=True),
    R("-precision", 1, match="exact", action=choice_action("precision", PRECISIONS), nbgpu=True),
    R("-libm", match="exact", libm=True, nbgpu=True),
    R("-cbffile", 1, match="exact", cbffilename=word(), nbgpu=True),
    R("-noisecbffile", 1, match="exact", noisecbffilename=word(), calculate_noise=True, nbgpu=True),
    R("-nexusfile", 1, match="exact", nexusfilename=word(), nbgpu=True),
    R("-nexus_compression", 1, match="exact", action=choice_action("nexus_compression", COMPRESSIONS), nbgpu=True),
]

_parsing = threading.local()   # the warnings of the parse under way (API calls may run in threads)


def _warn(message: str):
    _parsing.warnings.append(message)
KNOWN_NAMES = {name for rule in FLAGS for name in rule.names}
HEADER_PRESCAN = ("-img", "-mask")     # nanoBragg reads these before the main scan


def matches(rule: Rule, text: str) -> bool:
    if rule.match == "exact":
        return text in rule.names
    if not any(name in text for name in rule.names):
        return False
    if isinstance(rule.match, int):
        return len(text) == rule.match
    if isinstance(rule.match, str) and rule.match.startswith(">"):
        return len(text) > int(rule.match[1:])
    return True


_matching = {}     # word -> the rules it matches, in table order (a batch parses the same words often)


def rules_matching(text: str) -> tuple:
    rules = _matching.get(text)
    if rules is None:
        rules = tuple(rule for rule in FLAGS if matches(rule, text))
        if len(_matching) < 10000:
            _matching[text] = rules
    return rules


def apply_rule(rule: Rule, draft, flag: str, words: list[str], strict: bool):
    """Fire one branch; returns "stop" when nanoBragg's branch ends with `continue`."""
    for name, spec in rule.sets.items():
        if isinstance(spec, Value):
            value = convert(flag, words, spec, strict)
            if spec.kind == "i" and spec.op:
                value = spec.op(value)
        elif isinstance(spec, list):
            value = [convert(flag, words, s, strict) for s in spec]
        else:
            value = spec
        setattr(draft, name, value)
    result = rule.action(draft, flag, words, strict) if rule.action else None
    return "stop" if rule.stop or result == "stop" else None


def values_used(rule: Rule, following: list[str]) -> int:
    """How many of the following words the branch reads (-cell stops at a word starting '-')."""
    if rule.action is cell_action:
        n = 0
        while n < min(6, len(following)) and not following[n].startswith("-"):
            n += 1
        return n
    return rule.nargs


def draft(start=None) -> SimpleNamespace:
    """A mutable copy of the flags' defaults (vectors as lists), with `start` (field -> value)
    applied: what parsing works on."""
    values = {name: list(value) if isinstance(value, tuple) else value for name, value in Flags.defaults().items()}
    values.update(start or {})
    return SimpleNamespace(**values)


def freeze(working: SimpleNamespace) -> Flags:
    return Flags(**{name: tuple(value) if isinstance(value, list) else value
                    for name, value in vars(working).items()})


def parse(argv: list[str], start=None) -> tuple[Flags, list[str]]:
    """argv with nanoBragg's rules over the defaults (and `start`, the -img/-mask header values):
    (the flags, warnings for the user).

    A word is validated strictly (number, finite, in range) when the user typed that flag or
    an alias of it; a branch reached through a substring collision with another flag's exact
    name gets nanoBragg's silent atof/atoi instead.
    """
    _parsing.warnings = []
    for text in argv:
        if "\0" in text:               # only the Python API and job files can pass one
            raise InputError(f"{text!r}: a NUL byte in a word")
    working = draft(start)
    used = [False] * len(argv)
    for i, text in enumerate(argv):
        if not text.startswith("-"):
            continue
        following = argv[i + 1:]
        fired = False
        for rule in rules_matching(text):
            typed = text in rule.names or text not in KNOWN_NAMES
            if len(following) < rule.nargs or (rule.needs_next and not following):
                if typed and rule.needs_next:
                    _warn(f"{text} is ignored as the last argument, as nanoBragg does")
                elif typed:
                    raise InputError(f"{text}: missing value ({rule.nargs} expected)")
                continue
            fired = True
            n = values_used(rule, following)
            used[i + 1:i + 1 + n] = [True] * n
            if apply_rule(rule, working, text, following, typed) == "stop":
                break
        if any(name in text for name in HEADER_PRESCAN):
            fired = True
            used[i + 1:i + 2] = [True] * min(1, len(following))
        used[i] = True
        if not fired and not is_number(text) and text not in KNOWN_NAMES:
            _warn(f"unknown flag {text} ignored (as nanoBragg does)")
            n = 0   # its values, if any, are part of the same warning
            while n < len(following) and not following[n].startswith("-"):
                n += 1
            used[i + 1:i + 1 + n] = [True] * n
    for i, text in enumerate(argv):
        if not used[i]:
            _warn(f"ignoring {text!r}: neither a flag nor a flag's value")
    return freeze(working), list(dict.fromkeys(_parsing.warnings))


def header_files(argv: list[str]) -> tuple[str | None, str | None]:
    """nanoBragg's pre-scan: the last -img and -mask names (any word containing them)."""
    img = mask = None
    for i, text in enumerate(argv[:-1]):
        if text.startswith("-"):
            if "-img" in text:
                img = argv[i + 1]
            if "-mask" in text:
                mask = argv[i + 1]
    return img, mask


def command_words(args, options: dict) -> list[str]:
    """nanoBragg words from a command line (a string or a list) and keyword flags (the
    library's calls: nbgpu.simulate, nbgpu.Simulator, cluster.render_frames); InputError for
    anything that is neither."""
    import shlex
    if args is None:
        words = []
    elif isinstance(args, str):
        try:
            words = shlex.split(args)
        except ValueError as exc:
            raise InputError(f"command line: {exc} (shell quoting)") from None
    elif isinstance(args, (list, tuple)):
        words = [word("command line", value) for value in args]
    else:
        raise InputError(f"command line: expected a string or a list of words, not {type(args).__name__}")
    return words + argv_from_keywords(options)


def word(where: str, value) -> str:
    """One value as a nanoBragg word: text and paths as they are, numbers exactly as their
    shortest round-trip digits (numpy's in their own precision: float32 0.1 is "0.1");
    InputError for anything else."""
    import numbers
    import os
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fsdecode(os.fspath(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if getattr(value, "dtype", None) is not None and value.dtype.kind == "f" and getattr(value, "ndim", 1) == 0:
        return str(value)                          # a numpy float scalar: numpy's shortest digits
    if isinstance(value, numbers.Real):
        return repr(float(value))
    raise InputError(f"{where}: expected a number, a word or a path, got {type(value).__name__} {shown(value)}")


def shown(value) -> str:
    """A value as one short line, for an error message."""
    return " ".join(repr(value).split())[:40]


def argv_from_keywords(options: dict) -> list[str]:
    """Keyword settings of the Python API -> nanoBragg words: N=5 -> ["-N", "5"].

    True adds a switch, False/None leave it out, lists, tuples and numpy arrays give several
    values; a trailing underscore is dropped (lambda_=1) so Python keywords can be used.
    """
    words = []
    for key, value in options.items():
        flag = "-" + key.rstrip("_")
        if getattr(value, "ndim", None) == 0:    # a numpy scalar (or 0-d array)
            value = value.item() if value.dtype.kind == "b" else value[()]
        elif getattr(value, "ndim", None) == 1:  # a numpy array: its values
            value = list(value)
        if value is None or value is False:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, (list, tuple)):
            words += [flag] + [word(f"{key}=", v) for v in value]
        else:
            words += [flag, word(f"{key}=", value)]
    return words

"""nanoBragg's command-line language: one table of flags (setup.flagrules' machinery, which
applies them with nanoBragg's own rules), the Flags record it fills, and the words of the
Python API's keyword flags.

The table in nanoBragg's source order gives the documented quirks (-twotheta_axis also sets
-twotheta, -misset_seed also sets -misset, ...) without a special case for any of them.
"""
from __future__ import annotations

from nbgpu.base.choices import BACKENDS, COMPRESSIONS, PRECISIONS
from nbgpu.base.cnumbers import RTD, atof, is_number
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.setup import shared_flags as shared
from nbgpu.setup.flagrules import DEG, MM, FlagTable, R, Rule, convert, integer, num, per, times, warn, word
NAN = float("nan")
# -hkl MODEL's Fcalc parameters (base.cnumbers.checked's rules): `nbgpu sf`'s options take them too
MODEL_CHECKS = {"k_sol": "nonnegative", "B_sol": "nonnegative", "B_add": ""}


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
    sf_column: str | None = None     # -sf_column: the MTZ/mmCIF column -hkl's amplitudes come from
    k_sol: float = 0.0               # -k_sol: flat bulk solvent density (e/A^3) of -hkl's model; 0: none
    B_sol: float = 46.0              # -B_sol: its B factor (A^2)
    B_add: float = 0.0               # -B_add: B (A^2) added to the model's Fcalc (negative: removed)
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
    geomfilename: str | None = None   # -geom: a CrystFEL geometry file (multi-panel; setup/panels.py)
    exptfilename: str | None = None   # -expt: a DIALS experiment list (multi-panel; setup/panels.py)
    layoutfilename: str | None = None  # -layoutfile: the float image as HDF5 in the -geom file's data layout
    pngfilename: str | None = None    # -pngfile: a picture of the detector as seen from the sample




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
        warn(f"{flag} with {given} value{'s' if given > 1 else ''}: {', '.join(CELL_DEFAULTS[given:])}, "
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
    """-pivot as nonBragg's (shared_flags), and a warning for a value that is neither."""
    shared.pivot_action(s, flag, words, strict)
    if strict and "sample" not in words[0] and "beam" not in words[0]:
        warn(f"{flag} {words[0]}: neither 'sample' nor 'beam', ignored (as nanoBragg does)")


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
    R("-cell", 1, action=cell_action, upto_dash=True),
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
    *shared.BEAM_CENTRE,
    R("-pivot", 1, action=pivot_action),
    R("-mosflm", beam_convention="mosflm", detector_pivot="beam"),
    R("-xds", beam_convention="xds", detector_pivot="sample"),
    R("-adxv", beam_convention="adxv", detector_pivot="beam"),
    R("-denzo", beam_convention="denzo", detector_pivot="beam"),
    R("-dials", beam_convention="dials", detector_pivot="beam"),
    *shared.vector_rules(beam_convention=CUSTOM),
    R("-pix0_vector", 3, beam_convention=CUSTOM, action=pix0_m_action),
    R("-pix0_vector_mm", 3, match="exact", action=pix0_mm_action, nbgpu=True),
    *shared.DISTANCES,
    R("-detector_abs", 1, action=detector_abs_action),
    R("-detector_thick", 1, match=15, detector_thick=num(0, times(1e-6))),
    R("-detector_thicksteps", 1, detector_thicksteps=integer()),
    R("-thicksteps", 1, detector_thicksteps=integer()),
    *shared.ROTATIONS,
    R("-detsize", 1, match=8, detsize_f=num(0, MM, "positive"), detsize_s=num(0, MM, "positive")),
    R("-detsize_f", 1, detsize_f=num(0, MM, "positive")),
    R("-detsize_s", 1, detsize_s=num(0, MM, "positive")),
    *shared.PIXELS,
    *shared.POLARIZATION,
    R("-oversample_thick", stop=True, oversample_thick=True),
    R("-oversample_polar", stop=True, oversample_polar=True),
    R("-oversample_omega", stop=True, oversample_omega=True),
    *shared.BEAM,
    R("-mosaic", 1, match=7, mosaic_spread=num(0, DEG)),
    R(("-mosaici", "-mosaic_spr"), 1, mosaic_spread=num(0, DEG)),
    R("-mosaic_dom", 1, mosaic_domains=integer()),
    *shared.DIVERGENCE,
    R("-adc", 1, adc_offset=num()),
    *shared.PHI,
    R("-dmin", 1, dmin=num(0, times(1e-10))),
    R("-mat", 1, matfilename=word()),
    R("-hkl", 1, hklfilename=word()),
    R("-default_F", 1, default_F=num()),
    R("-dump", 1, dumpfilename=word()),
    R("-img", 1, imginfilename=word()),
    *shared.FILES,
    R(("-pgmfile", "-pgmimage"), 1, pgmfilename=word(), write_pgm=True),
    *shared.NOISE,
    R("-nopgm", write_pgm=False),
    R("-scale", 1, intfile_scale=num()),
    R("-pgmscale", 1, pgm_scale=num(), write_pgm=True),
    *shared.CONSOLE,
    R("-interpolate", interpolate=1),
    R("-nointerpolate", interpolate=0),
    R("-round_xtal", xtal_shape="round"),
    R("-square_xtal", xtal_shape="square"),
    R("-gauss_xtal", xtal_shape="gauss"),
    R(("-binary_spots", "-tophat_spots"), xtal_shape="tophat"),
    R("-fudge", 1, fudge=num()),
    *shared.PRINTOUT_PIXEL_AND_SEED,
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
    R("-sf_column", 1, match="exact", sf_column=word(), nbgpu=True),
    R("-k_sol", 1, match="exact", k_sol=num(check=MODEL_CHECKS["k_sol"]), nbgpu=True),
    R("-B_sol", 1, match="exact", B_sol=num(check=MODEL_CHECKS["B_sol"]), nbgpu=True),
    R("-B_add", 1, match="exact", B_add=num(check=MODEL_CHECKS["B_add"]), nbgpu=True),
    R("-nexus_compression", 1, match="exact", action=choice_action("nexus_compression", COMPRESSIONS), nbgpu=True),
    R("-geom", 1, match="exact", geomfilename=word(), nbgpu=True),
    R("-expt", 1, match="exact", exptfilename=word(), nbgpu=True),
    R("-layoutfile", 1, match="exact", layoutfilename=word(), nbgpu=True),
    R("-pngfile", 1, match="exact", pngfilename=word(), nbgpu=True),
]

TABLE = FlagTable("nanoBragg", FLAGS, Flags, prescan=("-img", "-mask"))   # -img/-mask: read before the scan
KNOWN_NAMES = TABLE.known_names
parse = TABLE.parse
draft = TABLE.draft


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


def command_words(args, options: dict, table=None) -> list[str]:
    """nanoBragg words from a command line (a string or a list) and keyword flags (the
    library's calls: nbgpu.simulate, nbgpu.Simulator, cluster.render_frames) after it, as
    `table` (nanoBragg's by default) extends a command line; InputError for anything that is
    neither."""
    import shlex
    if args is None:
        words = []
    elif isinstance(args, str):
        try:
            words = shlex.split(args)
        except ValueError as exc:
            raise InputError(f"command line: {exc} (shell quoting)") from None
    elif isinstance(args, (list, tuple)):
        words = [as_word("command line", value) for value in args]
    else:
        raise InputError(f"command line: expected a string or a list of words, not {type(args).__name__}")
    return (table or TABLE).extended(words, argv_from_keywords(options))


def as_word(where: str, value) -> str:
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
            words += [flag] + [as_word(f"{key}=", v) for v in value]
        else:
            words += [flag, as_word(f"{key}=", value)]
    return words

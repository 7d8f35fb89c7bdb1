"""nonBragg's command-line language: its table of flags (setup.flagrules' machinery: substring
matching, every branch that matches fires, values never skipped) and the record it fills.

The table follows nonBragg's source order, so its collisions come out of it: -close_distance
and -source_distance also set -distance (and the beam pivot, before their own), -twotheta_axis
also sets -twotheta, -printout_pixel also turns -printout on, -noisefile turns the noise on.
The branches nanoBragg writes alike are setup.shared_flags' lists, spliced in at their place.
"""
from __future__ import annotations

import math

from nbgpu.base.choices import BACKENDS
from nbgpu.base.cnumbers import c_int
from nbgpu.base.records import Record
from nbgpu.setup.flags import choice_action
from nbgpu.setup import shared_flags as shared
from nbgpu.setup.flagrules import MM, FlagTable, R, convert, integer, num, times, vec3, word

NAN = float("nan")


class NonbraggFlags(Record):
    """nonBragg's parsed command line (and -img header), with its defaults; SI units (m, rad)
    as nonBragg stores them; vectors are tuples."""
    # sample
    sample_x: float = 1e-4           # thickness along the beam (m)
    sample_y: float = 1e-4           # height (m)
    sample_z: float = 1e-4           # width (m)
    density: float = 1.0e6           # g/m^3
    molecules: float = 0.0           # 0: from the density
    molecular_weight: float = 18.0   # g/mol
    # beam
    lambda0: float = 1.0e-10         # m
    dispersion: float = 0.0          # fraction
    dispsteps: int = -1
    hdivrange: float = -1.0          # rad
    vdivrange: float = -1.0
    hdivstep: float = -1.0
    vdivstep: float = -1.0
    hdivsteps: int = -1
    vdivsteps: int = -1
    round_div: bool = True           # keep the divergence points inside the ellipse
    polarization: float = 0.0        # Kahn factor
    nopolar: bool = False
    polar_vector: tuple = (0.0, 0.0, 1.0)
    beam_vector: tuple = (1.0, 0.0, 0.0)
    fluence: float = 125932015286227086360700780544.0   # photons/m^2
    flux: float = 0.0                # photons/s
    exposure: float = 1.0            # s
    beamsize: float = 1e-4           # m
    source_distance: float = 10.0    # m: where -sourcefile rows without X Y Z put the source
    coherent: bool = False           # parsed, no effect
    # detector
    pixel_size: float = 0.1e-3       # m
    fpixels: int = 0                 # 0: from the detector size
    spixels: int = 0
    detsize_x: float = 102.4e-3      # m
    detsize_y: float = 102.4e-3
    distance: float = 100.0e-3       # m, along the beam
    close_distance: float = NAN      # m, along the detector normal
    Xbeam: float = NAN
    Ybeam: float = NAN
    Xclose: float = NAN
    Yclose: float = NAN
    ORGX: float = NAN                # pixels
    ORGY: float = NAN
    detector_pivot: str = "beam"     # "beam" or "sample"
    fdet_vector: tuple = (0.0, 0.0, 1.0)
    sdet_vector: tuple = (0.0, -1.0, 0.0)
    odet_vector: tuple = (1.0, 0.0, 0.0)      # parsed, no effect: always fdet x sdet
    twotheta_axis: tuple = (0.0, 1.0, 0.0)
    spindle_vector: tuple = (0.0, 0.0, 1.0)   # parsed, no effect
    pix0_vector: tuple = (0.0, 0.0, 0.0)      # parsed, no effect: recomputed from the pivot
    detector_twotheta: float = 0.0   # rad
    detector_rotx: float = 0.0
    detector_roty: float = 0.0
    detector_rotz: float = 0.0
    curved_detector: bool = False
    point_pixel: bool = False
    fmap: bool = False               # the float image holds F instead of photons
    # sampling and header values
    phi0: float = 0.0                # rad
    osc: float = -1.0
    phistep: float = -1.0
    phisteps: int = -1
    oversample: int = -1
    roi: tuple = (-1, -1, -1, -1)    # xmin xmax ymin ymax, inclusive
    # files
    stolfilename: str | None = None
    stol_file_mult: float = 1.0e10   # table units -> 1/m
    imginfilename: str | None = None
    ignore: tuple = ()               # -img pixel values left out of the profile
    stoloutfilename: str = "output.stol"
    sourcefilename: str | None = None
    floatfilename: str = "floatimage.bin"
    intfilename: str = "intimage.img"
    pgmfilename: str = "image.pgm"
    noisefilename: str = "noiseimage.img"
    # output and control
    calculate_noise: bool = True
    write_pgm: bool = True           # -nopgm: parsed, no effect (the PGM is always written)
    reject_outliers: bool = False    # -noreject: parsed, no effect
    intfile_scale: float = 0.0
    pgm_scale: float = 0.0
    adc_offset: float = 40.0
    quantum_gain: float = 1.0        # -img: ADU per photon
    seed: int = 0                    # set to -time() before parsing
    printout: bool = False
    printout_fpixel: int = -1
    printout_spixel: int = -1
    progress_meter: bool = True
    threads: int = 0                 # nbgpu: -threads N for the render (0: OMP_NUM_THREADS or all)
    backend: str = ""                # nbgpu: -backend auto|cuda|c; "" = NBGPU_BACKEND or auto


def ignore_action(s, flag, words, strict):
    """-ignore V: a pixel value (nonBragg keeps it as an unsigned short)."""
    value = convert(flag, words, num(), strict)
    s.ignore = list(s.ignore) + [c_int(value) & 0xFFFF if math.isfinite(value) else 0]


def threads_action(s, flag, words, strict):
    s.threads = max(0, convert(flag, words, integer(0, "positive"), True))


RULES = [
    R(("-samplesize", "-sample_size"), 1, sample_x=num(0, MM), sample_y=num(0, MM), sample_z=num(0, MM)),
    R(("-sample_thick", "-sample_x", "-thick"), 1, sample_x=num(0, MM)),
    R(("-sample_width", "-sample_y", "-width"), 1, sample_y=num(0, MM)),
    R(("-sample_heigh", "-sample_z", "-heigh"), 1, sample_z=num(0, MM)),
    R(("-density", "-sample_den"), 1, density=num(0, times(1e6))),
    R(("-molecules", "-sample_molecules"), 1, molecules=num()),
    R("-MW", 1, match="exact", molecular_weight=num()),
    R("-molecular", 1, molecular_weight=num()),
    *shared.BEAM_CENTRE,
    R("-pivot", 1, action=shared.pivot_action),
    *shared.vector_rules(),
    R("-pix0_vector", 3, pix0_vector=vec3()),
    *shared.DISTANCES,
    R("-source_distance", 1, source_distance=num(0, MM)),
    *shared.ROTATIONS,
    R("-detsize", 1, match=8, detsize_x=num(0, MM, "positive"), detsize_y=num(0, MM, "positive")),
    R("-detsize_x", 1, detsize_x=num(0, MM, "positive")),
    R("-detsize_y", 1, detsize_y=num(0, MM, "positive")),
    *shared.PIXELS,
    R("-Fmap", fmap=True),
    *shared.POLARIZATION,
    *shared.BEAM,
    *shared.DIVERGENCE,
    R("-adc", 1, adc_offset=num()),
    R("-gain", 1, quantum_gain=num()),
    *shared.PHI,
    R("-img", 1, imginfilename=word()),
    R("-ignore", 1, action=ignore_action),
    *shared.FILES,
    R(("-pgmfile", "-pgmimage"), 1, pgmfilename=word()),
    *shared.NOISE,
    R("-nopgm", write_pgm=False),
    R("-noreject", reject_outliers=False),
    R("-scale", 1, intfile_scale=num()),
    R("-pgmscale", 1, pgm_scale=num()),
    *shared.CONSOLE,
    *shared.PRINTOUT_PIXEL_AND_SEED,
    R("-threads", 1, match="exact", action=threads_action, nbgpu=True),
    R("-backend", 1, match="exact", action=choice_action("backend", BACKENDS), nbgpu=True),
]

TABLE = FlagTable("nonBragg", RULES, NonbraggFlags, prescan=("-img",))   # -img: read before the scan


def header_file(argv: list[str]) -> str | None:
    """nonBragg's pre-scan: the last word containing -img that has a word after it names the file."""
    name = None
    for i, text in enumerate(argv[:-1]):
        if text.startswith("-") and "-img" in text:
            name = argv[i + 1]
    return name

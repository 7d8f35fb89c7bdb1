"""nonBragg's command-line language: its table of flags (setup.flagrules' machinery: substring
matching, every branch that matches fires, values never skipped) and the record it fills.

The table follows nonBragg's source order, so its collisions come out of it: -close_distance
and -source_distance also set -distance (and the beam pivot, before their own), -twotheta_axis
also sets -twotheta, -printout_pixel also turns -printout on, -noisefile turns the noise on.
"""
from __future__ import annotations

import math

from nbgpu.base.choices import BACKENDS
from nbgpu.base.cnumbers import c_int
from nbgpu.base.records import Record
from nbgpu.setup.flags import choice_action
from nbgpu.setup.flagrules import DEG, MM, FlagTable, R, convert, integer, num, per, times, vec3, word

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


def pivot_action(s, flag, words, strict):
    if "sample" in words[0]:
        s.detector_pivot = "sample"
    if "beam" in words[0]:
        s.detector_pivot = "beam"


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
    R("-Xbeam", 1, Xbeam=num(0, MM), detector_pivot="beam"),
    R("-Ybeam", 1, Ybeam=num(0, MM), detector_pivot="beam"),
    R("-Xclose", 1, Xclose=num(0, MM), detector_pivot="sample"),
    R("-Yclose", 1, Yclose=num(0, MM), detector_pivot="sample"),
    R("-ORGX", 1, ORGX=num(), detector_pivot="sample"),
    R("-ORGY", 1, ORGY=num(), detector_pivot="sample"),
    R("-pivot", 1, action=pivot_action),
    R("-fdet_vector", 3, fdet_vector=vec3()),
    R("-sdet_vector", 3, sdet_vector=vec3()),
    R("-odet_vector", 3, odet_vector=vec3()),
    R("-beam_vector", 3, beam_vector=vec3()),
    R("-polar_vector", 3, polar_vector=vec3()),
    R("-spindle_axis", 3, spindle_vector=vec3()),
    R("-twotheta_axis", 3, twotheta_axis=vec3()),
    R("-pix0_vector", 3, pix0_vector=vec3()),
    R("-distance", 1, distance=num(0, MM, "positive"), detector_pivot="beam"),
    R("-close_distance", 1, close_distance=num(0, MM, "positive"), detector_pivot="sample"),
    R("-source_distance", 1, source_distance=num(0, MM)),
    R("-twotheta", 1, detector_twotheta=num(0, DEG), detector_pivot="sample"),
    R("-detector_rotx", 1, detector_rotx=num(0, DEG)),
    R("-detector_roty", 1, detector_roty=num(0, DEG)),
    R("-detector_rotz", 1, detector_rotz=num(0, DEG)),
    R("-detsize", 1, match=8, detsize_x=num(0, MM, "positive"), detsize_y=num(0, MM, "positive")),
    R("-detsize_x", 1, detsize_x=num(0, MM, "positive")),
    R("-detsize_y", 1, detsize_y=num(0, MM, "positive")),
    R("-detpixels", 1, match=10, fpixels=integer(0, "positive"), spixels=integer(0, "positive")),
    R(("-detpixels_f", "-detpixels_x"), 1, fpixels=integer(0, "positive")),
    R(("-detpixels_s", "-detpixels_y"), 1, spixels=integer(0, "positive")),
    R("-curved_det", needs_next=True, curved_detector=True),
    R("-pixel", 1, pixel_size=num(0, MM, "positive")),
    R("-point_pixel", point_pixel=True),
    R("-Fmap", fmap=True),
    R("-polar", 1, match=6, polarization=num(), nopolar=False),
    R("-nopolar", nopolar=True),
    R("-oversample", 1, oversample=integer()),
    R("-roi", 4, roi=[integer(0), integer(1), integer(2), integer(3)]),
    R(("-lambda", "-wave"), 1, lambda0=num(0, per(1.0e10), "positive")),
    R("-energy", 1, lambda0=num(0, lambda e: (12398.42 / e) / 1.0e10, "positive")),
    R("-fluence", 1, fluence=num()),
    R("-flux", 1, flux=num()),
    R("-exposure", 1, exposure=num()),
    R("-beamsize", 1, beamsize=num(0, per(1000))),
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
    R("-gain", 1, quantum_gain=num()),
    R("-phi", 1, match=4, phi0=num(0, DEG)),
    R("-osc", 1, osc=num(0, DEG)),
    R("-phistep", 1, match=8, phistep=num(0, DEG)),
    R("-phisteps", 1, phisteps=integer()),
    R("-img", 1, imginfilename=word()),
    R("-ignore", 1, action=ignore_action),
    R("-stolout", 1, match=">7", stoloutfilename=word()),
    R("-stol", 1, match=5, stolfilename=word(), stol_file_mult=1e10),
    R("-4stol", 1, match=6, stolfilename=word(), stol_file_mult=1e10 / 4),
    R("-Q", 1, match=2, stolfilename=word(), stol_file_mult=1e10 / math.pi / 4),
    R("-sourcefile", 1, sourcefilename=word()),
    R(("-floatfile", "-floatimage"), 1, floatfilename=word()),
    R(("-intfile", "-intimage"), 1, intfilename=word()),
    R(("-pgmfile", "-pgmimage"), 1, pgmfilename=word()),
    R(("-noisefile", "-noiseimage"), 1, noisefilename=word(), calculate_noise=True),
    R("-nonoise", calculate_noise=False),
    R("-nopgm", write_pgm=False),
    R("-noreject", reject_outliers=False),
    R("-scale", 1, intfile_scale=num()),
    R("-pgmscale", 1, pgm_scale=num()),
    R("-coherent", coherent=True),
    R("-printout", printout=True),
    R("-noprogress", progress_meter=False),
    R("-progress", progress_meter=True),
    R("-printout_pixel", 2, printout_fpixel=integer(0), printout_spixel=integer(1)),
    R("-seed", 1, seed=integer(0, op=lambda n: -n)),
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

"""The branches of the argument scan that nanoBragg.c and nonBragg.c write alike: the same
names, value counts, conversions and meaning, in the same order in both.

Each list is a run of consecutive branches in both programs' source; a program's table
(setup.flags, setup.nonbragg_flags) splices them in at their place, between its own branches, so
each table still reads in its program's source order (which decides what a substring collision
does).  Branches that differ in the least (a name, a field, a setting more) stay in the tables.
"""
from __future__ import annotations

import math

from nbgpu.setup.flagrules import DEG, MM, R, integer, num, per, vec3, word


def pivot_action(s, flag, words, strict):
    """-pivot sample|beam: the last of the two words found in the value wins."""
    if "sample" in words[0]:
        s.detector_pivot = "sample"
    if "beam" in words[0]:
        s.detector_pivot = "beam"


BEAM_CENTRE = [
    R("-Xbeam", 1, Xbeam=num(0, MM), detector_pivot="beam"),
    R("-Ybeam", 1, Ybeam=num(0, MM), detector_pivot="beam"),
    R("-Xclose", 1, Xclose=num(0, MM), detector_pivot="sample"),
    R("-Yclose", 1, Yclose=num(0, MM), detector_pivot="sample"),
    R("-ORGX", 1, ORGX=num(), detector_pivot="sample"),
    R("-ORGY", 1, ORGY=num(), detector_pivot="sample"),
]

VECTORS = (("-fdet_vector", "fdet_vector"), ("-sdet_vector", "sdet_vector"), ("-odet_vector", "odet_vector"),
           ("-beam_vector", "beam_vector"), ("-polar_vector", "polar_vector"),
           ("-spindle_axis", "spindle_vector"), ("-twotheta_axis", "twotheta_axis"))


def vector_rules(**also) -> list:
    """The seven 3-value vector branches; `also`: what each sets besides its vector (nanoBragg's
    switch to its custom convention; nonBragg has no conventions)."""
    return [R(name, 3, **also, **{field: vec3()}) for name, field in VECTORS]


DISTANCES = [
    R("-distance", 1, distance=num(0, MM, "positive"), detector_pivot="beam"),
    R("-close_distance", 1, close_distance=num(0, MM, "positive"), detector_pivot="sample"),
]

ROTATIONS = [
    R("-twotheta", 1, detector_twotheta=num(0, DEG), detector_pivot="sample"),
    R("-detector_rotx", 1, detector_rotx=num(0, DEG)),
    R("-detector_roty", 1, detector_roty=num(0, DEG)),
    R("-detector_rotz", 1, detector_rotz=num(0, DEG)),
]

PIXELS = [
    R("-detpixels", 1, match=10, fpixels=integer(0, "positive"), spixels=integer(0, "positive")),
    R(("-detpixels_f", "-detpixels_x"), 1, fpixels=integer(0, "positive")),
    R(("-detpixels_s", "-detpixels_y"), 1, spixels=integer(0, "positive")),
    R("-curved_det", needs_next=True, curved_detector=True),
    R("-pixel", 1, pixel_size=num(0, MM, "positive")),
    R("-point_pixel", point_pixel=True),
]

POLARIZATION = [
    R("-polar", 1, match=6, polarization=num(), nopolar=False),
    R("-nopolar", nopolar=True),
]

# -oversample and -roi stand just before the beam's branches in both programs
BEAM = [
    R("-oversample", 1, oversample=integer()),
    R("-roi", 4, roi=[integer(0), integer(1), integer(2), integer(3)]),
    R(("-lambda", "-wave"), 1, lambda0=num(0, per(1.0e10), "positive")),
    R("-energy", 1, lambda0=num(0, lambda e: (12398.42 / e) / 1.0e10, "positive")),
    R("-fluence", 1, fluence=num()),
    R("-flux", 1, flux=num()),
    R("-exposure", 1, exposure=num()),
    R("-beamsize", 1, beamsize=num(0, per(1000))),
]

DIVERGENCE = [
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
]

PHI = [
    R("-phi", 1, match=4, phi0=num(0, DEG)),
    R("-osc", 1, osc=num(0, DEG)),
    R("-phistep", 1, match=8, phistep=num(0, DEG)),
    R("-phisteps", 1, phisteps=integer()),
]

# the -stol table's three spellings, -sourcefile and the first output names
FILES = [
    R("-stolout", 1, match=">7", stoloutfilename=word()),
    R("-stol", 1, match=5, stolfilename=word(), stol_file_mult=1e10),
    R("-4stol", 1, match=6, stolfilename=word(), stol_file_mult=1e10 / 4),
    R("-Q", 1, match=2, stolfilename=word(), stol_file_mult=1e10 / math.pi / 4),
    R("-sourcefile", 1, sourcefilename=word()),
    R(("-floatfile", "-floatimage"), 1, floatfilename=word()),
    R(("-intfile", "-intimage"), 1, intfilename=word()),
]

NOISE = [
    R(("-noisefile", "-noiseimage"), 1, noisefilename=word(), calculate_noise=True),
    R("-nonoise", calculate_noise=False),
]

CONSOLE = [
    R("-coherent", coherent=True),
    R("-printout", printout=True),
    R("-noprogress", progress_meter=False),
    R("-progress", progress_meter=True),
]

PRINTOUT_PIXEL_AND_SEED = [
    R("-printout_pixel", 2, printout_fpixel=integer(0), printout_spixel=integer(1)),
    R("-seed", 1, seed=integer(0, op=lambda n: -n)),
]

"""The setup of one run, in nanoBragg's order (pipeline.md §1): argv -> flags -> each stage's
record -> Setup, printing what nanoBragg prints on the way (the caller's `log`), so that the
stdout log comes out the same.  Each stage lives in its own module and returns a read-only
record; this module calls them in order and reads the -img/-mask headers, the structure
factors and the -stol file on the way.
"""
from __future__ import annotations

import math
import time

from nbgpu.io import read_fdump, read_hkl, read_smv, read_text_file, write_fdump
from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError, UsageExit
from nbgpu.base.records import Record
from nbgpu.base.rng import Rng
from nbgpu.setup import beam, crystal, detector, flags, sampling
from nbgpu.setup.cache import NoCache
from nbgpu.setup.crystal import AVOGADRO
from nbgpu.setup.summary import usage_text

BANNER = "nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17\n"
R_E_SQR = 7.94079248018965e-30          # Thomson cross section, m^2
WATER_F, WATER_MW = 2.57, 18.0


class Setup(Record):
    """One run's whole setup: the parsed flags, each stage's record, and the constants of the
    render that come from several of them."""
    flags: object                    # flags.Flags
    detector: object                 # detector.Detector
    beam: object                     # beam.Beam
    sampling: object                 # sampling.Sampling
    crystal: object                  # crystal.Crystal
    structure_factors: object        # io.StructureFactors, or None (only default_F)
    interpolate: int                 # the global switch the render starts with
    oversample: int                  # sub-pixels per pixel side
    steps: int                       # sources x domains x phi steps x oversample^2
    subpixel_size: float
    I_bg: float                      # the water background per evaluation


def scale_constants(f, beam, sampling, size):
    """(oversample, steps, sub-pixel size, water background) as nanoBragg computes them (§17)."""
    oversample = size.oversample if size.oversample > 0 else 1
    steps = beam.sources * sampling.mosaic_domains * sampling.phisteps * oversample * oversample
    I_bg = (WATER_F * WATER_F * R_E_SQR * beam.fluence * f.water_size * f.water_size * f.water_size
            * 1e6 * AVOGADRO / WATER_MW)
    return oversample, steps, f.pixel_size / oversample, I_bg


def read_headers(argv, s, log, inputs):
    """-mask then -img SMV headers set the starting geometry (pipeline.md §3)."""
    img, mask = flags.header_files(argv)
    for name, is_mask in ((mask, True), (img, False)):
        if name is None:
            continue
        flag = "-mask" if is_mask else "-img"
        smv = inputs.read(read_smv, name, flag, log=log)
        s.fpixels, s.spixels = smv.width, smv.height

        def value(key):
            """The header's number (NaN: absent, as nanoBragg reads it); infinity is refused."""
            number = smv.value_of(key)
            if math.isinf(number):
                raise InputError(f"{flag} {name}: header {key} is not a finite number")
            return number
        if not math.isnan(value("PIXEL_SIZE")):
            s.pixel_size = value("PIXEL_SIZE") / 1000.0
        s.detsize_f, s.detsize_s = s.pixel_size * s.fpixels, s.pixel_size * s.spixels
        for key, attr, convert in HEADER_KEYS:
            v = value(key)
            if not math.isnan(v):
                setattr(s, attr, convert(v))
        if not math.isnan(value("BEAM_CENTER_Y")):
            v = value("BEAM_CENTER_Y") / 1000.0
            s.Ybeam = s.detsize_s - v if is_mask else v      # a mask's Y is flipped, an image's not
        if is_mask:
            s.mask_pixels, s.maskfilename = smv.data, name
        else:
            s.imginfilename = name


HEADER_KEYS = [
    ("DISTANCE", "distance", lambda v: v / 1000.0),      # finds CLOSE_DISTANCE in nanoBragg's headers
    ("CLOSE_DISTANCE", "close_distance", lambda v: v / 1000.0),
    ("WAVELENGTH", "lambda0", lambda v: v / 1e10),
    ("BEAM_CENTER_X", "Xbeam", lambda v: v / 1000.0),
    ("ORGX", "ORGX", float),
    ("ORGY", "ORGY", float),
    ("PHI", "phi0", lambda v: v / RTD),
    ("OSC_RANGE", "osc", lambda v: v / RTD),
    ("TWOTHETA", "header_twotheta", lambda v: v / RTD),   # read, never used
]


def check_values(f, warn):
    """Values nanoBragg would render into garbage or undefined behaviour."""
    if f.detector_thick > 0 and f.detector_mu == 0.0:
        warn("-detector_abs inf (or 0) with a -detector_thick: a sensor that absorbs nothing "
             "records nothing, the image will be all zero (as in nanoBragg)")
    if f.calculate_noise and f.adc_offset < 0:
        raise InputError(f"-adc {f.adc_offset:g}: a negative offset cannot be written to the noise image")
    if not f.pixel_size > 0 or not f.lambda0 > 0 or not f.distance > 0:
        raise InputError("pixel size, wavelength and distance must be greater than 0 "
                         "(check the -img/-mask header)")


def dump_readable(path) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


def check_inputs(f, log):
    """nanoBragg's usage exits: nothing to take structure factors or the cell from.  Returns
    whether the structure factors come from the dump of an earlier run."""
    has_dump = f.hklfilename is None and dump_readable(f.dumpfilename)
    if f.hklfilename is None and not has_dump and f.default_F == 0.0:
        log("ERROR: no hkl file and no dump file to read.")
        log(usage_text())
        raise UsageExit("no structure factors: give -hkl FILE, -default_F F, or keep an Fdump.bin")
    if f.matfilename is None and f.cell[0] == 0.0:
        log(usage_text())
        raise UsageExit("no crystal: give -mat FILE or -cell a b c alpha beta gamma")
    return has_dump


def interpolation(f, log) -> int:
    """-interpolate / -nointerpolate as given, else nanoBragg's choice from the crystal's size."""
    if f.interpolate <= 1:
        return f.interpolate
    if f.Na <= 2 or f.Nb <= 2 or f.Nc <= 2:
        log("auto-selected tricubic interpolation of structure factors\n")
        return 1
    log("auto-selected no interpolation\n")
    return 0


def load_structure_factors(f, has_dump, log, write_files, inputs):
    """-hkl (and write the dump), or the dump of an earlier run, or None: only default_F (§12)."""
    if f.hklfilename is not None:
        sf = inputs.read(read_hkl, f.hklfilename, f.default_F, log=log)
        if write_files:
            inputs.write_dump(write_fdump, f.dumpfilename, sf, log)
        return sf
    if has_dump:
        return inputs.read(read_fdump, f.dumpfilename, log=log)
    return None


def check_stol(path, log):
    """-stol is read, and must hold data, but nanoBragg never uses it."""
    if path is not None:
        log("reading %s\n" % path)
        if len(read_text_file(path, 2, "-stol")) == 0:
            raise InputError(f"-stol {path}: no data in input file")


def print_layers(sm, log):
    for t in range(sm.thicksteps):
        log("thick%d = %g um\n" % (t, sm.thickstep * t * 1e6))
    for j in range(sm.phisteps):
        log("phi%d = %g\n" % (j, (sm.phi0 + sm.phistep * j) * RTD))


def prepare(argv, log, warn, write_files=True, inputs=NoCache) -> tuple[Setup, Rng]:
    """Every setup stage in nanoBragg's order, printing what it prints: (the setup, the run's
    random generator, already past the misset and mosaic draws).  `inputs` may keep input
    files read by earlier runs (setup.cache.InputCache)."""
    seed = -int(time.time())
    start = flags.draft({"seed": seed, "misset_seed": seed})
    read_headers(argv, start, log, inputs)
    f, warnings = flags.parse(argv, vars(start))
    for message in warnings:
        warn(message)
    check_values(f, warn)
    grid = detector.pixel_grid(f)
    exposure = beam.exposure(f, log)
    frame = detector.frame(f, grid, log)

    log(BANNER)
    has_dump = check_inputs(f, log)
    chosen = sampling.choose(f, log)
    placed = detector.place(f, frame, log)
    message = detector.pix0_warning(f, placed)
    if message:
        warn(message)
    interpolate = interpolation(f, log)

    rng = Rng()
    lattice = crystal.lattice(f, rng, log)
    size = crystal.size(f, lattice, exposure.sample_size, placed.distance, log)
    sf = load_structure_factors(f, has_dump, log, write_files, inputs)
    if sf is None or sf.hkls == 0:
        interpolate = 0
    check_stol(f.stolfilename, log)
    print_layers(chosen, log)
    the_beam = beam.sources(f, exposure, chosen, frame, log, warn)
    umats = crystal.mosaic_domains(f.mosaic_seed, chosen, rng, log)
    the_crystal = crystal.Crystal(lattice=lattice, size=size, shape=f.xtal_shape, fudge=f.fudge,
                                  spindle=frame.spindle, mosaic_umats=umats)
    oversample, steps, subpixel_size, I_bg = scale_constants(f, the_beam, chosen, size)
    return Setup(flags=f, detector=placed, beam=the_beam, sampling=chosen, crystal=the_crystal,
                 structure_factors=sf, interpolate=interpolate, oversample=oversample, steps=steps,
                 subpixel_size=subpixel_size, I_bg=I_bg), rng

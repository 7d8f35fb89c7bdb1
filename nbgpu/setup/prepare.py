"""The setup of one run, in nanoBragg's order (pipeline.md §1): argv -> the input files
(setup.inputs) -> flags -> each stage's record -> Setup.  Nothing is printed here: each stage
returns its record and what nanoBragg prints there (base.told), in the order nanoBragg prints it,
and the Setup keeps the whole log for the run that renders it, so that stdout comes out the same.
"""
from __future__ import annotations

import math
import time

from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError, UsageExit
from nbgpu.base.records import Record
from nbgpu.base.rng import Rng
from nbgpu.base.told import Told, run_telling
from nbgpu.setup import beam, crystal, detector, flags, panels, resolution, sampling
from nbgpu.setup.cache import NoCache
from nbgpu.setup.inputs import (computed_structure_factors, model_without_cell, read_detector_file, read_headers,
                                read_inputs)
from nbgpu.setup.crystal import AVOGADRO
from nbgpu.setup.summary import usage_text

BANNER = "nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17\n"
R_E_SQR = 7.94079248018965e-30          # Thomson cross section, m^2
WATER_F, WATER_MW = 2.57, 18.0


class Dump(Record):
    """The dump of the -hkl file's structure factors, which nanoBragg writes for the next run
    right after reading them: written by whoever tells the setup's log (run.simulate)."""
    path: str
    structure_factors: object        # io.StructureFactors


class Setup(Record):
    """One run's whole setup: the parsed flags, each stage's record, the constants of the
    render that come from several of them, and what nanoBragg prints on the way.  Prepared once
    per run; whatever renders it tells `told` first (run.simulate)."""
    flags: object                    # flags.Flags
    detector: object                 # detector.Detector
    beam: object                     # beam.Beam
    sampling: object                 # sampling.Sampling
    crystal: object                  # crystal.Crystal
    structure_factors: object        # io.StructureFactors, or None (only default_F)
    mask_pixels: object              # the -mask image's pixels (uint16, slow x fast), or None
    interpolate: int                 # the global switch the render starts with
    oversample: int                  # sub-pixels per pixel side
    steps: int                       # sources x domains x phi steps x oversample^2
    subpixel_size: float
    I_bg: float                      # the water background per evaluation
    told: Told                       # nanoBragg's log of the setup (with the Dump where it is written),
                                     # and nbgpu's warnings
    rng_state: bytes                 # the generator after the misset and mosaic draws (the noise goes on)
    panels: object = None            # setup.panels.Panels of a -geom/-expt detector (then `detector` is
                                     # the stacked image with panel 0's geometry), or None: one panel


def scale_constants(f, beam, sampling, size):
    """(oversample, steps, sub-pixel size, water background) as nanoBragg computes them (§17)."""
    oversample = size.oversample if size.oversample > 0 else 1
    steps = beam.sources * sampling.mosaic_domains * sampling.phisteps * oversample * oversample
    I_bg = (WATER_F * WATER_F * R_E_SQR * beam.fluence * f.water_size * f.water_size * f.water_size
            * 1e6 * AVOGADRO / WATER_MW)
    return oversample, steps, f.pixel_size / oversample, I_bg


def apply_header(s, smv, name, is_mask):
    """An -img or -mask header's values as the flags' starting point (pipeline.md §3)."""
    flag = "-mask" if is_mask else "-img"
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
        s.maskfilename = name
    else:
        s.imginfilename = name


def starting_flags(headers, seed, tell) -> dict:
    """The flags' starting values: the defaults, the default seeds, then the -mask and -img
    headers in that order."""
    start = flags.draft({"seed": seed, "misset_seed": seed})
    img, mask = headers.names
    for outcome, name, is_mask in ((headers.mask, mask, True), (headers.img, img, False)):
        smv = outcome.take(tell)
        if smv is not None:
            apply_header(start, smv, name, is_mask)
    return vars(start)


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


def check_inputs(f, files, tell, file_crystal=False):
    """nanoBragg's usage exits: nothing to take structure factors or the cell from (file_crystal:
    an -expt file's crystal stands for -mat).  With no crystal because -hkl's model has no cell
    either, that is said instead (naming -hkl and the file)."""
    if f.hklfilename is None and not files.from_dump and f.default_F == 0.0:
        tell.say("ERROR: no hkl file and no dump file to read.")
        tell.say(usage_text())
        raise UsageExit("no structure factors: give -hkl FILE, -default_F F, or keep an Fdump.bin")
    if f.matfilename is None and f.cell[0] == 0.0 and not file_crystal:
        if model_without_cell(files):
            raise files.structure_factors.error
        tell.say(usage_text())
        raise UsageExit("no crystal: give -mat FILE or -cell a b c alpha beta gamma")


def hkl_cell(files):
    """The cell of -hkl's file (a model's, an MTZ's or mmCIF's: A and degrees), or None."""
    return getattr(files.model.value or files.structure_factors.value, "cell", None)


def cell_warning(given, cell, f, warn):
    """Warn where the cell a crystal is given (`given`: -cell's or the -mat matrix's, A and
    degrees) differs from -hkl's file's by more than 0.1% or 0.1 degree: the indices then mean
    other reflections than the file's."""
    if any(abs(t - c) > 0.001 * abs(c) for t, c in zip(given[:3], cell[:3])) or any(
            abs(t - c) > 0.1 for t, c in zip(given[3:], cell[3:])):
        source = "-cell" if f.matfilename is None else f"the cell of -mat {f.matfilename}"
        warn("%s %s differs from the cell of -hkl %s (%s)" % (
            source, " ".join("%g" % x for x in given), f.hklfilename, " ".join("%g" % x for x in cell)))


def file_cell(f, cell, warn):
    """The flags with the -hkl file's cell (MTZ, mmCIF, a model) where neither -cell nor -mat
    is given; with -cell, the warning where the two differ (-mat's: once the lattice is made)."""
    if cell is None or f.matfilename is not None:
        return f
    if not f.user_cell:
        return f.replace(user_cell=True, cell=tuple(cell[:3]) + tuple(x / RTD for x in cell[3:]))
    cell_warning(tuple(f.cell[:3]) + tuple(x * RTD for x in f.cell[3:]), cell, f, warn)
    return f


def interpolation(f, tell) -> int:
    """-interpolate / -nointerpolate as given, else nanoBragg's choice from the crystal's size."""
    if f.interpolate <= 1:
        return f.interpolate
    if f.Na <= 2 or f.Nb <= 2 or f.Nc <= 2:
        tell.say("auto-selected tricubic interpolation of structure factors\n")
        return 1
    tell.say("auto-selected no interpolation\n")
    return 0


def print_layers(sm, tell):
    for t in range(sm.thicksteps):
        tell.say("thick%d = %g um\n" % (t, sm.thickstep * t * 1e6))
    for j in range(sm.phisteps):
        tell.say("phi%d = %g\n" % (j, (sm.phi0 + sm.phistep * j) * RTD))


def prepare(argv, cache=NoCache) -> Setup:
    """Every setup stage in nanoBragg's order: the setup, holding what nanoBragg prints on the
    way (Setup.told).  An NbgpuError raised carries what was told before it (its .told), for
    the caller to print first.  `cache` may keep input files read by earlier runs
    (setup.cache.InputCache)."""
    return run_telling(stages, argv, cache)[0]


def stages(argv, cache, tell) -> Setup:
    seed = -int(time.time())
    headers = read_headers(argv, cache)
    described = read_detector_file(argv, cache).take(tell)
    start = starting_flags(headers, seed, tell)
    words = list(argv) if described is None else panels.file_words(described) + list(argv)
    f, warnings = flags.parse(words, start)
    for message in warnings:
        tell.warn(message)
    layout, fd = None, f             # the panels, and the flags that place the (first) panel
    if described is not None:
        if any(headers.names):
            raise InputError(f"-img/-mask with {described.flag} {described.path}: not with a detector file")
        layout = panels.place_panels(f, described, argv)
        fd = panels.panel_flags(f, layout.words[0])
    files = read_inputs(f, headers, cache)
    f = file_cell(f, hkl_cell(files), tell.warn)
    check_values(f, tell.warn)
    grid = detector.pixel_grid(fd)
    exposure = tell.take(beam.exposure(f))
    frame = tell.take(detector.frame(fd, grid))

    tell.say(BANNER)
    check_inputs(f, files, tell, layout is not None and layout.matrix is not None)
    chosen = tell.take(sampling.choose(f))
    placed = tell.take(detector.place(fd, frame))
    if layout is not None:
        placed = panels.stacked(placed, layout)
    message = detector.pix0_warning(f, placed)
    if message:
        tell.warn(message)
    interpolate = interpolation(f, tell)

    rng = Rng()
    typed = tell.take(crystal.typed_cell(f))
    matrix = files.matrix.take(tell)
    if matrix is None and layout is not None:
        matrix = layout.matrix
    lattice = tell.take(crystal.lattice(f, typed, matrix, rng))
    if f.matfilename is not None and hkl_cell(files) is not None:
        cell_warning(crystal.cell_of(lattice), hkl_cell(files), f, tell.warn)
    size = tell.take(crystal.size(f, lattice, exposure.sample_size, placed.distance))
    sf = files.structure_factors.take(tell)
    model = files.model.value
    if f.hklfilename is not None and model is None:
        tell.write_here(Dump(path=f.dumpfilename, structure_factors=sf))
    files.stol.take(tell)
    print_layers(chosen, tell)
    table = files.sources.take(tell)
    the_beam = tell.take(beam.sources(f, table, exposure, chosen, frame))
    if model is not None:              # its Fcalc reaches as far as this detector and these sources
        request = resolution.fcalc_request(f, (placed,) if layout is None else layout.detectors, the_beam, lattice,
                                           model.cell)
        sf = computed_structure_factors(cache, model, request, f.default_F).take(tell)
        tell.write_here(Dump(path=f.dumpfilename, structure_factors=sf))
    if sf is None or sf.hkls == 0:
        interpolate = 0
    umats = tell.take(crystal.mosaic_domains(f.mosaic_seed, chosen, rng))
    the_crystal = crystal.Crystal(lattice=lattice, size=size, shape=f.xtal_shape, fudge=f.fudge,
                                  spindle=frame.spindle, mosaic_umats=umats)
    oversample, steps, subpixel_size, I_bg = scale_constants(f, the_beam, chosen, size)
    mask = headers.mask.value
    return Setup(flags=f, detector=placed, beam=the_beam, sampling=chosen, crystal=the_crystal,
                 structure_factors=sf, mask_pixels=None if mask is None else mask.data, interpolate=interpolate,
                 oversample=oversample, steps=steps, subpixel_size=subpixel_size, I_bg=I_bg, told=tell.told(),
                 rng_state=rng.state(), panels=layout)

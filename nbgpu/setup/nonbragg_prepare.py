"""nonBragg's setup, in its order: the -img header (read before the flags), the flags, the
stages (setup.nonbragg), the -stol table and -sourcefile, and the summary it prints before
rendering.  Every input file is read here, in one step each (setup.inputs' Outcome: its value
or the error to raise where nonBragg reads it); the stages open nothing and print nothing.
"""
from __future__ import annotations

import math
import time

from nbgpu.base.cnumbers import RTD, cformat
from nbgpu.base.errors import InputError, UsageExit
from nbgpu.base.records import Record
from nbgpu.base.told import Told, run_telling
from nbgpu.setup import nonbragg as stages
from nbgpu.setup.cache import NoCache
from nbgpu.setup.inputs import read_image, read_table
from nbgpu.setup.nonbragg_flags import TABLE, header_file

BANNER = "nonBragg amorphous material diffraction simulator - James Holton and Ken Frankel 3-19-16\n"

USAGE = """usage: nonBragg -stol water.stol
options:
\t-stol filename.stol\ttext file containing sin(theta)/lambda and F for one molecule
\t-thickness\tthickness of the sample in mm
\t-samplesize\tlinear dimension of the (cube shaped) sample in mm
\t-density\tdensity of the sample in g/cm^3
\t-MW\tmolecular weight of the sample material in g/mol
\t-hdivrange\thorizontal angular spread of source points in mrad
\t-vdivrange\tvertical angular spread of source points in mrad
\t-hdivstep\tnumber of source points in the horizontal
\t-vdivstep\tnumber of source points in the vertical
\t-distance\tdistance from origin to detector center in mm
\t-detsize\tdetector size in mm
\t-pixel\tdetector pixel size in mm
\t-oversample\tnumber of sub-pixels per pixel
\t-lambda\tincident x-ray wavelength in Angstrom
\t-dispersion\tspectral dispersion: delta-lambda/lambda in percent
\t-dispsteps\tnumber of wavelengths in above range
\t-fluence\tintegrated beam intensity in photons/m^2
\t-flux\t beam intensity in photons/s
\t-exposure\t exposure time in s
\t-beamsize\t linear dimension of the (square) beam profile in mm
\t-sourcefile filename.txt\ttext file containing source positions in mm
\t-floatfile\tname of binary output file (4-byte floats)
\t-intfile\tname of smv-formatted output file (arbitrary scale)
\t-pgmfile\tname of pgm-formatted output file (arbitrary scale)
\t-noisefile\tname of smv-formatted output file (with Poisson noise)
\t-Xbeam\timage X coordinate of direct-beam spot (mm)
\t-Ybeam\timage Y coordinate of direct-beam spot (mm)
\t-printout\tprint pixel values out to the screen
\t-noprogress\tturn off the progress meter
"""

# -img header keys -> (flag field, conversion), in the order nonBragg reads them
HEADER_KEYS = (("DISTANCE", "distance", lambda v, s: v / 1000.0),
               ("CLOSE_DISTANCE", "close_distance", lambda v, s: v / 1000.0),
               ("WAVELENGTH", "lambda0", lambda v, s: v / 1e10),
               ("BEAM_CENTER_X", "Xbeam", lambda v, s: v / 1000.0),
               ("BEAM_CENTER_Y", "Ybeam", lambda v, s: s["detsize_y"] - v / 1000.0),
               ("ORGX", "ORGX", lambda v, s: v),
               ("ORGY", "ORGY", lambda v, s: v),
               ("PHI", "phi0", lambda v, s: v / RTD),
               ("OSC_RANGE", "osc", lambda v, s: v / RTD))


class NonbraggSetup(Record):
    """One nonBragg run's whole setup, and what nonBragg prints before it renders."""
    flags: object                    # NonbraggFlags
    sample: object                   # setup.nonbragg.Sample
    geometry: object                 # setup.nonbragg.Geometry
    spread: object                   # setup.nonbragg.Spread
    sources: object                  # setup.nonbragg.Sources
    table: object                    # setup.nonbragg.Table
    oversample: int
    steps: int                       # sources x oversample^2
    subpixel_size: float
    polar_axes: tuple                # the E-vector as successive evaluations see it
    img: object                      # -img pixels as float32 (slow x fast), or None
    told: Told


def header_start(smv) -> dict:
    """The flags' starting values from an -img header, as nonBragg applies them."""
    start = {"fpixels": smv.width, "spixels": smv.height}
    pixel = smv.value_of("PIXEL_SIZE")
    start["pixel_size"] = pixel / 1000.0 if not math.isnan(pixel) else TABLE.record.defaults()["pixel_size"]
    start["detsize_x"] = start["pixel_size"] * smv.width
    start["detsize_y"] = start["pixel_size"] * smv.height
    for key, field, convert in HEADER_KEYS:
        value = smv.value_of(key)
        if math.isinf(value):
            raise InputError(f"-img {smv.path}: header {key} is not a finite number")
        if not math.isnan(value):
            start[field] = convert(value, start)
    return start


def summary(f, s: NonbraggSetup) -> str:
    """The lines nonBragg prints between the sources and the render."""
    g, sp, sm = s.geometry, s.spread, s.sample
    lines = ["  %d initialized F points (will cubic-spline interpolate between them)\n" % s.table.count,
             cformat("  wave=%g meters +/- %g%% in %d steps\n", f.lambda0, sp.dispersion * 100, sp.dispsteps),
             "  polarization effect disabled\n" if f.nopolar else
             cformat("  Kahn polarization factor: %f\n", f.polarization)]
    if g.curved:
        lines.append("  curved detector: all pixels same distance from origin\n")
    if g.point_pixel:
        lines.append("  pixel obliquity effect disabled\n")
    if f.fmap:
        lines.append("  Fmap mode: plotting structure factor at every pixel\n")
    lines += [cformat("  incident fluence: %g photons/m^2\n", sm.fluence),
              cformat("  sample is %g m thick x %g m high x %g m wide, %g g/cm^3 and %g g/mol (%g molecules)\n",
                      *sm.size, sm.density / 1e6, sm.molecular_weight, sm.molecules),
              cformat("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)\n", g.distance, g.detsize_x,
                      g.detsize_y, g.pixel_size, g.fpixels, g.spixels),
              cformat("  Xbeam=%g Ybeam=%g\n", g.Xbeam, g.Ybeam),
              cformat("  detector origin: %g %g %g\n", *g.pix0),
              cformat("  DIRECTION_OF_DETECTOR_X-AXIS= %g %g %g\n", *g.fdet),
              cformat("  DIRECTION_OF_DETECTOR_Y-AXIS= %g %g %g\n", *g.sdet),
              cformat("  INCIDENT_BEAM_DIRECTION= %g %g %g\n", *g.beam),
              cformat("  POLARIZATION_PLANE_NORMAL= %g %g %g\n", *g.polar),
              "  roi: %d < x < %d && %d < y < %d\n" % g.roi,
              cformat("  hdivrange=%g hdivstep=%g  radians\n", sp.hdivrange, sp.hdivstep),
              cformat("  vdivrange=%g vdivstep=%g  radians\n", sp.vdivrange, sp.vdivstep),
              "  %d divergence steps\n" % s.sources.divsteps,
              "  %d sources\n" % len(s.sources.wavelength),
              "  %d pixel oversample steps\n" % s.oversample]
    if f.calculate_noise:
        lines.append("\n  noise image paramters:\n")
        lines.append("  seed: %d\n" % f.seed)
    return "".join(lines)


def prepare(argv, cache=NoCache) -> NonbraggSetup:
    """argv -> the run's setup; an NbgpuError carries what was told before it (.told)."""
    return run_telling(run_stages, argv, cache)[0]


def run_stages(argv, cache, tell) -> NonbraggSetup:
    start = {"seed": -int(time.time())}
    img = None
    name = header_file(argv)
    if name is not None:
        smv = read_image(cache, name).take(tell)
        start.update(header_start(smv))
        img = smv.data.astype("float32")
    f, warnings = TABLE.parse(argv, start)
    for message in warnings:
        tell.warn(message)
    tell.say(BANNER)
    if f.stolfilename is None:
        tell.say(USAGE)
        raise UsageExit("no -stol table: give -stol FILE (or -4stol FILE, -Q FILE)")
    sample = tell.take(stages.sample(f))
    geometry = tell.take(stages.geometry(f))
    if img is not None and geometry.fpixels * geometry.spixels > img.size:
        raise InputError(f"-img {name}: the detector has {geometry.fpixels}x{geometry.spixels} pixels, more than the "
                         f"image's {img.shape[1]}x{img.shape[0]} (nonBragg would read past its pixels)")
    spread = stages.spread(f)
    tell.say("reading %s\n" % f.stolfilename)
    table = tell.take(stages.table(f, read_table(cache, f.stolfilename, 2, "-stol").take(tell)))
    source_table = read_table(cache, f.sourcefilename, 5, "-sourcefile").take(tell)
    sources = tell.take(stages.sources(f, source_table, spread, geometry))
    oversample = f.oversample if f.oversample > 0 else 1
    s = NonbraggSetup(flags=f, sample=sample, geometry=geometry, spread=spread, sources=sources, table=table,
                      oversample=oversample, steps=len(sources.wavelength) * oversample * oversample,
                      subpixel_size=f.pixel_size / oversample, polar_axes=stages.polar_axes(geometry.polar),
                      img=img, told=Told())
    tell.say(summary(f, s))
    return s.replace(told=tell.told())

"""One simulation, in nanoBragg's order: argv -> settings -> setup -> problem -> image -> files.

Shared by the CLI and the Python API.  Each stage lives in its own module; this file only
calls them in nanoBragg's order (pipeline.md §1), so the stdout log comes out the same.
"""
from __future__ import annotations

import math
import os
import time
from types import SimpleNamespace

from . import beam, crystal, detector, flags, formats, outputs, sampling
from .cnum import RTD, cformat
from .engine_c import image_stats
from .engines import select_engine
from .errors import InputError, UsageExit
from .problem import Problem, scale_constants
from .render import render
from .rng import Rng
from ._nbcore import ffi
from .vec import cross

BANNER = "nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17\n"


class Result:
    """A rendered image with nanoBragg's statistics and the settings used.

    `image` is a (slow, fast) float32 numpy array over the render's own buffer, `pixels`."""

    def __init__(self, rendered, stats, settings, problem: Problem, rng: Rng):
        self.pixels = rendered.pixels
        self.rendered = rendered
        self.max_I, self.max_I_x, self.max_I_y = stats.max_I, stats.max_I_x, stats.max_I_y
        self.mean, self.rms, self.rmsd = stats.mean, stats.rms, stats.rmsd
        self.settings, self.problem, self.rng = settings, problem, rng
        self._stats = stats

    @property
    def image(self):
        import numpy as np
        return np.frombuffer(ffi.buffer(self.pixels), dtype=np.float32).reshape(
            self.settings.spixels, self.settings.fpixels)

    @property
    def stats(self) -> dict:
        return {k: getattr(self, k) for k in ("max_I", "max_I_x", "max_I_y", "mean", "rms", "rmsd")}

    def int_image(self):
        """The SMV integer image nanoBragg writes (scale and ADC offset as set), (slow, fast) uint16."""
        from .engine_c import convert_image
        ints, _ = convert_image(self.problem, self.pixels, outputs.int_scale(self.settings, self._stats),
                                self.settings.adc_offset)
        return _as_array(ints, "uint16", self.settings)

    def noise_image(self):
        """The Poisson noise image nanoBragg writes (draws from the run's generator: call once)."""
        return _as_array(outputs.noise_image(self.settings, self.problem, self.pixels, self.rng)[0],
                         "uint16", self.settings)


def _as_array(cdata, dtype, s):
    import numpy as np
    return np.frombuffer(ffi.buffer(cdata), dtype=dtype).reshape(s.spixels, s.fpixels)


def read_headers(argv, s, log):
    """-mask then -img SMV headers set the starting geometry (pipeline.md §3)."""
    img, mask = flags.header_files(argv)
    for name, is_mask in ((mask, True), (img, False)):
        if name is None:
            continue
        flag = "-mask" if is_mask else "-img"
        smv = formats.read_smv(name, flag, log)
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


def check_values(s, warn):
    """Values nanoBragg would render into garbage or undefined behaviour."""
    if s.detector_thick > 0 and s.detector_mu == 0.0:
        warn("-detector_abs inf (or 0) with a -detector_thick: a sensor that absorbs nothing "
             "records nothing, the image will be all zero (as in nanoBragg)")
    if s.calculate_noise and s.adc_offset < 0:
        raise InputError(f"-adc {s.adc_offset:g}: a negative offset cannot be written to the noise image")
    if not s.pixel_size > 0 or not s.lambda0 > 0 or not s.distance > 0:
        raise InputError("pixel size, wavelength and distance must be greater than 0 "
                         "(check the -img/-mask header)")


def dump_readable(s) -> bool:
    try:
        with open(s.dumpfilename, "rb"):
            return True
    except OSError:
        return False


def load_structure_factors(s, has_dump, log, write_files):
    """-hkl (and write the dump), or the dump of an earlier run, or only default_F (§12)."""
    if s.hklfilename is not None:
        sf = formats.read_hkl(s.hklfilename, s.default_F, log)
        if write_files:
            formats.write_fdump(s.dumpfilename, sf, log)
    elif has_dump:
        sf = formats.read_fdump(s.dumpfilename, log)
    else:
        sf = None
    if sf is None or sf.hkls == 0:
        s.interpolate = 0
    return sf


def print_summary(s, sf, log):
    """The block of settings nanoBragg prints before rendering (§17, §26)."""
    log("  %d initialized hkls (all others =%g)\n" % (sf.hkls if sf else 0, s.default_F))
    shape = {"round": "ellipsoidal", "square": "parallelpiped", "gauss": "gaussian", "tophat": "tophat-spot"}
    log("  %s xtal: %.0fx%.0fx%.0f cells\n" % (shape[s.xtal_shape], s.Na, s.Nb, s.Nc))
    log("  wave=%g meters +/- %g%% in %d steps\n" % (s.lambda0, s.dispersion * 100, s.dispsteps))
    log("  polarization effect disabled\n" if s.nopolar else "  Kahn polarization factor: %f\n" % s.polarization)
    if s.curved_detector:
        log("  curved detector: all pixels same distance from origin\n")
    if s.point_pixel:
        log("  pixel obliquity effect disabled\n")
    log("  incident fluence: %g photons/m^2\n" % s.fluence)
    log("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)\n"
        % (s.distance, s.detsize_f, s.detsize_s, s.pixel_size, s.fpixels, s.spixels))
    log("  sensor is %g m thick in %d layers with mu= %g\n" % (s.detector_thick, s.detector_thicksteps, s.detector_mu))
    log("  Xbeam=%g Ybeam=%g\n" % (s.Xbeam, s.Ybeam))
    log("  Fbeam=%g Sbeam=%g\n" % (s.Fbeam, s.Sbeam))
    log("  Xclose=%g Yclose=%g\n" % (s.Xclose, s.Yclose))
    log("  Fclose=%g Sclose=%g\n" % (s.Fclose, s.Sclose))
    log("  DIRECTION_OF_DETECTOR_X-AXIS= %g %g %g\n" % tuple(s.fdet_vector))
    log("  DIRECTION_OF_DETECTOR_Y-AXIS= %g %g %g\n" % tuple(s.sdet_vector))
    log("  DIRECTION_OF_DETECTOR_Z-AXIS= %g %g %g\n" % tuple(s.odet_vector))
    log("  INCIDENT_BEAM_DIRECTION= %g %g %g\n" % tuple(s.beam_vector))
    log("  spindle ROTATION_AXIS= %g %g %g\n" % tuple(s.spindle_vector))
    normal = cross(s.beam_vector, s.polar_vector)
    log("  POLARIZATION_PLANE_NORMAL= %g %g %g\n" % tuple(normal))
    log("  dials origin= %g %g %g\n" % tuple(s.dials_origin))
    log("  roi: %d < x < %d && %d < y < %d\n" % tuple(s.roi))
    log("  hdivrange=%g hdivstep=%g  radians\n" % (s.hdivrange, s.hdivstep))
    log("  vdivrange=%g vdivstep=%g  radians\n" % (s.vdivrange, s.vdivstep))
    log("  %d divergence steps\n" % s.divsteps)
    log("  %d sources\n" % s.sources)
    log("  %d mosaic domains over mosaic spread of %g degrees\n" % (s.mosaic_domains, s.mosaic_spread * RTD))
    log("  %d phi steps from %g to %g degrees\n" % (s.phisteps, s.phi0 * RTD, (s.phi0 + s.osc) * RTD))
    log("  %dx%d pixel oversample steps%s%s%s\n" % (
        s.oversample, s.oversample, " +thick" if s.oversample_thick else "",
        " +polar" if s.oversample_polar else "", " +omega" if s.oversample_omega else ""))
    if s.mask_pixels is not None:
        log("  skipping zero-flagged pixels in %s\n" % s.maskfilename)
    if s.calculate_noise:
        log("\n  noise image paramters:\n")
        log("  seed: %d\n" % s.seed)
        log("  water droplet size: %g m\n" % s.water_size)


def usage_text() -> str:
    return """usage: nanoBragg -mat auto.mat -hkl Fs.hkl [options]   (nbgpu: the same flags as nanoBragg)
  crystal:   -mat FILE | -cell a b c alpha beta gamma; -misset x y z | -misset random; -N n | -Na -Nb -Nc;
             -xtalsize mm; -mosaic deg -mosaic_domains n; -round_xtal -gauss_xtal -tophat_spots -fudge f
  structure: -hkl FILE (writes Fdump.bin) | Fdump.bin of an earlier run | -default_F F; -interpolate
  beam:      -lambda A | -energy eV; -dispersion % -dispsteps n; -divergence mrad -divsteps n;
             -sourcefile FILE; -fluence | -flux -exposure -beamsize; -polar K -polar_vector; -nopolar
  detector:  -distance mm; -detpixels n; -pixel mm; -Xbeam -Ybeam mm; -mosflm -xds -adxv -denzo -dials;
             -twotheta deg; -detector_rotx/y/z deg; -curved_det; -detector_abs um -detector_thick um
  sampling:  -phi -osc -phisteps; -oversample n; -roi xmin xmax ymin ymax; -dmin A; -img FILE -mask FILE
  output:    -floatfile -intfile -pgmfile -noisefile NAME; -nonoise -nopgm; -scale -pgmscale -adc; -seed n
  nbgpu:     -trace_pixel slow fast: one TRACE line per quantity of that pixel; see docs/usage.md
"""


def write_profile(s, problem, engine, phases):
    """NBGPU_PROFILE=FILE: what bench/ needs from inside a run, as JSON (engine, seconds spent
    in setup, render and output, GPU kernel time and memory, work done)."""
    path = os.environ.get("NBGPU_PROFILE")
    if not path:
        return
    import json
    import resource
    rendered = problem.rendered_count()
    setup, render_seconds, output = (b - a for a, b in zip(phases, phases[1:]))
    data = dict(engine=engine.name, precision=getattr(engine, "precision", "double"),
                setup_seconds=setup, render_seconds=render_seconds, output_seconds=output, pixels=rendered,
                evaluations=rendered * s.steps * s.detector_thicksteps,
                table_bytes=sum(ffi.sizeof(a) for a in problem.arrays.values()),
                image_bytes=s.fpixels * s.spixels * 4,
                host_peak_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                **engine.profile())
    with open(path, "w") as handle:
        json.dump(data, handle)


def check_work(s, max_evaluations):
    """Refuse a render over the caller's budget before anything large is allocated."""
    if max_evaluations is None:
        return
    xmin, xmax, ymin, ymax = s.roi
    width = max(0, min(xmax, s.fpixels - 1) - xmin + 1)
    height = max(0, min(ymax, s.spixels - 1) - ymin + 1)
    work = width * height * s.steps * s.detector_thicksteps
    if work > max_evaluations:
        raise InputError(f"the render needs {work:.3g} evaluations, over the limit of {max_evaluations:.3g}")


def simulate_argv(argv, log, warn, write_files=True, engine=None, note=None, max_evaluations=None) -> Result:
    """Run nanoBragg's pipeline on argv; log receives stdout text, warn one-line warnings,
    note one-line information (which engine renders); max_evaluations: refuse larger renders."""
    phases = [time.perf_counter()]           # setup, render and output start; output ends
    start = flags.draft({"seed": -int(time.time()), "misset_seed": -int(time.time())})
    read_headers(argv, start, log)
    parsed, warnings = flags.parse(argv, vars(start))
    for message in warnings:
        warn(message)
    s = SimpleNamespace(**parsed.as_dict())
    check_values(s, warn)
    detector.derive_detector_size(s, log)
    detector.apply_convention(s)
    detector.normalize_vectors(s, log)

    log(BANNER)
    has_dump = s.hklfilename is None and dump_readable(s)
    if s.hklfilename is None and not has_dump and s.default_F == 0.0:
        log("ERROR: no hkl file and no dump file to read.")
        log(usage_text())
        raise UsageExit("no structure factors: give -hkl FILE, -default_F F, or keep an Fdump.bin")
    if s.matfilename is None and s.cell[0] == 0.0:
        log(usage_text())
        raise UsageExit("no crystal: give -mat FILE or -cell a b c alpha beta gamma")

    sampling.choose_sampling(s, log)
    detector.place_detector(s, log)
    message = detector.pix0_warning(s)
    if message:
        warn(message)
    if s.interpolate > 1:
        if s.Na <= 2 or s.Nb <= 2 or s.Nc <= 2:
            log("auto-selected tricubic interpolation of structure factors\n")
            s.interpolate = 1
        else:
            log("auto-selected no interpolation\n")
            s.interpolate = 0

    rng = Rng()
    if s.user_cell:
        crystal.cell_to_reciprocal(s, log)
    else:
        s.a_star = s.b_star = s.c_star = [0.0, 0.0, 0.0]
    if s.matfilename is not None:
        crystal.read_matrix(s, log)
    if s.misset == "random":
        crystal.random_misset(s, rng, log)
    crystal.lattice_vectors(s, log)
    crystal.crystal_size(s, log)
    sf = load_structure_factors(s, has_dump, log, write_files)
    if s.stolfilename is not None:
        log("reading %s\n" % s.stolfilename)
        if len(formats.read_text_file(s.stolfilename, 2, "-stol")) == 0:
            raise InputError(f"-stol {s.stolfilename}: no data in input file")

    for t in range(s.detector_thicksteps):
        log("thick%d = %g um\n" % (t, s.detector_thickstep * t * 1e6))
    for j in range(s.phisteps):
        log("phi%d = %g\n" % (j, (s.phi0 + s.phistep * j) * RTD))
    beam.make_sources(s, log, warn)
    crystal.mosaic_domains(s, rng, log)
    scale_constants(s)
    check_work(s, max_evaluations)
    print_summary(s, sf, log)

    problem = Problem(s, sf)
    if write_files:
        outputs.check_writable(s)
    engine = engine or select_engine(s.backend, s.precision, note or warn, vector_math=not s.libm, problem=problem,
                                     interpolate=s.interpolate)
    progress = s.progress_meter and not s.printout
    phases.append(time.perf_counter())
    rendered = render(problem, engine, s, log, progress, announce_switch_off=not s.printout)
    phases.append(time.perf_counter())
    if s.printout:
        from .trace import print_printout
        print_printout(s, problem, engine, rendered, log)
    log("\n")
    log(cformat("solid angle subtended by detector = %g steradian ( %g%% sphere)\n",
                rendered.omega_sum / s.steps, 100 * rendered.omega_sum / s.steps / 4 / math.pi))
    if s.trace_pixel is not None:
        from .trace import print_trace
        print_trace(s, problem, engine, rendered, log)

    stats = image_stats(problem, rendered.pixels)
    if write_files:
        outputs.write_outputs(s, problem, rendered.pixels, stats, rng, log)
    else:
        outputs.print_stats(stats, log)
    phases.append(time.perf_counter())
    write_profile(s, problem, engine, phases)
    return Result(rendered, stats, s, problem, rng)

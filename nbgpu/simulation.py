"""One simulation, in nanoBragg's order: argv -> flags -> stage records (Setup) -> problem ->
image -> files.

Shared by the CLI and the Python API.  Each stage lives in its own module and returns a
read-only record; this file only calls them in nanoBragg's order (pipeline.md §1), so the
stdout log comes out the same, and prints the lines that belong to no one stage.
"""
from __future__ import annotations

import math
import os
import time

from . import beam, crystal, detector, flags, formats, outputs, sampling
from .cnum import RTD, cformat
from .engine_c import image_stats
from .engines import select_engine
from .errors import InputError, UsageExit
from .formats import save_files
from .inputs import NoCache
from .problem import Problem, Setup, scale_constants
from .render import render
from .rng import Rng
from ._nbcore import ffi
from .vec import cross

BANNER = "nanoBragg nanocrystal diffraction simulator - James Holton and Ken Frankel 5-17-17\n"


class Result:
    """A rendered image with nanoBragg's statistics and the setup behind it.

    `image` is a (slow, fast) float32 numpy array over the render's own buffer, `pixels`;
    `setup` holds the parsed flags and every stage's record (flags, detector, beam, sampling,
    crystal, structure_factors are its shortcuts)."""

    def __init__(self, rendered, stats, problem: Problem, noise: outputs.NoiseSource, engine, written=None):
        self.pixels = rendered.pixels
        self.rendered = rendered
        self.max_I, self.max_I_x, self.max_I_y = stats.max_I, stats.max_I_x, stats.max_I_y
        self.mean, self.rms, self.rmsd = stats.mean, stats.rms, stats.rmsd
        self.problem, self.setup, self.engine = problem, problem.setup, engine
        self._stats, self._noise = stats, noise
        self.written = written         # (int image, noise image or None) written to files, as C arrays

    flags = property(lambda self: self.setup.flags)
    detector = property(lambda self: self.setup.detector)
    beam = property(lambda self: self.setup.beam)
    sampling = property(lambda self: self.setup.sampling)
    crystal = property(lambda self: self.setup.crystal)
    structure_factors = property(lambda self: self.setup.structure_factors)

    @property
    def image(self):
        return self._as_array(self.pixels, "float32")

    @property
    def stats(self) -> dict:
        return {k: getattr(self, k) for k in ("max_I", "max_I_x", "max_I_y", "mean", "rms", "rmsd")}

    def int_image(self):
        """The SMV integer image nanoBragg writes (scale and ADC offset as set), (slow, fast) uint16."""
        from .engine_c import convert_image
        ints, _ = convert_image(self.problem, self.pixels, outputs.int_scale(self.flags.intfile_scale, self._stats),
                                self.flags.adc_offset)
        return self._as_array(ints, "uint16")

    def noise_image(self):
        """A Poisson noise image as nanoBragg writes it; each call draws the next one from the
        run's generator (after the -noisefile image, when the run wrote files)."""
        return self._as_array(self._noise.draw(self.problem, self.pixels)[0], "uint16")

    def _as_array(self, cdata, dtype):
        return outputs.as_image(cdata, self.setup, dtype)


def read_headers(argv, s, log, inputs):
    """-mask then -img SMV headers set the starting geometry (pipeline.md §3)."""
    img, mask = flags.header_files(argv)
    for name, is_mask in ((mask, True), (img, False)):
        if name is None:
            continue
        flag = "-mask" if is_mask else "-img"
        smv = inputs.read(formats.read_smv, name, flag, log=log)
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
        sf = inputs.read(formats.read_hkl, f.hklfilename, f.default_F, log=log)
        if write_files:
            inputs.write_dump(formats.write_fdump, f.dumpfilename, sf, log)
        return sf
    if has_dump:
        return inputs.read(formats.read_fdump, f.dumpfilename, log=log)
    return None


def check_stol(path, log):
    """-stol is read, and must hold data, but nanoBragg never uses it."""
    if path is not None:
        log("reading %s\n" % path)
        if len(formats.read_text_file(path, 2, "-stol")) == 0:
            raise InputError(f"-stol {path}: no data in input file")


def print_layers(sm, log):
    for t in range(sm.thicksteps):
        log("thick%d = %g um\n" % (t, sm.thickstep * t * 1e6))
    for j in range(sm.phisteps):
        log("phi%d = %g\n" % (j, (sm.phi0 + sm.phistep * j) * RTD))


def print_summary(setup: Setup, log):
    """The block of settings nanoBragg prints before rendering (§17, §26)."""
    f, d, fr, b, sm, c, sf = (setup.flags, setup.detector, setup.detector.frame, setup.beam, setup.sampling,
                              setup.crystal, setup.structure_factors)
    grid = fr.grid
    log("  %d initialized hkls (all others =%g)\n" % (sf.hkls if sf else 0, f.default_F))
    shape = {"round": "ellipsoidal", "square": "parallelpiped", "gauss": "gaussian", "tophat": "tophat-spot"}
    log("  %s xtal: %.0fx%.0fx%.0f cells\n" % (shape[c.shape], *c.N))
    log("  wave=%g meters +/- %g%% in %d steps\n" % (b.lambda0, sm.dispersion * 100, sm.dispsteps))
    log("  polarization effect disabled\n" if b.nopolar else "  Kahn polarization factor: %f\n" % b.kahn_factor)
    if d.curved:
        log("  curved detector: all pixels same distance from origin\n")
    if d.point_pixel:
        log("  pixel obliquity effect disabled\n")
    log("  incident fluence: %g photons/m^2\n" % b.fluence)
    log("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)\n"
        % (d.distance, grid.detsize_f, grid.detsize_s, grid.pixel_size, grid.fpixels, grid.spixels))
    log("  sensor is %g m thick in %d layers with mu= %g\n" % (sm.thick, sm.thicksteps, sm.mu))
    log("  Xbeam=%g Ybeam=%g\n" % (fr.Xbeam, fr.Ybeam))
    log("  Fbeam=%g Sbeam=%g\n" % (d.Fbeam, d.Sbeam))
    log("  Xclose=%g Yclose=%g\n" % (fr.Xclose, fr.Yclose))
    log("  Fclose=%g Sclose=%g\n" % (d.Fclose, d.Sclose))
    log("  DIRECTION_OF_DETECTOR_X-AXIS= %g %g %g\n" % d.fdet)
    log("  DIRECTION_OF_DETECTOR_Y-AXIS= %g %g %g\n" % d.sdet)
    log("  DIRECTION_OF_DETECTOR_Z-AXIS= %g %g %g\n" % d.odet)
    log("  INCIDENT_BEAM_DIRECTION= %g %g %g\n" % b.direction)
    log("  spindle ROTATION_AXIS= %g %g %g\n" % c.spindle)
    log("  POLARIZATION_PLANE_NORMAL= %g %g %g\n" % tuple(cross(b.direction, b.polar)))
    log("  dials origin= %g %g %g\n" % d.dials_origin)
    log("  roi: %d < x < %d && %d < y < %d\n" % fr.roi)
    log("  hdivrange=%g hdivstep=%g  radians\n" % (sm.hdivrange, sm.hdivstep))
    log("  vdivrange=%g vdivstep=%g  radians\n" % (sm.vdivrange, sm.vdivstep))
    log("  %d divergence steps\n" % b.divsteps)
    log("  %d sources\n" % b.sources)
    log("  %d mosaic domains over mosaic spread of %g degrees\n" % (sm.mosaic_domains, sm.mosaic_spread * RTD))
    log("  %d phi steps from %g to %g degrees\n" % (sm.phisteps, sm.phi0 * RTD, (sm.phi0 + sm.osc) * RTD))
    log("  %dx%d pixel oversample steps%s%s%s\n" % (
        setup.oversample, setup.oversample, " +thick" if f.oversample_thick else "",
        " +polar" if f.oversample_polar else "", " +omega" if f.oversample_omega else ""))
    if f.mask_pixels is not None:
        log("  skipping zero-flagged pixels in %s\n" % f.maskfilename)
    if f.calculate_noise:
        log("\n  noise image paramters:\n")
        log("  seed: %d\n" % f.seed)
        log("  water droplet size: %g m\n" % f.water_size)


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


def evaluations(problem) -> int:
    """The render's work: rendered pixels x sub-pixels x sources x phi steps x domains x layers."""
    setup = problem.setup
    return problem.rendered_count() * setup.steps * setup.sampling.thicksteps


def write_profile(problem, engine, phases):
    """NBGPU_PROFILE=FILE: what bench/ needs from inside a run, as JSON (engine, seconds spent
    in setup, render and output, GPU kernel time and memory, work done)."""
    path = os.environ.get("NBGPU_PROFILE")
    if not path:
        return
    import json
    import resource
    setup = problem.setup
    rendered = problem.rendered_count()
    setup_seconds, render_seconds, output = (b - a for a, b in zip(phases, phases[1:]))
    data = dict(engine=engine.name, precision=getattr(engine, "precision", "double"),
                setup_seconds=setup_seconds, render_seconds=render_seconds, output_seconds=output, pixels=rendered,
                evaluations=evaluations(problem),
                table_bytes=sum(ffi.sizeof(a) for a in problem.arrays.values()),
                image_bytes=setup.detector.fpixels * setup.detector.spixels * 4,
                host_peak_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                **engine.profile())
    with open(path, "w") as handle:
        json.dump(data, handle)


def check_work(setup: Setup, max_evaluations):
    """Refuse a render over the caller's budget before anything large is allocated."""
    if max_evaluations is None:
        return
    import numbers
    if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, numbers.Real) \
            or not max_evaluations >= 0:
        raise InputError(f"max_evaluations: expected a number of evaluations, got {flags.shown(max_evaluations)}")
    d = setup.detector
    xmin, xmax, ymin, ymax = d.roi
    width = max(0, min(xmax, d.fpixels - 1) - xmin + 1)
    height = max(0, min(ymax, d.spixels - 1) - ymin + 1)
    work = width * height * setup.steps * setup.sampling.thicksteps
    if work > max_evaluations:
        raise InputError(f"the render needs {work:.3g} evaluations, over the limit of {max_evaluations:.3g}")


def prepare(argv, log, warn, write_files=True, inputs=NoCache) -> tuple[Setup, Rng]:
    """Every setup stage in nanoBragg's order, printing what it prints: (the setup, the run's
    random generator, already past the misset and mosaic draws).  `inputs` may keep input
    files read by earlier runs (inputs.InputCache)."""
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


def warn_nonfinite(stats, warn):
    """Pixels that came out NaN or infinite (a value overflowing a double), which make the mean
    not a number: written as nanoBragg writes them, but said, since the scales built on the
    statistics are not numbers either."""
    if not math.isfinite(stats.mean):
        warn("the image holds NaN or infinite pixels (a structure factor, fluence or scale too large "
             "for a double?)")


def library_loggers(verbose: bool):
    """(log, note) for the library's calls: nanoBragg's log on stdout and nbgpu's notes on
    stderr when verbose, else nothing."""
    import sys
    if not verbose:
        return (lambda text, flush=False: None), (lambda message: None)
    return (lambda text, flush=False: sys.stdout.write(text)), (lambda message: print(f"nbgpu: {message}",
                                                                                       file=sys.stderr))


def simulate_argv(argv, log, warn, write_files=True, engine=None, note=None, max_evaluations=None,
                  inputs=NoCache, write=save_files, engines=None) -> Result:
    """Run nanoBragg's pipeline on argv; log receives stdout text, warn one-line warnings,
    note one-line information (which engine renders); max_evaluations: refuse larger renders.
    Runs in one process may share the input files (inputs.InputCache), a writer of the output
    files (write: [(path, parts)], all or none) and their engines (engines: a dict this run
    takes its engine from and leaves it in, one per -backend, -precision and -libm)."""
    phases = [time.perf_counter()]           # setup, render and output start; output ends
    setup, rng = prepare(argv, log, warn, write_files, inputs)
    f = setup.flags
    check_work(setup, max_evaluations)
    print_summary(setup, log)

    problem = Problem(setup, inputs)
    if write_files:
        outputs.check_writable(f)
    key = (f.backend, f.precision, f.libm)
    engine = engine or select_engine(f.backend, f.precision, note or warn, vector_math=not f.libm, problem=problem,
                                     interpolate=setup.interpolate, kept=(engines or {}).get(key),
                                     work=evaluations(problem) if engines is None else None)
    if engines is not None:
        engines.setdefault(key, engine)       # a CUDA engine stays kept when one job fell back
    progress = f.progress_meter and not f.printout
    phases.append(time.perf_counter())
    rendered = render(problem, engine, log, progress, announce_switch_off=not f.printout)
    phases.append(time.perf_counter())
    if f.printout:
        from .trace import print_printout
        print_printout(problem, engine, rendered, log)
    log("\n")
    log(cformat("solid angle subtended by detector = %g steradian ( %g%% sphere)\n",
                rendered.omega_sum / setup.steps, 100 * rendered.omega_sum / setup.steps / 4 / math.pi))
    if f.trace_pixel is not None:
        from .trace import print_trace
        print_trace(problem, engine, rendered, log)

    stats = image_stats(problem, rendered.pixels)
    warn_nonfinite(stats, warn)
    noise = outputs.NoiseSource(rng, f.seed)
    written = None
    if write_files:
        written = outputs.write_outputs(problem, rendered.pixels, stats, noise, log, write)
    else:
        outputs.print_stats(stats, log)
    phases.append(time.perf_counter())
    write_profile(problem, engine, phases)
    return Result(rendered, stats, problem, noise, engine, written)

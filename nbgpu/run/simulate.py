"""One simulation, in nanoBragg's order: the setup (setup.prepare), the problem, the engine, the
render, the files.  Shared by the CLI, the Python API, the Simulator and the batch."""
from __future__ import annotations

import math
import os
import time

from nbgpu.base import messages
from nbgpu._nbcore import ffi
from nbgpu.base.cnumbers import cformat
from nbgpu.base.errors import InputError, NbgpuError
from nbgpu.base.rng import Rng
from nbgpu.engine.image import image_stats
from nbgpu.engine.problem import Problem
from nbgpu.engine.select import select_engine
from nbgpu.io import save_files, write_fdump
from nbgpu.run import outputs, panel_outputs
from nbgpu.run.render import render
from nbgpu.run.result import Result
from nbgpu.setup import flags
from nbgpu.setup.cache import NoCache
from nbgpu.setup.prepare import Setup, prepare
from nbgpu.setup.summary import summary_lines


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
    return (lambda text, flush=False: sys.stdout.write(text)), messages.printer(messages.note)


def prepared(argv, log, warn, write_files, inputs=NoCache) -> Setup:
    """setup.prepare; when an error stops it, what it told before (the dump written, as nanoBragg
    writes it before failing)."""
    try:
        return prepare(argv, inputs)
    except NbgpuError as exc:
        if exc.told:
            tell_setup(exc.told, log, warn, write_files, inputs)
        raise


def tell_setup(told, log, warn, write_files, inputs):
    """What the setup told, as nanoBragg prints it, with the dump of the -hkl file written where
    nanoBragg writes it (write_files)."""
    def write_dump(dump, log):
        if write_files:
            inputs.write_dump(write_fdump, dump.path, dump.structure_factors, log)
    told.tell(log, warn, write_dump)


def check_outputs(setup: Setup):
    """Every refusal of an output that the setup can tell, in one place, before anything renders
    (a run, a Simulator's frame, a batch's validation of every line): the files' names, and what
    their formats can describe (a flat detector, a CBF's geometry and polarization)."""
    if setup.panels is not None:
        panel_outputs.check_writable(setup)
        return
    outputs.check_flags(setup.flags)
    outputs.check_layout_file(setup)
    outputs.check_picture(setup)
    outputs.cbf_description(setup)


def simulate_argv(argv, log, warn, write_files=True, engine=None, note=None, max_evaluations=None,
                  inputs=NoCache, write=save_files, engines=None) -> Result:
    """Run nanoBragg's pipeline on argv; log receives stdout text, warn one-line warnings,
    note one-line information (which engine renders); max_evaluations: refuse larger renders.
    Runs in one process may share the input files (setup.cache.InputCache), a writer of the output
    files (write: [(path, parts)], all or none) and their engines (engines: a dict this run
    takes its engine from and leaves it in, one per -backend, -precision and -libm)."""
    start = time.perf_counter()
    setup = prepared(argv, log, warn, write_files, inputs)
    return simulate_setup(setup, log, warn, write_files, engine, note, max_evaluations, inputs, write, engines,
                          start)


def simulate_setup(setup: Setup, log, warn, write_files=True, engine=None, note=None, max_evaluations=None,
                   inputs=NoCache, write=save_files, engines=None, start=None) -> Result:
    """simulate_argv for a setup already prepared (a batch job checked before the batch began,
    a Simulator's frame): the same log, files and Result."""
    phases = [time.perf_counter() if start is None else start]   # setup, render and output start; output ends
    tell_setup(setup.told, log, warn, write_files, inputs)
    f = setup.flags
    check_work(setup, max_evaluations)
    for text in summary_lines(setup):
        log(text)

    problem = Problem(setup, inputs)
    if write_files:
        check_outputs(setup)
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
        from nbgpu.run.trace import print_printout
        print_printout(problem, engine, rendered, log)
    log("\n")
    log(cformat("solid angle subtended by detector = %g steradian ( %g%% sphere)\n",
                rendered.omega_sum / setup.steps, 100 * rendered.omega_sum / setup.steps / 4 / math.pi))
    if f.trace_pixel is not None:
        from nbgpu.run.trace import print_trace
        print_trace(problem, engine, rendered, log)

    stats = image_stats(problem, rendered.pixels)
    warn_nonfinite(stats, warn)
    noise = outputs.NoiseSource(Rng(setup.rng_state), f.seed)
    written = None
    if write_files and setup.panels is not None:
        written = panel_outputs.write_panel_outputs(problem, rendered.pixels, stats, noise, log, write)
    elif write_files:
        written = outputs.write_outputs(problem, rendered.pixels, stats, noise, log, write)
    else:
        outputs.print_stats(stats, log)
    phases.append(time.perf_counter())
    write_profile(problem, engine, phases)
    return Result(rendered, stats, problem, noise, engine, written)

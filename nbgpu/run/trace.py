"""Per-pixel diagnostics: nanoBragg's -printout blocks and nbgpu's -trace_pixel.

A pixel is traced by computing it again from the state it was rendered with (whether it saw
the run's first phi sweep, whether interpolation was still on), so the traced values are the
ones behind the image.
"""
import math

from nbgpu._nbcore import ffi
from nbgpu.base.cnumbers import cformat
from nbgpu.setup.prepare import R_E_SQR
from nbgpu.run.render import interpolation_warning


def pixel_state(rendered, index, interpolate):
    """(first_sweep, interpolate) that pixel `index` (slow*fpixels+fast) was rendered with."""
    first = 1 if index == rendered.first_pixel else 0
    off_at = rendered.interpolate_off_at
    return first, int(bool(interpolate) and (off_at < 0 or index <= off_at))


def traced(problem, engine, rendered, fpixel, spixel):
    first, interp = pixel_state(rendered, spixel * rendered.fpixels + fpixel, problem.setup.interpolate)
    return engine.trace(problem, fpixel, spixel, first, interp)


# what nanoBragg's printout shows is whatever its variables hold: these persist from the last
# evaluation that set them, possibly in an earlier pixel
LATTICE_FIELDS = ("h", "k", "l", "h0", "k0", "l0", "F_latt", "F_latt_a", "F_latt_b", "F_latt_c", "a", "b", "c")


def carry(previous, t):
    """t, with the quantities it never set (no evaluation) taken from `previous`."""
    if not t.evaluations:
        for name in LATTICE_FIELDS:
            setattr(t, name, getattr(previous, name))
    if not t.cell_evaluations:
        t.F_cell = previous.F_cell
    t.evaluations = t.evaluations or previous.evaluations
    t.cell_evaluations = t.cell_evaluations or previous.cell_evaluations
    return t


def before_any_evaluation(lattice):
    """What nanoBragg's variables hold before the run's first evaluation: the unrotated lattice
    for a, b, c; for h k l, F_latt and F_cell nbgpu shows 0 (nanoBragg: leftovers of its HKL
    reader or uninitialized memory)."""
    t = ffi.new("nb_trace *")
    t.a, t.b, t.c = lattice.a0, lattice.b0, lattice.c0
    return t


def leftovers(problem, engine, rendered, order, position):
    """The trace of pixel order[position] as nanoBragg's printout sees it: earlier pixels are
    traced, latest first, only as far back as needed to find the values it did not set."""
    t = traced(problem, engine, rendered, *order[position])
    back = position - 1
    while back >= 0 and not (t.evaluations and t.cell_evaluations):
        t = carry(traced(problem, engine, rendered, *order[back]), t)
        back -= 1
    return carry(before_any_evaluation(problem.setup.crystal.lattice), t)


def print_printout(problem, engine, rendered, log):
    """nanoBragg's -printout block for every rendered pixel, or only -printout_pixel's, with the
    interpolation warning between the blocks where nanoBragg prints it."""
    setup = problem.setup
    f, fpixels = setup.flags, rendered.fpixels
    order = [(x, y) for y in range(rendered.spixels) for x in range(fpixels) if problem.is_rendered(x, y)]
    if f.printout_fpixel < 0:
        chosen = range(len(order))
    else:
        wanted = (f.printout_fpixel, f.printout_spixel)
        chosen = [n for n, pixel in enumerate(order) if pixel == wanted]
    warning_due = rendered.interpolate_off_at >= 0
    previous = before_any_evaluation(setup.crystal.lattice)
    for n in chosen:
        fpixel, spixel = order[n]
        if warning_due and spixel * fpixels + fpixel >= rendered.interpolate_off_at:
            log(interpolation_warning(*rendered.off_indices))
            warning_due = False
        if f.printout_fpixel < 0:          # every pixel: carry values forward as we go
            previous = t = carry(previous, traced(problem, engine, rendered, fpixel, spixel))
        else:
            t = leftovers(problem, engine, rendered, order, n)
        print_block(setup, t, fpixel, spixel, rendered.value(fpixel, spixel), log)
    if warning_due:
        log(interpolation_warning(*rendered.off_indices))


def print_block(setup, t, fpixel, spixel, value, log):
    pos = t.pixel_pos
    twotheta = math.atan2(math.sqrt(pos[1] * pos[1] + pos[2] * pos[2]), pos[0])
    log(cformat("%4d %4d : stol = %g or %g\n", fpixel, spixel, t.stol,
                math.sin(twotheta / 2.0) / (setup.beam.lambda0 * 1e10)))
    log(cformat("at %g %g %g\n", pos[0], pos[1], pos[2]))
    log(cformat("hkl= %f %f %f  hkl0= %d %d %d\n", t.h, t.k, t.l, t.h0, t.k0, t.l0))
    log(cformat(" F_cell=%g  F_latt=%g   I = %g\n", t.F_cell, t.F_latt, t.I))
    log(cformat("I/steps %15.10g\n", t.I / setup.steps))
    log(cformat("polar   %15.10g\n", t.polar))
    log(cformat("omega   %15.10g\n", t.omega))
    log(cformat("capfrac %15.10g\n", t.capture_fraction))
    log(cformat("pixel   %15.10g\n", float(value)))
    log("real-space cell vectors (Angstrom):\n")
    log("     %-10s  %-10s  %-10s\n" % ("a", "b", "c"))
    for axis in range(3):
        log(cformat("%s: %11.8f %11.8f %11.8f\n", "XYZ"[axis], t.a[axis] * 1e10, t.b[axis] * 1e10,
                    t.c[axis] * 1e10))


def trace_lines(setup, t, image_value) -> list[tuple[str, str]]:
    """(quantity, value) pairs of -trace_pixel, in the order the computation uses them."""
    vec = lambda v, k=1.0: " ".join("%.10g" % (v[i] * k) for i in range(3))
    return [
        ("pixel_position_m", vec(t.pixel_pos)),
        ("subpixel_Fdet_Sdet_m", "%.10g %.10g" % (t.Fdet, t.Sdet)),
        ("diffracted_unit", vec(t.diffracted)),
        ("incident_unit", vec(t.incident)),
        ("lambda_m", "%.10g" % getattr(t, "lambda")),
        ("scattering_1/m", vec(t.scattering)),
        ("stol_1/m", "%.10g" % t.stol),
        ("a_rotated_A", vec(t.a, 1e10)),
        ("b_rotated_A", vec(t.b, 1e10)),
        ("c_rotated_A", vec(t.c, 1e10)),
        ("hkl_fractional", "%.8g %.8g %.8g" % (t.h, t.k, t.l)),
        ("hkl_rounded", "%d %d %d" % (t.h0, t.k0, t.l0)),
        ("F_latt_abc", "%.10g %.10g %.10g" % (t.F_latt_a, t.F_latt_b, t.F_latt_c)),
        ("F_latt", "%.10g" % t.F_latt),
        ("F_cell", "%.10g" % t.F_cell),
        ("evaluations", "%d" % t.evaluations),
        ("I_before_scaling", "%.10g" % t.I),
        ("steps", "%d" % setup.steps),
        ("r_e_sqr_m2", "%.10g" % R_E_SQR),
        ("fluence_photons/m2", "%.10g" % setup.beam.fluence),
        ("omega_sr", "%.10g" % t.omega),
        ("polarization", "%.10g" % t.polar),
        ("capture_fraction", "%.10g" % t.capture_fraction),
        ("value", "%.8g" % t.value),
        ("float_image", "%.8g" % image_value),
    ]


def print_trace(problem, engine, rendered, log):
    """-trace_pixel slow fast: one TRACE line per quantity, the last evaluation's values."""
    setup = problem.setup
    slow, fast = setup.flags.trace_pixel
    fpixels, spixels = rendered.fpixels, rendered.spixels
    if not (0 <= fast < fpixels and 0 <= slow < spixels):
        log("TRACE: pixel %d %d (slow fast) is outside the %dx%d detector\n" % (slow, fast, fpixels, spixels))
        return
    log("TRACE: pixel slow=%d fast=%d\n" % (slow, fast))
    if not problem.is_rendered(fast, slow):
        log("TRACE: not rendered (outside -roi or masked): value 0\n")
        return
    t = traced(problem, engine, rendered, fast, slow)
    for name, value in trace_lines(setup, t, float(rendered.value(fast, slow))):
        log("TRACE: %s = %s\n" % (name, value))

"""Per-pixel diagnostics: nanoBragg's -printout blocks and nbgpu's -trace_pixel.

A pixel is traced by computing it again from the state it was rendered with (whether it saw
the run's first phi sweep, whether interpolation was still on), so the traced values are the
ones behind the image.
"""
import math

from .problem import R_E_SQR


def pixel_state(rendered, index, interpolate):
    """(first_sweep, interpolate) that pixel `index` (slow*fpixels+fast) was rendered with."""
    first = 1 if index == rendered.first_pixel else 0
    off_at = rendered.interpolate_off_at
    return first, int(bool(interpolate) and (off_at < 0 or index <= off_at))


def traced(s, problem, engine, rendered, fpixel, spixel):
    first, interp = pixel_state(rendered, spixel * s.fpixels + fpixel, s.interpolate)
    return engine.trace(problem, fpixel, spixel, first, interp)


def print_printout(s, problem, engine, rendered, log):
    """nanoBragg's -printout block for every rendered pixel, or only -printout_pixel's."""
    mask = problem.rendered()
    if s.printout_fpixel < 0:
        pixels = [(f, sl) for sl in range(s.spixels) for f in range(s.fpixels) if mask[sl, f]]
    else:
        f, sl = s.printout_fpixel, s.printout_spixel
        pixels = [(f, sl)] if 0 <= f < s.fpixels and 0 <= sl < s.spixels and mask[sl, f] else []
    for fpixel, spixel in pixels:
        t = traced(s, problem, engine, rendered, fpixel, spixel)
        pos = t.pixel_pos
        twotheta = math.atan2(math.sqrt(pos[1] * pos[1] + pos[2] * pos[2]), pos[0])
        log("%4d %4d : stol = %g or %g\n" % (fpixel, spixel, t.stol, math.sin(twotheta / 2.0) / (s.lambda0 * 1e10)))
        log("at %g %g %g\n" % (pos[0], pos[1], pos[2]))
        log("hkl= %f %f %f  hkl0= %d %d %d\n" % (t.h, t.k, t.l, t.h0, t.k0, t.l0))
        log(" F_cell=%g  F_latt=%g   I = %g\n" % (t.F_cell, t.F_latt, t.I))
        log("I/steps %15.10g\n" % (t.I / s.steps))
        log("polar   %15.10g\n" % t.polar)
        log("omega   %15.10g\n" % t.omega)
        log("capfrac %15.10g\n" % t.capture_fraction)
        log("pixel   %15.10g\n" % rendered.image[spixel, fpixel])
        log("real-space cell vectors (Angstrom):\n")
        log("     %-10s  %-10s  %-10s\n" % ("a", "b", "c"))
        for axis in range(3):
            log("%s: %11.8f %11.8f %11.8f\n" % ("XYZ"[axis], t.a[axis] * 1e10, t.b[axis] * 1e10, t.c[axis] * 1e10))


def trace_lines(s, t, image_value) -> list[tuple[str, str]]:
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
        ("steps", "%d" % s.steps),
        ("r_e_sqr_m2", "%.10g" % R_E_SQR),
        ("fluence_photons/m2", "%.10g" % s.fluence),
        ("omega_sr", "%.10g" % t.omega),
        ("polarization", "%.10g" % t.polar),
        ("capture_fraction", "%.10g" % t.capture_fraction),
        ("value", "%.8g" % t.value),
        ("float_image", "%.8g" % image_value),
    ]


def print_trace(s, problem, engine, rendered, log):
    """-trace_pixel slow fast: one TRACE line per quantity, the last evaluation's values."""
    slow, fast = s.trace_pixel
    if not (0 <= fast < s.fpixels and 0 <= slow < s.spixels):
        log("TRACE: pixel %d %d (slow fast) is outside the %dx%d detector\n" % (slow, fast, s.fpixels, s.spixels))
        return
    log("TRACE: pixel slow=%d fast=%d\n" % (slow, fast))
    if not problem.rendered()[slow, fast]:
        log("TRACE: not rendered (outside -roi or masked): value 0\n")
        return
    t = traced(s, problem, engine, rendered, fast, slow)
    for name, value in trace_lines(s, t, float(rendered.image[slow, fast])):
        log("TRACE: %s = %s\n" % (name, value))

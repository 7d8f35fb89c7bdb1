"""Crystal setup: unit cell or orientation matrix, misset, lattice vectors, size (§11, §16).

Each function is one step of nanoBragg's main() and updates the Settings in place, printing
what nanoBragg prints; arithmetic follows nanoBragg's order so the lattice is bit-identical.
"""
import math

from .cnum import scan_numbers
from .errors import InputError
from .cnum import RTD
from .rng import umat2misset
from .vec import DBL_MIN, c_ceil, ieee_div, cross, dot, magnitude, rescale, rotate_axis, rotate_xyz, scale

AVOGADRO = 6.02214179e23
ODDBALL = 1.0000001


def _clamp_sin(x):
    return max(-1.0, min(1.0, x))


def _clamp_cos(x):
    return 1.0 if x * x > 1.0 else x


def _oddball(values, names, title, log):
    """nanoBragg's warning when a sine or cosine leaves [-1, 1] by more than rounding."""
    if any(v > ODDBALL or v < -ODDBALL for v in values):
        log("WARNING: oddball %s:\n" % title)
        for name, v in zip(names, values):
            log("%s = %.25g\n" % (name, v))


def cell_to_reciprocal(s, log):
    """Reciprocal vectors (1/A) in nanoBragg's default orientation from -cell (§11.1)."""
    a, b, c, alpha, beta, gamma = s.cell
    b = a if b <= 0.0 else b
    c = a if c <= 0.0 else c
    alpha = math.pi / 2 if alpha <= 0.0 else alpha
    beta = math.pi / 2 if beta <= 0.0 else beta
    gamma = math.pi / 2 if gamma <= 0.0 else gamma
    s.cell = [a, b, c, alpha, beta, gamma]

    aavg = (alpha + beta + gamma) / 2
    skew = abs(math.sin(aavg) * math.sin(aavg - alpha) * math.sin(aavg - beta) * math.sin(aavg - gamma))
    V_cell = 2.0 * a * b * c * math.sqrt(skew)
    if V_cell <= 0.0:
        log("WARNING: impossible unit cell volume: %g\n" % V_cell)
        V_cell = DBL_MIN
    s.V_cell_user = V_cell
    V_star = 1.0 / V_cell          # V_cell >= DBL_MIN
    lengths = [b * c * math.sin(alpha) * V_star, c * a * math.sin(beta) * V_star, a * b * math.sin(gamma) * V_star]
    if any(x <= 0.0 for x in lengths):
        log("WARNING: impossible reciprocal cell lengths: %g %g %g\n" % tuple(lengths))
        lengths = [abs(x) if abs(x) > 0.0 else DBL_MIN for x in lengths]
    a_len, b_len, c_len = lengths
    div = ieee_div                       # C's infinities for a degenerate cell, caught later
    sin_alpha_star = div(div(a * V_star, b_len), c_len)
    sin_beta_star = div(div(b * V_star, a_len), c_len)
    sin_gamma_star = div(div(c * V_star, a_len), b_len)
    cos_alpha_star = div(math.cos(beta) * math.cos(gamma) - math.cos(alpha), math.sin(beta) * math.sin(gamma))
    cos_beta_star = div(math.cos(gamma) * math.cos(alpha) - math.cos(beta), math.sin(gamma) * math.sin(alpha))
    cos_gamma_star = div(math.cos(alpha) * math.cos(beta) - math.cos(gamma), math.sin(alpha) * math.sin(beta))
    _oddball([sin_alpha_star, cos_alpha_star, sin_beta_star, cos_beta_star, sin_gamma_star, cos_gamma_star],
             ["sin(alpha_star)", "cos(alpha_star)", "sin(beta_star) ", "cos(beta_star) ",
              "sin(gamma_star)", "cos9gamma_star)"], "reciprocal cell angles", log)   # sic, as printed
    sin_gamma_star = _clamp_sin(sin_gamma_star)
    cos_alpha_star, cos_beta_star, cos_gamma_star = map(_clamp_cos, (cos_alpha_star, cos_beta_star, cos_gamma_star))
    s.a_star = [a_len, 0.0, 0.0]
    s.b_star = [b_len * cos_gamma_star, b_len * sin_gamma_star, 0.0]
    s.c_star = [c_len * cos_beta_star,
                div(c_len * (cos_alpha_star - cos_beta_star * cos_gamma_star), sin_gamma_star),
                div(c_len * V_cell, a * b * c * sin_gamma_star)]


def read_matrix(s, log):
    """Reciprocal vectors from a MOSFLM A matrix: its columns, divided by lambda (§11.2)."""
    name = s.matfilename
    try:
        with open(name) as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"-mat {name}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    log("reading %s\n" % name)
    numbers = scan_numbers(text, 9)
    if len(numbers) < 9 or not all(math.isfinite(x) for x in numbers):
        raise InputError(f"-mat {name}: expected 9 finite numbers (a MOSFLM A matrix), found {len(numbers)}")
    factor = 1e-10 / s.lambda0
    s.a_star = scale(numbers[0::3], factor)
    s.b_star = scale(numbers[1::3], factor)
    s.c_star = scale(numbers[2::3], factor)


def random_misset(s, rng, log):
    """-misset random: a seeded rotation drawn on a 90-radian 'cap', as angles (§11.3)."""
    umat, s.misset_seed = rng.mosaic_umat(90.0, s.misset_seed)
    s.misset_angles = umat2misset(umat)
    log("random orientation misset angles: %f %f %f deg\n" % tuple(x * RTD for x in s.misset_angles))


def lattice_vectors(s, log):
    """Real and reciprocal vectors from the reciprocal ones, with -cell lengths imposed (§11.4)."""
    if s.misset:
        s.a_star, s.b_star, s.c_star = (rotate_xyz(v, *s.misset_angles) for v in (s.a_star, s.b_star, s.c_star))
    a_star_cross_b_star = cross(s.a_star, s.b_star)
    b_star_cross_c_star = cross(s.b_star, s.c_star)
    c_star_cross_a_star = cross(s.c_star, s.a_star)
    V_star = dot(s.a_star, b_star_cross_c_star)
    if s.user_cell:
        a_len, b_len, c_len = s.cell[:3]
        b_star_cross_c_star = rescale(b_star_cross_c_star, a_len / s.V_cell_user)
        c_star_cross_a_star = rescale(c_star_cross_a_star, b_len / s.V_cell_user)
        a_star_cross_b_star = rescale(a_star_cross_b_star, c_len / s.V_cell_user)
        V_star = 1.0 / s.V_cell_user
    V_cell = ieee_div(1.0, V_star)
    a = scale(b_star_cross_c_star, V_cell)
    b = scale(c_star_cross_a_star, V_cell)
    c = scale(a_star_cross_b_star, V_cell)
    s.a_star = scale(cross(b, c), V_star)
    s.b_star = scale(cross(c, a), V_star)
    s.c_star = scale(cross(a, b), V_star)

    la, lb, lc = magnitude(a), magnitude(b), magnitude(c)
    lsa, lsb, lsc = magnitude(s.a_star), magnitude(s.b_star), magnitude(s.c_star)
    lengths = (la, lb, lc, lsa, lsb, lsc, V_cell, V_star)
    if not all(math.isfinite(x) and x != 0.0 for x in lengths):
        source = f"-mat {s.matfilename}" if s.matfilename else "-cell"
        raise InputError(f"{source}: the unit cell is degenerate (zero or overflowing volume or cell edges; "
                         "nanoBragg would render NaN)")
    sines = [lsa * V_cell / lb / lc, lsb * V_cell / la / lc, lsc * V_cell / la / lb]
    cosines = [dot(b, c) / lb / lc, dot(a, c) / la / lc, dot(a, b) / la / lb]
    _oddball([sines[0], cosines[0], sines[1], cosines[1], sines[2], cosines[2]],
             ["sin_alpha", "cos_alpha", "sin_beta ", "cos_beta ", "sin_gamma", "cos_gamma"], "cell angles", log)
    angles = [math.atan2(_clamp_sin(sn), _clamp_cos(cs)) for sn, cs in zip(sines, cosines)]
    sines_star = [la * V_star / lsb / lsc, lb * V_star / lsa / lsc, lc * V_star / lsa / lsb]
    cosines_star = [dot(s.b_star, s.c_star) / lsb / lsc, dot(s.a_star, s.c_star) / lsa / lsc,
                    dot(s.a_star, s.b_star) / lsa / lsb]
    _oddball([sines_star[0], cosines_star[0], sines_star[1], cosines_star[1], sines_star[2], cosines_star[2]],
             ["sin(alpha_star)", "cos(alpha_star)", "sin(beta_star) ", "cos(beta_star) ",
              "sin(gamma_star)", "cos(gamma_star)"], "reciprocal cell angles", log)
    angles_star = [math.atan2(_clamp_sin(sn), _clamp_cos(cs)) for sn, cs in zip(sines_star, cosines_star)]

    log("Unit Cell: %g %g %g %g %g %g\n" % (la, lb, lc, *(x * RTD for x in angles)))
    log("Recp Cell: %g %g %g %g %g %g\n" % (lsa, lsb, lsc, *(x * RTD for x in angles_star)))
    log("volume = %g A^3\n" % V_cell)
    for title, names, vectors in (("real-space cell vectors (Angstrom):", ("a", "b", "c"), (a, b, c)),
                                  ("reciprocal-space cell vectors (Angstrom^-1):", ("a_star", "b_star", "c_star"),
                                   (s.a_star, s.b_star, s.c_star))):
        log(title + "\n")
        log("     %-10s  %-10s  %-10s\n" % names)
        for axis, row in zip("XYZ", range(3)):
            log("%s: %11.8f %11.8f %11.8f\n" % (axis, vectors[0][row], vectors[1][row], vectors[2][row]))
    # metres from here on: the phi = 0, mosaic-free lattice
    s.a0, s.b0, s.c0 = scale(a, 1e-10), scale(b, 1e-10), scale(c, 1e-10)


def crystal_size(s, log):
    """Cells per axis from the sample size, automatic oversampling, approximate MW (§11.5)."""
    lengths = [magnitude(s.a0), magnitude(s.b0), magnitude(s.c0)]
    counts = [s.Na, s.Nb, s.Nc]
    for i, size in enumerate((s.sample_x, s.sample_y, s.sample_z)):
        if size > 0:
            counts[i] = c_ceil(size / lengths[i])
    s.Na, s.Nb, s.Nc = (1.0 if n <= 1.0 else float(n) for n in counts)
    sizes = [lengths[0] * s.Na, lengths[1] * s.Nb, lengths[2] * s.Nc]
    log("crystal is %g x %g x %g microns\n" % tuple(x * 1e6 for x in sizes))
    xtalsize_max = max(sizes[0], sizes[1], sizes[2])
    reciprocal_pixel_size = s.lambda0 * s.distance / s.pixel_size
    recommended = c_ceil(ieee_div(3.0 * xtalsize_max, reciprocal_pixel_size))   # 0 distance: inf
    if recommended <= 0:
        recommended = 1
    if s.oversample <= 0:
        s.oversample = recommended
        log("auto-selected %d-fold oversampling\n" % s.oversample)
    if s.oversample < recommended:
        log("WARNING: maximum dimension of sample is %g A\n" % (xtalsize_max * 1e10))
        log("         but reciprocal pixel size is %g A\n" % (reciprocal_pixel_size * 1e10))
        log("         intensity may vary significantly across a pixel!\n")
        log("         recommend -oversample %d to work around this\n" % recommended)
    volume = sizes[0] * sizes[1] * sizes[2]
    s.molecular_weight = volume * 1.2e6 * AVOGADRO / (s.Na * s.Nb * s.Nc)
    log("approximate MW = %g\n" % s.molecular_weight)


def mosaic_domains(s, rng, log):
    """One rotation per domain from the mosaic seed; domain 0 is the identity (§16)."""
    umats = []
    for m in range(s.mosaic_domains):
        umat, s.mosaic_seed = rng.mosaic_umat(s.mosaic_spread, s.mosaic_seed)
        umats.append([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0] if m == 0 else umat)
    s.mosaic_umats = umats
    log("  created a total of %d mosaic domains\n" % s.mosaic_domains)


def phi_rotations(s):
    """(steady, first-sweep) lattice vectors per phi step, before mosaic.

    nanoBragg only rotates when phi != 0; a phi = 0 step reuses the last rotation it computed,
    which is the previous non-zero step in this sweep, or the last one of the previous sweep;
    in the run's very first sweep, before any rotation, it is the unrotated lattice (quirk Q1).
    """
    base = (s.a0, s.b0, s.c0)
    phis = [s.phi0 + s.phistep * j for j in range(s.phisteps)]
    rotated = [None if phi == 0.0 else [rotate_axis(v, s.spindle_vector, phi) for v in base] for phi in phis]
    nonzero = [r for r in rotated if r is not None]
    previous_sweep = nonzero[-1] if nonzero else base
    steady, first = [], []
    carry_steady, carry_first = previous_sweep, base
    for r in rotated:
        if r is not None:
            carry_steady = carry_first = r
        steady.append(carry_steady)
        first.append(carry_first)
    return steady, first


def lattice_table(s, per_phi) -> list:
    """a, b, c (m) for every (phi step, mosaic domain), domain fastest, flat: 9 per entry.

    Each domain's rotation is applied as u_r0*x + u_r1*y + u_r2*z, in nanoBragg's order."""
    table = []
    if not s.mosaic_spread > 0.0:
        for vectors in per_phi:
            entry = [x for v in vectors for x in v]
            table += entry * s.mosaic_domains
        return table
    for vectors in per_phi:
        for u in s.mosaic_umats:
            for x, y, z in vectors:
                table += [u[0] * x + u[1] * y + u[2] * z, u[3] * x + u[4] * y + u[5] * z,
                          u[6] * x + u[7] * y + u[8] * z]
    return table

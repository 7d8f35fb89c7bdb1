"""Crystal setup: unit cell or orientation matrix, misset, lattice vectors, size, mosaic domains,
and the lattice tables the engines read (§11, §16).

Each step of nanoBragg's main() is a function of records returning a record and what nanoBragg
prints there (base.told); arithmetic follows nanoBragg's order so the lattice is bit-identical.
"""
import math

from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.rng import umat2misset
from nbgpu.base.told import tells
from nbgpu.base.vectors import (DBL_MIN, c_ceil, ieee_div, cross, dot, magnitude, rescale, rotate_axis, rotate_xyz, scale)

AVOGADRO = 6.02214179e23
ODDBALL = 1.0000001


def _clamp_sin(x):
    return max(-1.0, min(1.0, x))


def _clamp_cos(x):
    return 1.0 if x * x > 1.0 else x


def _oddball(values, names, title, tell):
    """nanoBragg's warning when a sine or cosine leaves [-1, 1] by more than rounding."""
    if any(v > ODDBALL or v < -ODDBALL for v in values):
        tell.say("WARNING: oddball %s:\n" % title)
        for name, v in zip(names, values):
            tell.say("%s = %.25g\n" % (name, v))


class Lattice(Record):
    """The crystal's cell vectors, misset applied: real (m) and reciprocal (1/A)."""
    a0: tuple                        # the phi = 0, mosaic-free lattice vectors (m)
    b0: tuple
    c0: tuple
    a_star: tuple                    # reciprocal vectors (1/A)
    b_star: tuple
    c_star: tuple
    cell: tuple                      # -cell a b c (A) alpha beta gamma (rad) with defaults, or as typed
    misset_angles: tuple             # x, y, z rotations (rad), drawn for -misset random


class Size(Record):
    """The crystal's size in cells, the oversampling it needs (or was given), its weight."""
    Na: float
    Nb: float
    Nc: float
    oversample: int
    molecular_weight: float


class Crystal(Record):
    """Everything the render needs of the crystal."""
    lattice: Lattice
    size: Size
    shape: str                       # square, round, gauss, tophat
    fudge: float
    spindle: tuple                   # the rotation axis (unit)
    mosaic_umats: tuple              # a 3x3 rotation (9 numbers) per domain; the first is the identity

    @property
    def N(self) -> tuple:
        return (self.size.Na, self.size.Nb, self.size.Nc)


def cell_to_reciprocal(cell, tell):
    """(reciprocal vectors (1/A) in nanoBragg's default orientation, the cell with its defaults,
    its volume) from -cell (§11.1)."""
    a, b, c, alpha, beta, gamma = cell
    b = a if b <= 0.0 else b
    c = a if c <= 0.0 else c
    alpha = math.pi / 2 if alpha <= 0.0 else alpha
    beta = math.pi / 2 if beta <= 0.0 else beta
    gamma = math.pi / 2 if gamma <= 0.0 else gamma

    aavg = (alpha + beta + gamma) / 2
    skew = abs(math.sin(aavg) * math.sin(aavg - alpha) * math.sin(aavg - beta) * math.sin(aavg - gamma))
    V_cell = 2.0 * a * b * c * math.sqrt(skew)
    if V_cell <= 0.0:
        tell.say("WARNING: impossible unit cell volume: %g\n" % V_cell)
        V_cell = DBL_MIN
    V_star = 1.0 / V_cell          # V_cell >= DBL_MIN
    lengths = [b * c * math.sin(alpha) * V_star, c * a * math.sin(beta) * V_star, a * b * math.sin(gamma) * V_star]
    if any(x <= 0.0 for x in lengths):
        tell.say("WARNING: impossible reciprocal cell lengths: %g %g %g\n" % tuple(lengths))
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
              "sin(gamma_star)", "cos9gamma_star)"], "reciprocal cell angles", tell)   # sic, as printed
    sin_gamma_star = _clamp_sin(sin_gamma_star)
    cos_alpha_star, cos_beta_star, cos_gamma_star = map(_clamp_cos, (cos_alpha_star, cos_beta_star, cos_gamma_star))
    stars = ([a_len, 0.0, 0.0], [b_len * cos_gamma_star, b_len * sin_gamma_star, 0.0],
             [c_len * cos_beta_star, div(c_len * (cos_alpha_star - cos_beta_star * cos_gamma_star), sin_gamma_star),
              div(c_len * V_cell, a * b * c * sin_gamma_star)])
    return stars, (a, b, c, alpha, beta, gamma), V_cell


def matrix_to_reciprocal(matrix, lambda0):
    """Reciprocal vectors from a MOSFLM A matrix: its columns, divided by lambda (§11.2)."""
    factor = 1e-10 / lambda0
    return scale(matrix[0::3], factor), scale(matrix[1::3], factor), scale(matrix[2::3], factor)


def random_misset(seed, rng, tell) -> tuple:
    """-misset random: a rotation drawn from -misset_seed on a 90-radian 'cap', as angles (§11.3)."""
    umat, _ = rng.mosaic_umat(90.0, seed)
    angles = tuple(umat2misset(umat))
    tell.say("random orientation misset angles: %f %f %f deg\n" % tuple(x * RTD for x in angles))
    return angles


@tells
def typed_cell(f, tell) -> tuple:
    """-cell as typed: (reciprocal vectors in nanoBragg's default orientation, the cell with
    its defaults, its volume); zeros (and the cell flag's value) without -cell."""
    if f.user_cell:
        return cell_to_reciprocal(f.cell, tell)
    return ([0.0, 0.0, 0.0],) * 3, f.cell, 0.0


@tells
def lattice(f, typed, matrix, rng, tell) -> Lattice:
    """The cell (typed_cell's, then the -mat matrix's nine numbers where given), its misset and
    its real and reciprocal vectors (§11.1-4)."""
    stars, cell, V_cell_user = typed
    if matrix is not None:
        stars = matrix_to_reciprocal(matrix, f.lambda0)
    angles = random_misset(f.misset_seed, rng, tell) if f.misset == "random" else f.misset_angles
    return lattice_vectors(f, stars, cell, V_cell_user, angles, tell)


def lattice_vectors(f, stars, cell, V_cell_user, angles, tell) -> Lattice:
    """Real and reciprocal vectors from the reciprocal ones, with -cell lengths imposed (§11.4)."""
    a_star, b_star, c_star = stars
    if f.misset:
        a_star, b_star, c_star = (rotate_xyz(v, *angles) for v in (a_star, b_star, c_star))
    a_star_cross_b_star = cross(a_star, b_star)
    b_star_cross_c_star = cross(b_star, c_star)
    c_star_cross_a_star = cross(c_star, a_star)
    V_star = dot(a_star, b_star_cross_c_star)
    if f.user_cell:
        a_len, b_len, c_len = cell[:3]
        b_star_cross_c_star = rescale(b_star_cross_c_star, a_len / V_cell_user)
        c_star_cross_a_star = rescale(c_star_cross_a_star, b_len / V_cell_user)
        a_star_cross_b_star = rescale(a_star_cross_b_star, c_len / V_cell_user)
        V_star = 1.0 / V_cell_user
    V_cell = ieee_div(1.0, V_star)
    a = scale(b_star_cross_c_star, V_cell)
    b = scale(c_star_cross_a_star, V_cell)
    c = scale(a_star_cross_b_star, V_cell)
    a_star = scale(cross(b, c), V_star)
    b_star = scale(cross(c, a), V_star)
    c_star = scale(cross(a, b), V_star)

    la, lb, lc = magnitude(a), magnitude(b), magnitude(c)
    lsa, lsb, lsc = magnitude(a_star), magnitude(b_star), magnitude(c_star)
    lengths = (la, lb, lc, lsa, lsb, lsc, V_cell, V_star)
    if not all(math.isfinite(x) and x != 0.0 for x in lengths):
        source = f"-mat {f.matfilename}" if f.matfilename else "-cell"
        raise InputError(f"{source}: the unit cell is degenerate (zero or overflowing volume or cell edges; "
                         "nanoBragg would render NaN)")
    sines = [lsa * V_cell / lb / lc, lsb * V_cell / la / lc, lsc * V_cell / la / lb]
    cosines = [dot(b, c) / lb / lc, dot(a, c) / la / lc, dot(a, b) / la / lb]
    _oddball([sines[0], cosines[0], sines[1], cosines[1], sines[2], cosines[2]],
             ["sin_alpha", "cos_alpha", "sin_beta ", "cos_beta ", "sin_gamma", "cos_gamma"], "cell angles", tell)
    cell_angles = [math.atan2(_clamp_sin(sn), _clamp_cos(cs)) for sn, cs in zip(sines, cosines)]
    sines_star = [la * V_star / lsb / lsc, lb * V_star / lsa / lsc, lc * V_star / lsa / lsb]
    cosines_star = [dot(b_star, c_star) / lsb / lsc, dot(a_star, c_star) / lsa / lsc,
                    dot(a_star, b_star) / lsa / lsb]
    _oddball([sines_star[0], cosines_star[0], sines_star[1], cosines_star[1], sines_star[2], cosines_star[2]],
             ["sin(alpha_star)", "cos(alpha_star)", "sin(beta_star) ", "cos(beta_star) ",
              "sin(gamma_star)", "cos(gamma_star)"], "reciprocal cell angles", tell)
    angles_star = [math.atan2(_clamp_sin(sn), _clamp_cos(cs)) for sn, cs in zip(sines_star, cosines_star)]

    tell.say("Unit Cell: %g %g %g %g %g %g\n" % (la, lb, lc, *(x * RTD for x in cell_angles)))
    tell.say("Recp Cell: %g %g %g %g %g %g\n" % (lsa, lsb, lsc, *(x * RTD for x in angles_star)))
    tell.say("volume = %g A^3\n" % V_cell)
    for title, names, vectors in (("real-space cell vectors (Angstrom):", ("a", "b", "c"), (a, b, c)),
                                  ("reciprocal-space cell vectors (Angstrom^-1):", ("a_star", "b_star", "c_star"),
                                   (a_star, b_star, c_star))):
        tell.say(title + "\n")
        tell.say("     %-10s  %-10s  %-10s\n" % names)
        for axis, row in zip("XYZ", range(3)):
            tell.say("%s: %11.8f %11.8f %11.8f\n" % (axis, vectors[0][row], vectors[1][row], vectors[2][row]))
    # metres from here on: the phi = 0, mosaic-free lattice
    return Lattice(a0=tuple(scale(a, 1e-10)), b0=tuple(scale(b, 1e-10)), c0=tuple(scale(c, 1e-10)),
                   a_star=tuple(a_star), b_star=tuple(b_star), c_star=tuple(c_star), cell=tuple(cell),
                   misset_angles=tuple(angles))


def cell_of(lattice: Lattice) -> tuple:
    """a, b, c (A) and alpha, beta, gamma (degrees) of the lattice's phi = 0 vectors."""
    a, b, c = (scale(v, 1e10) for v in (lattice.a0, lattice.b0, lattice.c0))
    lengths = [magnitude(v) for v in (a, b, c)]
    angles = [math.acos(max(-1.0, min(1.0, dot(u, v) / (magnitude(u) * magnitude(v))))) * RTD
              for u, v in ((b, c), (a, c), (a, b))]
    return tuple(lengths + angles)


@tells
def size(f, lat: Lattice, sample_size, distance, tell) -> Size:
    """Cells per axis from the sample size, automatic oversampling, approximate MW (§11.5)."""
    lengths = [magnitude(lat.a0), magnitude(lat.b0), magnitude(lat.c0)]
    counts = [f.Na, f.Nb, f.Nc]
    for i, extent in enumerate(sample_size):
        if extent > 0:
            counts[i] = c_ceil(extent / lengths[i])
    Na, Nb, Nc = (1.0 if n <= 1.0 else float(n) for n in counts)
    sizes = [lengths[0] * Na, lengths[1] * Nb, lengths[2] * Nc]
    tell.say("crystal is %g x %g x %g microns\n" % tuple(x * 1e6 for x in sizes))
    xtalsize_max = max(sizes[0], sizes[1], sizes[2])
    reciprocal_pixel_size = f.lambda0 * distance / f.pixel_size
    recommended = c_ceil(ieee_div(3.0 * xtalsize_max, reciprocal_pixel_size))   # 0 distance: inf
    if recommended <= 0:
        recommended = 1
    oversample = f.oversample
    if oversample <= 0:
        oversample = recommended
        tell.say("auto-selected %d-fold oversampling\n" % oversample)
    if oversample < recommended:
        tell.say("WARNING: maximum dimension of sample is %g A\n" % (xtalsize_max * 1e10))
        tell.say("         but reciprocal pixel size is %g A\n" % (reciprocal_pixel_size * 1e10))
        tell.say("         intensity may vary significantly across a pixel!\n")
        tell.say("         recommend -oversample %d to work around this\n" % recommended)
    volume = sizes[0] * sizes[1] * sizes[2]
    molecular_weight = volume * 1.2e6 * AVOGADRO / (Na * Nb * Nc)
    tell.say("approximate MW = %g\n" % molecular_weight)
    return Size(Na=Na, Nb=Nb, Nc=Nc, oversample=oversample, molecular_weight=molecular_weight)


@tells
def mosaic_domains(seed, sampling, rng, tell) -> tuple:
    """One rotation per domain from -mosaic_seed; domain 0 is the identity (§16)."""
    umats = []
    for m in range(sampling.mosaic_domains):
        umat, seed = rng.mosaic_umat(sampling.mosaic_spread, seed)
        umats.append((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0) if m == 0 else tuple(umat))
    tell.say("  created a total of %d mosaic domains\n" % sampling.mosaic_domains)
    return tuple(umats)


def phi_rotations(crystal, sampling):
    """(steady, first-sweep) lattice vectors per phi step, before mosaic.

    nanoBragg only rotates when phi != 0; a phi = 0 step reuses the last rotation it computed,
    which is the previous non-zero step in this sweep, or the last one of the previous sweep;
    in the run's very first sweep, before any rotation, it is the unrotated lattice (quirk Q1).
    """
    lat = crystal.lattice
    base = (lat.a0, lat.b0, lat.c0)
    phis = [sampling.phi0 + sampling.phistep * j for j in range(sampling.phisteps)]
    rotated = [None if phi == 0.0 else [rotate_axis(v, crystal.spindle, phi) for v in base] for phi in phis]
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


def lattice_table(crystal, sampling, per_phi) -> list:
    """a, b, c (m) for every (phi step, mosaic domain), domain fastest, flat: 9 per entry.

    Each domain's rotation is applied as u_r0*x + u_r1*y + u_r2*z, in nanoBragg's order."""
    table = []
    if not sampling.mosaic_spread > 0.0:
        for vectors in per_phi:
            entry = [x for v in vectors for x in v]
            table += entry * sampling.mosaic_domains
        return table
    for vectors in per_phi:
        for u in crystal.mosaic_umats:
            for x, y, z in vectors:
                table += [u[0] * x + u[1] * y + u[2] * z, u[3] * x + u[4] * y + u[5] * z,
                          u[6] * x + u[7] * y + u[8] * z]
    return table

"""3-vector arithmetic for the setup, in nanoBragg's exact order of operations.

Plain Python floats are IEEE doubles and math.sin/cos are the C library's, so these reproduce
nanoBragg's setup bit for bit.  (numpy's vectorized transcendental functions are not the C
library's: do not use them where parity matters.)
"""
import math

from nbgpu.base.cnumbers import c_int

DBL_MIN = 2.2250738585072014e-308


def ieee_div(a: float, b: float) -> float:
    """a / b with C's IEEE result (inf or nan) instead of ZeroDivisionError."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def dot(x, y) -> float:
    return x[0] * y[0] + x[1] * y[1] + x[2] * y[2]


def cross(x, y) -> list:
    return [x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]]


def magnitude(v) -> float:
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def unitize(v) -> tuple[list, float]:
    """(unit vector, original length); a zero vector stays zero."""
    mag = magnitude(v)
    if mag != 0.0:
        return [v[0] / mag, v[1] / mag, v[2] / mag], mag
    return [0.0, 0.0, 0.0], mag


def scale(v, factor) -> list:
    return [factor * v[0], factor * v[1], factor * v[2]]


def rescale(v, new_magnitude) -> list:
    """v with length new_magnitude (a zero vector keeps its direction: none)."""
    old = magnitude(v)
    if old <= 0.0:
        old = 1.0
    return [new_magnitude / old * v[0], new_magnitude / old * v[1], new_magnitude / old * v[2]]


def rotate_xyz(v, phix, phiy, phiz) -> list:
    """Rotate about lab x, then y, then z; each skipped when its angle is 0 (as nanoBragg)."""
    x, y, z = v
    if phix != 0:
        c, s = math.cos(phix), math.sin(phix)
        y, z = y * c + z * -s, y * s + z * c
    if phiy != 0:
        c, s = math.cos(phiy), math.sin(phiy)
        x, z = x * c + y * 0.0 + z * s, x * -s + y * 0.0 + z * c
    if phiz != 0:
        c, s = math.cos(phiz), math.sin(phiz)
        x, y = x * c + y * -s, x * s + y * c
    return [x, y, z]


def rotate_axis(v, axis, phi) -> list:
    """Right-handed rotation of v by phi about axis (taken as unit, never checked)."""
    s, c = math.sin(phi), math.cos(phi)
    along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c)
    return [axis[0] * along + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s,
            axis[1] * along + v[1] * c + (+axis[2] * v[0] - axis[0] * v[2]) * s,
            axis[2] * along + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s]



def c_ceil(x: float) -> int:
    """(int)ceil(x), never raising on inf or NaN."""
    return c_int(math.ceil(x)) if math.isfinite(x) else c_int(x)


def beam_hit(origin, fast, slow, beam, pixel_size):
    """(distance along the beam, fast and slow pixel coordinates from the corner of pixel (0, 0))
    of where a beam from the sample meets the plane origin + F fast + S slow; None when it does not
    (the plane parallel to the beam, or met behind the sample).

    What a file's beam-centre and distance fields must say of the detector it describes (NXmx,
    CBF), computed from the same vectors as the file's geometry; nanoBragg's distance and
    Fbeam/Sbeam leave out two-theta.  F and S solve hit = F fast + S slow: custom fast and slow
    axes need not be orthogonal."""
    normal = cross(fast, slow)
    facing = dot(beam, normal)
    if abs(facing) <= 1e-12 * magnitude(normal) * magnitude(beam):
        return None
    along = dot(origin, normal) / facing
    if not along > 0.0:
        return None
    hit = [along * b - o for b, o in zip(beam, origin)]
    ff, fs, ss = dot(fast, fast), dot(fast, slow), dot(slow, slow)
    hf, hs = dot(hit, fast), dot(hit, slow)
    det = (ff * ss - fs * fs) * pixel_size
    return along * magnitude(beam), (hf * ss - hs * fs) / det, (hs * ff - hf * fs) / det


def reciprocal_metric(cell):
    """The reciprocal metric tensor (1/A^2) of a cell (A, degrees): 1/d^2 = h G* h."""
    import numpy as np
    a, b, c = cell[:3]
    cos = [np.cos(np.radians(angle)) for angle in cell[3:]]
    metric = np.array([[a * a, a * b * cos[2], a * c * cos[1]],
                       [a * b * cos[2], b * b, b * c * cos[0]],
                       [a * c * cos[1], b * c * cos[0], c * c]])
    return np.linalg.inv(metric)

"""-pngfile: a PNG picture of the detector as seen from the sample, through Pillow (an extra:
nbgpu[picture]).

Every panel is drawn where it lies: the picture is the view plane normal to the beam at the
nearest panel centre's distance along it, each picture pixel showing the detector pixel that the
ray from the sample through it meets (a gnomonic projection, so a flat detector normal to the
beam is drawn undistorted, one picture pixel per detector pixel unless the picture would be
larger than MAX_SIZE), with MARGIN pixels around.  Looking downstream: up is the lab's +y (McStas y), right is McStas -x.
Gaps, bad regions and what no panel covers are BACKGROUND; intensities are log-scaled, white
(0) to black (the brightest pixel), over LOG_DECADES decades.  Resolution rings are drawn
around the direct beam at round d-spacings (two significant figures) near 1/4, 1/2, 3/4 and
all of the largest radius a panel reaches, each labelled in Angstrom.
"""
from __future__ import annotations

import io
import math

from nbgpu.base.errors import InputError
from nbgpu.base.records import Record

MAX_SIZE = 2048                      # picture pixels on the longer side, at most
BACKGROUND = (40, 44, 64)            # gaps, bad regions, outside every panel
RING = (220, 30, 30)                 # resolution rings and their labels
LOG_DECADES = 4.0
MARGIN = 40                          # picture pixels around the panels, for the ring labels


class PicturePanel(Record):
    """One panel as rendered: its geometry (m, unit vectors, any lab frame) and its pixels."""
    origin: tuple                    # the outer corner of pixel (0, 0)
    fast: tuple
    slow: tuple
    pixel_size: float
    image: object                    # (slow, fast) float array of its pixels
    rendered: object = None          # (slow, fast) bool array: False where not rendered; None: all


class Picture(Record):
    """A drawn picture: the PNG and where things are in it (what a test can check)."""
    png: bytes
    width: int
    height: int
    scale: float                     # m of the view plane per picture pixel
    distance: float                  # the view plane's distance from the sample along the beam (m)
    beam_xy: tuple                   # the direct beam in picture pixels (x right, y down)
    rings: tuple                     # (d in Angstrom, radius in picture pixels) of each ring


def pillow(flag: str):
    """PIL's Image, ImageDraw and ImageFont; InputError naming the extra when missing."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise InputError(f"{flag}: the picture needs Pillow: pip install 'nbgpu[picture]'") from None
    return Image, ImageDraw, ImageFont


def view(np, basis, distance, points):
    """(x right, y up) on the view plane (m) of lab points (..., 3); their depth along the beam."""
    ex, ey, ez = (np.asarray(v, dtype=np.float64) for v in basis)
    depth = points @ ez
    return -(points @ ex) * distance / depth, (points @ ey) * distance / depth, depth


def panel_corners(np, p):
    o, f, s = (np.asarray(v, dtype=np.float64) for v in (p.origin, p.fast, p.slow))
    rows, cols = p.image.shape
    return np.array([o, o + cols * p.pixel_size * f, o + rows * p.pixel_size * s,
                     o + cols * p.pixel_size * f + rows * p.pixel_size * s])


def to_pixels(np, p, rays):
    """(fast, slow) pixel coordinates where rays from the sample (..., 3) meet the panel's plane,
    and whether they meet it in front of the sample: F = ray.a / ray.n, with a built from the
    plane's origin and the in-plane dual of the axes (fast and slow need not be orthogonal)."""
    o, f, s = (np.asarray(v, dtype=np.float64) for v in (p.origin, p.fast, p.slow))
    n = np.cross(f, s)
    ff, fs, ss = f @ f, f @ s, s @ s
    det = ff * ss - fs * fs
    f_dual, s_dual = (ss * f - fs * s) / det, (ff * s - fs * f) / det
    on = o @ n
    facing = rays @ n
    with np.errstate(divide="ignore", invalid="ignore"):
        fast = (rays @ (on * f_dual - (o @ f_dual) * n)) / facing / p.pixel_size
        slow = (rays @ (on * s_dual - (o @ s_dual) * n)) / facing / p.pixel_size
    return fast, slow, on / facing > 0


def ring_spacings(wavelength, distance, reach) -> list:
    """(d in A, radius on the view plane in m) of the rings: round d near 1/4 .. 1 of `reach`."""
    rings = []
    for k in (1, 2, 3, 4):
        two_theta = math.atan(k / 4 * reach / distance)
        if two_theta <= 0:
            continue
        d = wavelength / (2 * math.sin(two_theta / 2)) * 1e10
        d = float(f"{d:.2g}")
        sin_theta = wavelength * 1e10 / (2 * d)
        if sin_theta >= 1 or any(d == seen for seen, _ in rings):
            continue
        two_theta = 2 * math.asin(sin_theta)
        if two_theta < math.pi / 2:
            rings.append((d, distance * math.tan(two_theta)))
    return rings


def downstream(panels, basis, flag: str = "-pngfile") -> list:
    """(panel, corners) of the panels the picture shows (wholly downstream of the sample: one
    behind it is not seen); InputError when none is, which the run checks before it renders
    (only the panels' shapes are needed, not their pixels)."""
    import numpy as np
    shown = []
    for p in panels:
        corners = panel_corners(np, p)
        if np.all(corners @ np.asarray(basis[2]) > 0):
            shown.append((p, corners))
    if not shown:
        raise InputError(f"{flag}: no panel faces the sample downstream: nothing to draw")
    return shown


def draw_picture(panels, basis, wavelength, flag: str = "-pngfile") -> Picture:
    """The picture of `panels` (PicturePanel) seen from the sample; basis: the lab's (x, y, z)
    of the McStas frame (z along the beam); wavelength in m."""
    Image, ImageDraw, ImageFont = pillow(flag)
    import numpy as np
    shown = downstream(panels, basis, flag)
    distance = min(float(c.mean(axis=0) @ np.asarray(basis[2])) for _, c in shown)
    xs, ys = zip(*(view(np, basis, distance, c)[:2] for _, c in shown))
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    pixel = min(p.pixel_size for p, _ in shown)
    scale = max(pixel, (xs.max() - xs.min()) / MAX_SIZE, (ys.max() - ys.min()) / MAX_SIZE)
    width = max(1, math.ceil((xs.max() - xs.min()) / scale - 1e-9)) + 2 * MARGIN
    height = max(1, math.ceil((ys.max() - ys.min()) / scale - 1e-9)) + 2 * MARGIN
    left, top = xs.min() - MARGIN * scale, ys.max() + MARGIN * scale

    canvas = np.full((height, width), np.nan)
    ex, ey, ez = (np.asarray(v, dtype=np.float64) for v in basis)
    for p, corners in shown:
        cx, cy, _ = view(np, basis, distance, corners)
        i0, i1 = max(0, int((cx.min() - left) / scale) - 1), min(width, int((cx.max() - left) / scale) + 2)
        j0, j1 = max(0, int((top - cy.max()) / scale) - 1), min(height, int((top - cy.min()) / scale) + 2)
        u = left + (np.arange(i0, i1) + 0.5) * scale
        v = top - (np.arange(j0, j1) + 0.5) * scale
        rays = distance * ez + v[:, None, None] * ey - u[None, :, None] * ex
        fast, slow, ahead = to_pixels(np, p, rays)
        rows, cols = p.image.shape
        inside = ahead & (fast >= 0) & (fast < cols) & (slow >= 0) & (slow < rows)
        fi = np.where(inside, fast, 0).astype(np.int64)
        si = np.where(inside, slow, 0).astype(np.int64)
        if p.rendered is not None:
            inside &= np.asarray(p.rendered)[si, fi]
        block = canvas[j0:j1, i0:i1]
        block[inside] = np.asarray(p.image, dtype=np.float64)[si[inside], fi[inside]]

    values = canvas[np.isfinite(canvas)]
    top_value = float(values.max()) if values.size else 0.0
    gray = np.full(canvas.shape, 255.0)
    if top_value > 0:
        floor = top_value * 10.0 ** -LOG_DECADES
        level = np.log1p(np.clip(np.nan_to_num(canvas), 0, None) / floor) / math.log1p(top_value / floor)
        gray = 255.0 * (1.0 - level)
    rgb = np.repeat(np.round(gray).astype(np.uint8)[:, :, None], 3, axis=2)
    rgb[~np.isfinite(canvas)] = BACKGROUND

    beam_x, beam_y = (0.0 - left) / scale, (top - 0.0) / scale
    reach = float(np.max(np.hypot(xs, ys)))
    rings = [(d, radius / scale) for d, radius in ring_spacings(wavelength, distance, reach)]
    centres = np.hypot(np.arange(width)[None, :] + 0.5 - beam_x, np.arange(height)[:, None] + 0.5 - beam_y)
    for _, r in rings:                    # the picture pixels whose centre lies within half a pixel
        rgb[np.abs(centres - r) <= 0.5] = RING
    image = Image.fromarray(rgb, "RGB")
    pen = ImageDraw.Draw(image)
    font = label_font(ImageFont)
    for d, r in rings:
        label(pen, font, (beam_x + r * math.sqrt(0.5) + 5, beam_y - r * math.sqrt(0.5) - 20), f"{d:g}")
    out = io.BytesIO()
    image.save(out, "PNG")
    return Picture(png=out.getvalue(), width=width, height=height, scale=scale, distance=distance,
                   beam_xy=(beam_x, beam_y), rings=tuple(rings))


def label(pen, font, where, number):
    """'NUMBER A' with the ring of the Angstrom sign drawn over the A (fonts may lack the sign)."""
    pen.text(where, f"{number} A", fill=RING, font=font)
    left, top, right, _ = pen.textbbox(where, f"{number} A", font=font)
    a_left = pen.textbbox(where, f"{number} ", font=font)[2]
    middle = (a_left + right) / 2
    pen.ellipse([middle - 2, top - 6, middle + 2, top - 2], outline=RING, width=1)


def label_font(ImageFont):
    """Pillow's own scalable font (with the Angstrom sign), or its bitmap one."""
    try:
        return ImageFont.load_default(size=14)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()

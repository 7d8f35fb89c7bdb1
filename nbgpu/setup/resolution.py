"""How far out a coordinate model's structure factors are computed (-hkl MODEL): the resolution
the detector reaches, from the placed detector and the sources, with a margin for the rounding
to the nearest reflection and for tricubic interpolation's neighbours; -dmin, where coarser, wins.
The render looks structure factors up by index, so where the rendered lattice (-cell, -mat) is
not the model's cell the request is the model-cell resolution that holds every index the
rendered lattice reaches.
"""
from __future__ import annotations

import math

from nbgpu.base.records import Record
from nbgpu.base.vectors import magnitude, reciprocal_metric, unitize

RELATIVE_MARGIN = 1.02           # beyond the reach in 1/d ...
NEIGHBOURS = 2.0                 # ... and this many reciprocal cells' diagonals (tricubic: 2 index steps each way)
EDGE_POINTS = 129                # points sampled along each detector edge
INSIDE_POINTS = 33               # and along each axis inside it (a detector that surrounds the beam's back)


class FcalcRequest(Record):
    """The model's Fcalc as -hkl renders it: resolution and solvent and B parameters."""
    dmin: float                      # A, in the model's cell: every index reached, with the margin,
                                     # rounded down to 0.01 A
    k_sol: float                     # e/A^3 (0: no bulk solvent)
    B_sol: float                     # A^2
    B_add: float                     # A^2


def detector_points(detector, thickness):
    """Lab positions (m) of the detector's edges and a grid inside it, front and back of the
    sensor: where the scattering angle is largest lies among them (closely enough for the margin)."""
    width, height = detector.fpixels * detector.pixel_size, detector.spixels * detector.pixel_size
    edge = [i / (EDGE_POINTS - 1) for i in range(EDGE_POINTS)]
    inside = [i / (INSIDE_POINTS - 1) for i in range(INSIDE_POINTS)]
    spots = ([(u, v) for u in edge for v in (0.0, 1.0)] + [(u, v) for u in (0.0, 1.0) for v in edge]
             + [(u, v) for u in inside for v in inside])
    for depth in {0.0, thickness}:
        for u, v in spots:
            yield tuple(p + u * width * f + v * height * s + depth * o for p, f, s, o in
                        zip(detector.pix0, detector.fdet, detector.sdet, detector.odet))


def off_beam(detector, point) -> float:
    """|d - b| for the unit diffracted direction d to this point and the beam's b; for a curved
    detector a bound (nanoBragg turns the point's lab y and z over the distance into angles)."""
    beam = detector.beam
    if detector.curved:
        angle = min(math.pi, (abs(point[1]) + abs(point[2])) / detector.distance)
        return 2 * math.sin(angle / 2)
    return magnitude([d - b for d, b in zip(unitize(point)[0], beam)])


def fcalc_request(f, detectors, beam, lattice, cell) -> FcalcRequest:
    """|s| <= (|d - b| + |b - i|) / lambda over every point of every detector (the panels of a
    detector file, or the one detector) and every source (i: a source's incident direction); the
    margin, in steps of the crystal's reciprocal cell, covers any reflection within 2 index steps
    along each axis of a point the detector reaches (nearest: 0.5).  The indices reached are
    h = A s (A: the rendered lattice's real vectors as rows), so the model's cell (`cell`: A,
    degrees) needs 1/d = |h|* up to s_used times the largest singular value of its reciprocal
    metric's root times A: that sphere holds the whole ellipsoid of indices (the same s_used
    where the cells agree, whatever the orientation)."""
    import numpy as np
    spread = max(magnitude([b + s for b, s in zip(detector.beam, source)])
                 for detector in detectors for source in beam.source_dir)
    shortest = min((w for w in beam.source_lambda if w > 0), default=f.lambda0)
    far = max(off_beam(detector, point) for detector in detectors
              for point in detector_points(detector, f.detector_thick))
    s_reach = (far + spread) / (shortest * 1e10)                      # 1/A
    if f.dmin > 0:
        s_reach = min(s_reach, 1 / (f.dmin * 1e10))
    a, b, c = lattice.a_star, lattice.b_star, lattice.c_star
    steps = max(magnitude([x + sb * y + sc * z for x, y, z in zip(a, b, c)])        # the longest diagonal
                for sb in (1, -1) for sc in (1, -1))                                # of one reciprocal cell
    s_used = RELATIVE_MARGIN * s_reach + NEIGHBOURS * steps
    real = np.array([lattice.a0, lattice.b0, lattice.c0]) * 1e10                    # A, rows
    stretch = math.sqrt(max(np.linalg.eigvalsh(real.T @ reciprocal_metric(cell) @ real)))
    dmin = max(0.01, math.floor(100 / (s_used * stretch)) / 100)
    return FcalcRequest(dmin=dmin, k_sol=f.k_sol, B_sol=f.B_sol, B_add=f.B_add)

"""nonBragg's -stol table made from structure factors (the job of nanoBragg's mtz_to_stol.com):
sin(theta)/lambda (1/A) and the root-mean-square |F| of the reflections in each bin, so that
nonBragg's F^2 is the radially averaged |F|^2 (of one unit cell, every P1 reflection counted
once).  Bins are `width` wide, centred on multiples of it; empty bins are left out.
"""
from nbgpu.io.p1 import Reflections, inverse_d2

WIDTH = 0.001                    # 1/A, as mtz_to_stol.com bins


def stol_text(reflections: Reflections, width=WIDTH) -> bytes:
    import numpy as np
    stol = np.sqrt(inverse_d2(reflections.cell, reflections.hkl)) / 2
    bins = np.rint(stol / width).astype(np.int64)
    counts = np.bincount(bins)
    sums = np.bincount(bins, weights=reflections.F * reflections.F)
    used = np.nonzero(counts)[0]
    rms = np.sqrt(sums[used] / counts[used])
    return "".join(f"{b * width:.10g} {F!r}\n" for b, F in zip(used.tolist(), rms.tolist())).encode()

"""nonBragg's -stol table made from structure factors (the job of nanoBragg's mtz_to_stol.com):
sin(theta)/lambda (1/A) and the root-mean-square |F| of the reflections in each bin, so that
nonBragg's F^2 is the radially averaged |F|^2 (of one unit cell, every P1 reflection counted
once).  Bins are `width` wide, centred on multiples of it, each holding [centre - width/2,
centre + width/2): a reflection on an edge (within EDGE, for the metric's rounding) goes up.
Empty bins are left out, and so is F000: it is no diffraction (it scatters only straight
ahead), MTZ files do not have it, and nonBragg interpolating from it towards the first ring
would make up intensity near the beam.
"""
from nbgpu.base.errors import InputError
from nbgpu.io.p1 import Reflections, inverse_d2

WIDTH = 0.001                    # 1/A, as mtz_to_stol.com bins
EDGE = 1e-9                      # bins: a reflection this close below an edge counts as on it
MAX_BINS = 10_000_000            # a table longer than this is a width typed wrong


def stol_text(reflections: Reflections, where, width=WIDTH, option="--stol-width") -> bytes:
    """The table's text; InputError naming `option` for a width that makes too many bins, or
    `where` when |F|^2 overflows."""
    import numpy as np
    keep = np.any(reflections.hkl != 0, axis=1)
    stol = np.sqrt(inverse_d2(reflections.cell, reflections.hkl[keep])) / 2
    F = reflections.F[keep]
    top = float(stol.max()) / width if len(stol) else 0.0
    if not top < MAX_BINS:
        raise InputError(f"{option} {width:g}: {top:.3g} bins to sin(theta)/lambda {float(stol.max()):g} 1/A "
                         f"(at most {MAX_BINS}): give a wider bin")
    bins = np.floor(stol / width + 0.5 + EDGE).astype(np.int64)
    counts = np.bincount(bins)
    with np.errstate(all="ignore"):
        sums = np.bincount(bins, weights=F * F)
    used = np.nonzero(counts)[0]
    rms = np.sqrt(sums[used] / counts[used])
    if not np.all(np.isfinite(rms)):
        raise InputError(f"{where}: |F|^2 overflows in the stol table (F up to {float(F.max()):g})")
    return "".join(f"{b * width:.10g} {value!r}\n" for b, value in zip(used.tolist(), rms.tolist())).encode()

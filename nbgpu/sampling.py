"""How many phi steps, divergence points, wavelengths, sensor layers and mosaic domains.

nanoBragg fills in whichever of (range, step, count) the user left out, with rules that differ
a little per quantity (pipeline.md §8).  "Unset" is a negative value.
"""
import math

from .cnum import RTD
from .errors import InputError
from .memory import check_allocation

MAX_TABLE_BYTES = 2 << 30     # lattice tables (phi steps x domains) beyond this are surely a typo
# counts beyond these are typos too (nanoBragg would spend hours printing or generating them)
MAX_COUNTS = {"phi steps": 10**7, "mosaic domains": 10**7, "sensor layers": 10**6, "sources": 10**7}


def phi_sampling(osc, phistep, phisteps):
    """(osc, phistep, phisteps) after nanoBragg's phi rules (§8.1)."""
    if phisteps < 0:
        if osc < 0.0:
            if phistep <= 0.0:
                return 0.0, 0.0, 1
            return phistep, phistep, 2
        if phistep <= 0.0:
            return osc, osc / 2.0, 2
        return osc, phistep, math.ceil(osc / phistep)
    if phisteps == 0:
        phisteps = 1
    if osc < 0.0:
        if phistep <= 0.0:
            osc = 1.0 / RTD                                  # 1 degree
            return osc, osc / phisteps, phisteps
        return phistep, phistep, 2
    if phistep < 0.0:
        return osc, osc / phisteps, phisteps
    return osc, phistep, phisteps


def spread_sampling(spread, step, steps, default_spread=1.0):
    """(range, step, count) for divergence and dispersion (§8.2)."""
    if steps <= 0:
        if spread < 0.0:
            if step <= 0.0:
                return 0.0, 0.0, 1
            return step, step, 2
        if step <= 0.0:
            return spread, spread, 2
        return spread, step, math.ceil(spread / step)
    if spread < 0.0:
        if step <= 0.0:
            return default_spread, default_spread / steps, steps
        return step, step, 2
    if step <= 0.0:
        steps = max(steps, 2)
        return spread, spread / (steps - 1), steps
    return spread, step, steps


def thickness_sampling(thick, thicksteps):
    """(thick, thickstep, thicksteps) of the sensor layers (§8.3; no -thickstep flag exists)."""
    if thicksteps <= 0:
        if thick < 0.0:
            return 0.0, 0.0, 1
        return thick, thick / 2, 2
    if thick < 0.0:
        return 0.5e-6, 0.5e-6 / thicksteps, thicksteps
    thicksteps = max(thicksteps, 2)
    return thick, thick / (thicksteps - 1), thicksteps


def sane(spread, step, steps):
    """nanoBragg's final reset: anything non-positive means one sample and no spread (§8.5)."""
    if spread <= 0.0 or step <= 0.0 or steps <= 0:
        return 0.0, 0.0, 1
    return spread, step, steps


def choose_sampling(s, log):
    """Apply §8 to the settings, printing nanoBragg's warnings."""
    s.osc, s.phistep, s.phisteps = phi_sampling(s.osc, s.phistep, s.phisteps)
    hdiv = spread_sampling(s.hdivrange, s.hdivstep, s.hdivsteps)
    vdiv = spread_sampling(s.vdivrange, s.vdivstep, s.vdivsteps)
    disp = spread_sampling(s.dispersion, -1.0, s.dispsteps)      # no -dispstep flag exists
    thick = thickness_sampling(s.detector_thick, s.detector_thicksteps)
    if thick[0] > 0.0 and s.detector_mu < 0.0:
        s.detector_mu = 1.0 / thick[0]
        log("WARNING: setting detector attenuation depth to %g m\n" % s.detector_mu)
    if s.mosaic_domains <= 0:
        if s.mosaic_spread < 0.0:
            s.mosaic_domains, s.mosaic_spread = 1, 0.0
        elif s.mosaic_spread == 0.0:
            s.mosaic_domains = 1
        else:
            log("WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains\n")
            s.mosaic_domains = 10
    elif s.mosaic_spread < 0.0:
        log("WARNING: no mosaic spread specified.  setting mosaic_domains = 1\n")
        s.mosaic_spread, s.mosaic_domains = 0.0, 1
    elif s.mosaic_spread == 0.0:
        log("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1\n")
        s.mosaic_domains = 1

    s.hdivrange, s.hdivstep, s.hdivsteps = sane(*hdiv)
    s.vdivrange, s.vdivstep, s.vdivsteps = sane(*vdiv)
    s.dispersion, s.dispstep, s.dispsteps = sane(*disp)
    s.detector_thick, s.detector_thickstep, s.detector_thicksteps = sane(*thick)
    if s.phisteps <= 0:
        raise InputError("-osc 0 with a -phistep gives no phi step at all (nanoBragg renders NaN)")
    counts = {"phi steps": s.phisteps, "mosaic domains": s.mosaic_domains,
              "sensor layers": s.detector_thicksteps,
              "sources": 1 if s.sourcefilename else s.hdivsteps * s.vdivsteps * s.dispsteps}
    for what, count in counts.items():
        if count > MAX_COUNTS[what]:
            raise InputError(f"{count} {what} (at most {MAX_COUNTS[what]}): check -phisteps, -osc, -phistep, "
                             "-mosaic_domains, -detector_thicksteps, -divsteps, -hdivsteps, -vdivsteps, -dispsteps")
    table_bytes = 2 * 72 * s.phisteps * s.mosaic_domains
    advice = "check -osc, -phistep, -phisteps and -mosaic_domains"
    if table_bytes > MAX_TABLE_BYTES:
        raise InputError(f"{s.phisteps} phi steps x {s.mosaic_domains} mosaic domains need "
                         f"{table_bytes / 2**30:.1f} GiB of lattice tables: {advice}")
    check_allocation(table_bytes, f"{s.phisteps} phi steps x {s.mosaic_domains} mosaic domains", advice)

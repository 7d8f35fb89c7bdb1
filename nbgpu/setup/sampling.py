"""How many phi steps, divergence points, wavelengths, sensor layers and mosaic domains.

nanoBragg fills in whichever of (range, step, count) the user left out, with rules that differ
a little per quantity (pipeline.md §8).  "Unset" is a negative value.
"""
import math

from nbgpu.base.cnumbers import RTD
from nbgpu.base.errors import InputError
from nbgpu.base.memory import check_allocation
from nbgpu.base.records import Record
from nbgpu.base.told import tells

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


class Spreads(Record):
    """Divergence and dispersion, (range, step, count) each, after the rules and the reset
    (§8.2, §8.5), which nonBragg's source writes as nanoBragg's does."""
    hdivrange: float
    hdivstep: float
    hdivsteps: int
    vdivrange: float
    vdivstep: float
    vdivsteps: int
    dispersion: float
    dispstep: float
    dispsteps: int


def spreads(f) -> dict:
    """The fields of Spreads from the flags."""
    hdiv = sane(*spread_sampling(f.hdivrange, f.hdivstep, f.hdivsteps))
    vdiv = sane(*spread_sampling(f.vdivrange, f.vdivstep, f.vdivsteps))
    disp = sane(*spread_sampling(f.dispersion, -1.0, f.dispsteps))      # no -dispstep flag exists
    return dict(zip(Spreads.fields(), hdiv + vdiv + disp))


class Sampling(Spreads):
    """How the render samples: divergence and dispersion (Spreads), phi steps, the sensor's
    layers and attenuation, the mosaic domains (pipeline.md §8)."""
    phi0: float
    osc: float
    phistep: float
    phisteps: int
    thick: float                     # the sensor (m), in layers of thickstep
    thickstep: float
    thicksteps: int
    mu: float                        # the sensor's attenuation (1/m)
    mosaic_spread: float
    mosaic_domains: int


@tells
def choose(f, tell) -> Sampling:
    """Apply §8 to the flags, printing nanoBragg's warnings."""
    osc, phistep, phisteps = phi_sampling(f.osc, f.phistep, f.phisteps)
    div = spreads(f)
    thick = thickness_sampling(f.detector_thick, f.detector_thicksteps)
    mu = f.detector_mu
    if thick[0] > 0.0 and mu < 0.0:
        mu = 1.0 / thick[0]
        tell.say("WARNING: setting detector attenuation depth to %g m\n" % mu)
    domains, spread = f.mosaic_domains, f.mosaic_spread
    if domains <= 0:
        if spread < 0.0:
            domains, spread = 1, 0.0
        elif spread == 0.0:
            domains = 1
        else:
            tell.say("WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains\n")
            domains = 10
    elif spread < 0.0:
        tell.say("WARNING: no mosaic spread specified.  setting mosaic_domains = 1\n")
        spread, domains = 0.0, 1
    elif spread == 0.0:
        tell.say("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1\n")
        domains = 1

    thick = sane(*thick)
    if phisteps <= 0:
        raise InputError("-osc 0 with a -phistep gives no phi step at all (nanoBragg renders NaN)")
    counts = {"phi steps": phisteps, "mosaic domains": domains, "sensor layers": thick[2],
              "sources": 1 if f.sourcefilename else div["hdivsteps"] * div["vdivsteps"] * div["dispsteps"]}
    for what, count in counts.items():
        if count > MAX_COUNTS[what]:
            raise InputError(f"{count} {what} (at most {MAX_COUNTS[what]}): check -phisteps, -osc, -phistep, "
                             "-mosaic_domains, -detector_thicksteps, -divsteps, -hdivsteps, -vdivsteps, -dispsteps")
    table_bytes = 2 * 72 * phisteps * domains
    advice = "check -osc, -phistep, -phisteps and -mosaic_domains"
    if table_bytes > MAX_TABLE_BYTES:
        raise InputError(f"{phisteps} phi steps x {domains} mosaic domains need "
                         f"{table_bytes / 2**30:.1f} GiB of lattice tables: {advice}")
    check_allocation(table_bytes, f"{phisteps} phi steps x {domains} mosaic domains", advice)
    return Sampling(**div, phi0=f.phi0, osc=osc, phistep=phistep, phisteps=phisteps,
                    thick=thick[0], thickstep=thick[1], thicksteps=thick[2], mu=mu,
                    mosaic_spread=spread, mosaic_domains=domains)

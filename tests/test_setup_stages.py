"""The setup stages alone, each a function of the flags (and of the records before it), against
numbers worked out by hand from nanoBragg's rules (../shared/reference/pipeline.md), not from a
run of either program."""
import math

import pytest

from nbgpu.base.rng import Rng
from nbgpu.setup import beam, crystal, detector, flags, sampling

quiet = lambda *args, **kwargs: None
BASE = "-cell 10 20 30 90 90 90 -default_F 1 -distance 100 -detpixels 100 -pixel 0.1 -lambda 1"


def parsed(extra=""):
    f, _ = flags.parse(f"{BASE} {extra}".split())
    return f


def placed(extra=""):
    f = parsed(extra)
    return detector.place(f, detector.frame(f, detector.pixel_grid(f), quiet), quiet)


def close(a, b, rel=1e-12, abs_=1e-18):
    return all(math.isclose(x, y, rel_tol=rel, abs_tol=abs_) for x, y in zip(a, b, strict=True))


def test_pixel_grid_from_counts_and_size():
    grid = detector.pixel_grid(parsed())
    assert (grid.fpixels, grid.spixels) == (100, 100)
    assert grid.pixel_size == pytest.approx(1e-4) and grid.detsize_f == pytest.approx(0.01)


@pytest.mark.parametrize("convention, pix0", [
    # MOSFLM: Xbeam = Ybeam = (detsize + px)/2 = 5.05 mm; Fbeam = Ybeam + px/2 = Sbeam = 5.1 mm;
    # pix0 = -Fbeam fdet - Sbeam sdet + distance beam, fdet (0,0,1), sdet (0,-1,0), beam (1,0,0)
    ("", (0.1, 0.0051, -0.0051)),
    # DENZO: the same vectors and centre, without the half-pixel shift
    ("-denzo", (0.1, 0.00505, -0.00505)),
    # ADXV: Xbeam = (detsize_f + px)/2 = 5.05 mm, Ybeam = (detsize_s - px)/2 = 4.95 mm; Fbeam = Xbeam,
    # Sbeam = detsize_s - Ybeam = 5.05 mm; fdet (1,0,0), sdet (0,-1,0), beam (0,0,1)
    ("-adxv", (-0.00505, 0.00505, 0.1)),
])
def test_detector_placement_by_convention(convention, pix0):
    d = placed(convention)
    assert close(d.pix0, pix0)
    assert d.distance == pytest.approx(0.1) and d.close_distance == pytest.approx(0.1)
    # the direct beam meets the plane at (Fbeam, Sbeam): pix0 + Fbeam fdet + Sbeam sdet = distance beam
    hit = [p + d.Fbeam * f + d.Sbeam * s for p, f, s in zip(d.pix0, d.fdet, d.sdet)]
    assert close(hit, [d.distance * b for b in d.frame.beam], abs_=1e-15)


def test_a_detector_swung_by_two_theta_about_the_beam_spot():
    # -twotheta 90 turns the detector's vectors right-handed about MOSFLM's axis (0,0,-1): odet
    # (1,0,0) -> (0,-1,0), sdet (0,-1,0) -> (-1,0,0), fdet (0,0,1) unchanged; pivoting on the beam
    # spot, pix0 = -Fbeam fdet - Sbeam sdet + distance beam with the turned vectors
    d = placed("-twotheta 90")
    assert close(d.odet, (0, -1, 0), abs_=1e-15) and close(d.sdet, (-1, 0, 0), abs_=1e-15)
    assert close(d.fdet, (0, 0, 1), abs_=1e-15)
    assert close(d.pix0, (0.1 + 0.0051, 0, -0.0051), abs_=1e-15)


def test_sampling_steps_spreads_and_domains():
    s = sampling.choose(parsed("-phi 10 -osc 1 -phisteps 5 -mosaic 0.5 -dispersion 2 -dispsteps 3 "
                               "-divergence 1 -divsteps 3"), quiet)
    assert s.phi0 == pytest.approx(math.radians(10)) and s.osc == pytest.approx(math.radians(1))
    assert s.phisteps == 5 and s.phistep == pytest.approx(math.radians(0.2))       # osc / phisteps
    assert s.mosaic_domains == 10                 # a mosaic spread with one domain: upped to 10
    assert (s.hdivrange, s.hdivsteps, s.hdivstep) == (pytest.approx(1e-3), 3, pytest.approx(0.5e-3))
    assert (s.dispersion, s.dispsteps, s.dispstep) == (pytest.approx(0.02), 3, pytest.approx(0.01))


def test_lattice_of_an_orthorhombic_cell():
    lattice = crystal.lattice(parsed(), Rng(), quiet)
    # a b c along x y z (m), and the reciprocal vectors 1/a 1/b 1/c along them (1/A)
    assert close(lattice.a0, (1e-9, 0, 0), abs_=1e-24) and close(lattice.b0, (0, 2e-9, 0), abs_=1e-24)
    assert close(lattice.c0, (0, 0, 3e-9), abs_=1e-24)
    assert close(lattice.a_star, (0.1, 0, 0), abs_=1e-15) and close(lattice.b_star, (0, 0.05, 0), abs_=1e-15)
    assert close(lattice.c_star, (0, 0, 1 / 30), abs_=1e-15)


def test_lattice_of_a_hexagonal_cell_has_its_volume():
    f, _ = flags.parse("-cell 10 10 15 90 90 120 -default_F 1 -distance 100 -detpixels 10".split())
    lattice = crystal.lattice(f, Rng(), quiet)
    a, b, c = lattice.a0, lattice.b0, lattice.c0
    volume = (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
              + a[2] * (b[0] * c[1] - b[1] * c[0]))
    assert volume == pytest.approx(10 * 10 * 15 * math.sin(math.radians(120)) * 1e-30, rel=1e-12)
    # |a*| = 1 / (a sin gamma) for a hexagonal cell
    assert math.hypot(*lattice.a_star) == pytest.approx(1 / (10 * math.sin(math.radians(120))), rel=1e-12)


def test_sources_of_divergence_and_dispersion():
    f = parsed("-dispersion 2 -dispsteps 3 -divergence 1 -divsteps 3")
    chosen = sampling.choose(f, quiet)
    frame = detector.frame(f, detector.pixel_grid(f), quiet)
    b = beam.sources(f, beam.exposure(f, quiet), chosen, frame, quiet, quiet)
    # 3 x 3 divergence points of 0.5 mrad steps, trimmed to the ellipse: the four corners (0.71
    # mrad out) go, five stay; each at three wavelengths, 0.99, 1.00 and 1.01 A
    assert b.divsteps == 5 and b.sources == 15
    assert sorted(set(b.source_lambda)) == pytest.approx([0.99e-10, 1e-10, 1.01e-10])
    for direction in b.source_dir:                # toward the source: -beam, tilted by 0 or 0.5 mrad
        assert math.isclose(math.hypot(*direction), 1.0, rel_tol=1e-12)
        tilt = math.acos(-direction[0])
        assert tilt == pytest.approx(0.0, abs=1e-12) or tilt == pytest.approx(0.5e-3, rel=1e-6)

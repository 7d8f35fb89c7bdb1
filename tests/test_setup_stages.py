"""The setup stages alone, each a function of the flags (and of the records before it), against
numbers worked out by hand from nanoBragg's rules (../shared/reference/pipeline.md), not from a
run of either program."""
import math

import pytest

from nbgpu.base.errors import InputError
from nbgpu.base.rng import Rng
from nbgpu.setup import beam, crystal, detector, flags, inputs, prepare, sampling
from nbgpu.setup.cache import NoCache

BASE = "-cell 10 20 30 90 90 90 -default_F 1 -distance 100 -detpixels 100 -pixel 0.1 -lambda 1"


def parsed(extra=""):
    f, _ = flags.parse(f"{BASE} {extra}".split())
    return f


def placed(extra=""):
    f = parsed(extra)
    frame, _ = detector.frame(f, detector.pixel_grid(f))
    return detector.place(f, frame)[0]


def cell_lattice(f):
    typed, _ = crystal.typed_cell(f)
    return crystal.lattice(f, typed, None, Rng())[0]


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
                               "-divergence 1 -divsteps 3"))[0]
    assert s.phi0 == pytest.approx(math.radians(10)) and s.osc == pytest.approx(math.radians(1))
    assert s.phisteps == 5 and s.phistep == pytest.approx(math.radians(0.2))       # osc / phisteps
    assert s.mosaic_domains == 10                 # a mosaic spread with one domain: upped to 10
    assert (s.hdivrange, s.hdivsteps, s.hdivstep) == (pytest.approx(1e-3), 3, pytest.approx(0.5e-3))
    assert (s.dispersion, s.dispsteps, s.dispstep) == (pytest.approx(0.02), 3, pytest.approx(0.01))


def test_lattice_of_an_orthorhombic_cell():
    lattice = cell_lattice(parsed())
    # a b c along x y z (m), and the reciprocal vectors 1/a 1/b 1/c along them (1/A)
    assert close(lattice.a0, (1e-9, 0, 0), abs_=1e-24) and close(lattice.b0, (0, 2e-9, 0), abs_=1e-24)
    assert close(lattice.c0, (0, 0, 3e-9), abs_=1e-24)
    assert close(lattice.a_star, (0.1, 0, 0), abs_=1e-15) and close(lattice.b_star, (0, 0.05, 0), abs_=1e-15)
    assert close(lattice.c_star, (0, 0, 1 / 30), abs_=1e-15)


def test_lattice_of_a_hexagonal_cell_has_its_volume():
    f, _ = flags.parse("-cell 10 10 15 90 90 120 -default_F 1 -distance 100 -detpixels 10".split())
    lattice = cell_lattice(f)
    a, b, c = lattice.a0, lattice.b0, lattice.c0
    volume = (a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
              + a[2] * (b[0] * c[1] - b[1] * c[0]))
    assert volume == pytest.approx(10 * 10 * 15 * math.sin(math.radians(120)) * 1e-30, rel=1e-12)
    # |a*| = 1 / (a sin gamma) for a hexagonal cell
    assert math.hypot(*lattice.a_star) == pytest.approx(1 / (10 * math.sin(math.radians(120))), rel=1e-12)


def test_sources_of_divergence_and_dispersion():
    f = parsed("-dispersion 2 -dispsteps 3 -divergence 1 -divsteps 3")
    chosen, _ = sampling.choose(f)
    frame, _ = detector.frame(f, detector.pixel_grid(f))
    b, told = beam.sources(f, None, beam.exposure(f)[0], chosen, frame)
    assert told.lines[-16] == "  created a total of 15 sources:\n" and len(told.lines) == 5 + 3 + 1 + 15
    # 3 x 3 divergence points of 0.5 mrad steps, trimmed to the ellipse: the four corners (0.71
    # mrad out) go, five stay; each at three wavelengths, 0.99, 1.00 and 1.01 A
    assert b.divsteps == 5 and b.sources == 15
    assert sorted(set(b.source_lambda)) == pytest.approx([0.99e-10, 1e-10, 1.01e-10])
    for direction in b.source_dir:                # toward the source: -beam, tilted by 0 or 0.5 mrad
        assert math.isclose(math.hypot(*direction), 1.0, rel_tol=1e-12)
        tilt = math.acos(-direction[0])
        assert tilt == pytest.approx(0.0, abs=1e-12) or tilt == pytest.approx(0.5e-3, rel=1e-6)


def test_a_stage_returns_what_nanobragg_prints_and_prints_nothing(capsys):
    f = parsed()
    frame, told_frame = detector.frame(f, detector.pixel_grid(f))
    _, told = detector.place(f, frame)
    assert told_frame.lines == () and told.warnings == ()
    assert told.lines == ("mosflm convention selected.\n", "pivoting detector around direct beam spot\n",
                          "XDS incident beam: 0 0 1\n")
    assert capsys.readouterr() == ("", "")


def test_a_stage_that_fails_carries_what_it_said_before():
    with pytest.raises(InputError, match="-osc 0") as caught:
        sampling.choose(parsed("-mosaic 0.5 -osc 0 -phistep 0.1"))
    assert caught.value.told.lines == ("WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains\n",)


def test_inputs_are_read_in_one_step_and_fail_where_nanobragg_reads_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "A.mat").write_text("0.01 0 0\n0 0.02 0\n0 0 0.03\n")
    (tmp_path / "sources.txt").write_text("0 0 10 1 1e-10\n")
    f = parsed("-mat A.mat -sourcefile sources.txt -stol missing.stol")
    files = inputs.read_inputs(f, inputs.read_headers([], NoCache), NoCache)
    assert files.matrix.value == (0.01, 0, 0, 0, 0.02, 0, 0, 0, 0.03) and files.matrix.said == ("reading A.mat\n",)
    assert files.sources.value.shape == (1, 5) and files.structure_factors.value is None
    assert files.stol.value is None and "-stol missing.stol" in str(files.stol.error)   # kept, not raised
    assert files.stol.said == ("reading missing.stol\n",)
    # prepare raises it where nanoBragg reads -stol: after the crystal's lines, before the phi steps
    with pytest.raises(InputError, match="-stol missing.stol") as caught:
        prepare.prepare(f"{BASE} -mat A.mat -stol missing.stol".split())
    lines = caught.value.told.lines
    assert lines[0] == prepare.BANNER and lines[-1] == "reading missing.stol\n"
    assert "reading A.mat\n" in lines and not any(line.startswith("phi0") for line in lines)
    assert capsys.readouterr() == ("", "")


def test_a_setup_keeps_its_log_and_where_the_dump_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p1.hkl").write_text("1 0 0 10\n0 1 0 20\n")
    setup = prepare.prepare(f"{BASE} -hkl p1.hkl -N 2 -mosaic 1 -mosaic_domains 3 -mosaic_seed 5".split())
    lines = setup.told.lines
    dumps = [n for n, line in enumerate(lines) if isinstance(line, prepare.Dump)]
    assert len(dumps) == 1 and lines[dumps[0]].path == "Fdump.bin"
    assert lines[dumps[0] - 1] == "re-reading p1.hkl\n" and lines[dumps[0] + 1] == "thick0 = 0 um\n"
    assert lines[-1] == "  created a total of 3 mosaic domains\n"
    assert not (tmp_path / "Fdump.bin").exists()          # written by the run that renders it
    # the generator state kept goes on as the one the setup drew from
    again = prepare.prepare(f"{BASE} -hkl p1.hkl -N 2 -mosaic 1 -mosaic_domains 3 -mosaic_seed 5".split())
    assert again.rng_state == setup.rng_state and again.crystal.mosaic_umats == setup.crystal.mosaic_umats

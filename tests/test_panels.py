"""Multi-panel detectors from files (-geom, -expt): the readers, the frames, the per-panel parity
contract (every panel bit for bit the single-panel run of its equivalent argv), the files
written, and bad input through the CLI."""
import json
import os

import numpy as np
import pytest

import nbgpu
from helpers import OUTPUTS, run_cli, write
from nbgpu.base.errors import InputError
from nbgpu.io.crystfel import read_crystfel_geometry
from nbgpu.io.dials import read_dials_experiments
from nbgpu.setup.panels import equivalent_argv, to_nanobragg

PANEL = """
{name}/min_fs = {f0}
{name}/max_fs = {f1}
{name}/min_ss = {s0}
{name}/max_ss = {s1}
{name}/corner_x = {cx}
{name}/corner_y = {cy}
{name}/fs = {fs}
{name}/ss = {ss}
"""
HEADER = """; four panels, rotated and tilted
photon_energy = 12000
res = 10000
clen = 0.1
adu_per_eV = 0.001
data = /data/data
dim0 = %
dim1 = ss
dim2 = fs
rigid_group_all = p0,p1,p2,p3
rigid_group_collection_det = all
"""
# p0 flat and stored as seen from behind (fs x ss toward the sample), p1 rotated by 10 degrees
# and shifted back, p2 tilted out of the plane, p3 rotated 45 degrees and tilted, and smaller
FOUR = HEADER + "".join([
    PANEL.format(name="p0", f0=0, f1=63, s0=0, s1=47, cx=-70, cy=5, fs="+1.0x +0.0y", ss="+0.0x -1.0y"),
    PANEL.format(name="p1", f0=64, f1=127, s0=0, s1=47, cx=6, cy=60, fs="+0.9848x -0.1736y", ss="-0.1736x -0.9848y")
    + "p1/coffset = 0.002\n",
    PANEL.format(name="p2", f0=0, f1=63, s0=48, s1=95, cx=60, cy=-8, fs="+0.0x -1.0y +0.05z", ss="-1.0x +0.0y")
    + "p2/clen = 0.11\n",
    PANEL.format(name="p3", f0=64, f1=119, s0=48, s1=87, cx=-5, cy=-62, fs="-0.7071x -0.7071y",
                 ss="+0.7071x -0.7071y -0.1z"),
])
CRYSTAL = ["-cell", "40", "50", "60", "90", "90", "90", "-N", "5", "-misset", "10", "20", "30"]


def small_hkl(path):
    """A structure-factor grid of -3..3: the tricubic interpolation runs out of it inside panels."""
    lines = [f"{h} {k} {l} {10 + abs(h) + 2 * abs(k) + 3 * abs(l)}" for h in range(-3, 4) for k in range(-3, 4)
             for l in range(-3, 4)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def same_bits(a, b) -> bool:
    return a.shape == b.shape and np.array_equal(np.ascontiguousarray(a).view(np.uint32),
                                                 np.ascontiguousarray(b).view(np.uint32))


def test_crystfel_reader(tmp_path):
    path = tmp_path / "four.geom"
    path.write_text(FOUR + "bad1/min_fs = 10\nbad1/max_fs = 12\nbad1/min_ss = 2\nbad1/max_ss = 3\nbad1/panel = p0\n")
    df = read_crystfel_geometry(str(path))
    assert [p.name for p in df.panels] == ["p0", "p1", "p2", "p3"]
    assert [(p.fpixels, p.spixels) for p in df.panels] == [(64, 48), (64, 48), (64, 48), (56, 40)]
    p0, p1, p2, p3 = df.panels
    assert p0.origin == pytest.approx((-0.007, 0.0005, 0.1)) and p1.origin[2] == pytest.approx(0.102)
    assert p2.origin[2] == pytest.approx(0.11) and p0.pixel_size == pytest.approx(1e-4)
    assert sum(x * x for x in p2.fast) == pytest.approx(1.0) and p2.fast[2] > 0
    assert p3.data_origin == (48, 64) and df.layout == ("%", "ss", "fs") and df.energy == 12000
    assert p0.adu_per_photon == pytest.approx(12.0)
    assert p0.bad == ((10, 12, 2, 3),) and p1.bad == ()


def test_crystfel_bad_region_in_lab_coordinates(tmp_path):
    path = tmp_path / "one.geom"
    path.write_text(HEADER + PANEL.format(name="p0", f0=0, f1=9, s0=0, s1=9, cx=0, cy=0, fs="x", ss="y")
                    + "badcorner/min_x = 2\nbadcorner/max_x = 4\nbadcorner/min_y = 0\nbadcorner/max_y = 1\n")
    (p,) = read_crystfel_geometry(str(path)).panels
    # pixel centres at x = f + 0.5, y = s + 0.5: fs 2..3 of row 0 only
    assert p.bad == ((2, 3, 0, 0),)


@pytest.mark.parametrize("header, energy, wavelength", [
    ("photon_energy = 12 keV", 12000.0, None), ("photon_energy = 12000 eV", 12000.0, None),
    ("\ufeffphoton_energy = 12000", 12000.0, None), ("wavelength = 1.5 A", 12398.42 / 1.5, 1.5),
    ("wavelength = 1.5e-10", 12398.42 / 1.5, 1.5)])
def test_crystfel_beam_in_units(header, energy, wavelength, tmp_path):
    path = tmp_path / "four.geom"
    path.write_text(FOUR.replace("; four panels, rotated and tilted\nphoton_energy = 12000", header),
                    encoding="utf-8")
    df = read_crystfel_geometry(str(path))
    assert df.energy == pytest.approx(energy) and df.wavelength == pytest.approx(wavelength)
    assert df.panels[0].adu_per_photon == pytest.approx(energy * 0.001)


def test_crystfel_defaults_apply_to_later_panels_only(tmp_path):
    """CrystFEL's rule: a key without a panel name is a default for the panels first named after it."""
    path = tmp_path / "four.geom"
    path.write_text(FOUR.replace("p1/min_fs = 64", "coffset = 50 mm\nclen = 100 mm\np1/min_fs = 64"))
    p0, p1, p2, p3 = read_crystfel_geometry(str(path)).panels
    assert p0.origin[2] == pytest.approx(0.1) and p1.origin[2] == pytest.approx(0.102)
    assert p2.origin[2] == pytest.approx(0.16) and p3.origin[2] == pytest.approx(0.15)


def test_crystfel_lab_region_on_one_panel_and_per_panel_layouts(tmp_path):
    path = tmp_path / "four.geom"
    path.write_text(FOUR.replace("dim0 = %\ndim1 = ss\ndim2 = fs\n", "") + "".join(
        f"p{i}/dim0 = %\np{i}/dim1 = ss\np{i}/dim2 = fs\n" for i in range(4))
        + "badA/min_x = -1000\nbadA/max_x = 1000\nbadA/min_y = -1000\nbadA/max_y = 1000\nbadA/panel = p1\n")
    df = read_crystfel_geometry(str(path))
    assert df.layout == ("%", "ss", "fs") and not df.layout_problem
    assert [bool(p.bad) for p in df.panels] == [False, True, False, False]
    path.write_text(FOUR.replace("dim0 = %\ndim1 = ss\ndim2 = fs\n", "") + "p0/dim0 = 0\np0/dim1 = ss\np0/dim2 = fs\n")
    assert "different data layouts" in read_crystfel_geometry(str(path)).layout_problem


def expt(panels, hierarchy=None, crystal=True, scan=True):
    """A small DIALS experiment list."""
    detector = {"panels": panels}
    if hierarchy:
        detector["hierarchy"] = hierarchy
    data = {"__id__": "ExperimentList",
            "experiment": [{"__id__": "Experiment", "beam": 0, "detector": 0, "goniometer": 0,
                            **({"crystal": 0} if crystal else {}), **({"scan": 0} if scan else {})}],
            "beam": [{"direction": [0.0, 0.0, 1.0], "wavelength": 0.9795}],
            "detector": [detector],
            "goniometer": [{"rotation_axis": [1.0, 0.0, 0.0]}],
            "crystal": [{"__id__": "crystal", "real_space_a": [40.0, 0.0, 0.0], "real_space_b": [0.0, 50.0, 0.0],
                         "real_space_c": [0.0, 0.0, 60.0]}],
            "scan": [{"image_range": [1, 10], "oscillation": [5.0, 0.5]}]}
    return json.dumps(data)


def dials_panel(origin, fast=(1, 0, 0), slow=(0, -1, 0), size=(40, 32), name="m"):
    return {"name": name, "type": "SENSOR_PAD", "fast_axis": list(fast), "slow_axis": list(slow),
            "origin": list(origin), "pixel_size": [0.1, 0.1], "image_size": list(size), "thickness": 0.45,
            "mu": 3.96}


def test_dials_reader_with_a_hierarchy(tmp_path):
    panels = [dials_panel((-2.0, 1.6, 0.0), name="a"), dials_panel((2.5, 1.6, 0.0), name="b")]
    group = {"name": "G", "origin": [0.0, 0.0, -100.0], "fast_axis": [0.0, 1.0, 0.0], "slow_axis": [-1.0, 0.0, 0.0],
             "children": [{"panel": 0}, {"panel": 1}]}
    (tmp_path / "two.expt").write_text(expt(panels, group))
    df = read_dials_experiments(str(tmp_path / "two.expt"))
    a, b = df.panels
    # the group turns its panels' local x into the lab's y, local y into -x
    assert a.origin == pytest.approx((-1.6e-3, -2.0e-3, -0.1)) and a.fast == pytest.approx((0, 1, 0))
    assert a.slow == pytest.approx((1, 0, 0)) and b.origin == pytest.approx((-1.6e-3, 2.5e-3, -0.1))
    assert df.beam == (-0.0, -0.0, -1.0) and df.wavelength == 0.9795
    assert df.reciprocal[0] == pytest.approx((1 / 40, 0, 0)) and df.spindle == (1.0, 0.0, 0.0)
    assert (df.phi0, df.osc) == (5.0, 0.5) and a.thickness == pytest.approx(0.45e-3) and a.mu == pytest.approx(3960)


def test_frames_agree_with_nanobraggs_own():
    """CrystFEL's and DIALS' beams are nanoBragg's +x; DIALS' map is the inverse of the
    dials_origin nanoBragg prints."""
    assert to_nanobragg("crystfel", (0.0, 0.0, 1.0)) == (1.0, 0.0, 0.0)
    assert to_nanobragg("dials", (0.0, 0.0, -1.0)) == (1.0, 0.0, 0.0)
    setup = nbgpu.simulate("-default_F 1 -cell 40 40 40 90 90 90 -detpixels 8 -Xbeam 1 -Ybeam 2 -dials -nopgm "
                           "-nonoise", write_files=False).setup
    d = setup.detector
    assert to_nanobragg("dials", tuple(x / 1000 for x in d.dials_origin)) == pytest.approx(d.pix0, abs=1e-15)


def multi_and_singles(args, tmp_path):
    result = nbgpu.simulate(args, write_files=False)
    singles = [nbgpu.simulate(equivalent_argv(result.setup, i, tmp_path / f"A{i}.mat"), write_files=False)
               for i in range(result.setup.panels.count)]
    return result, singles


def test_every_panel_is_its_single_panel_run_bit_for_bit(tmp_path):
    """Four rotated and tilted panels (one smaller) rendered in one call; each panel's pixels are
    those of the single-panel run of its equivalent argv, with each panel's own first phi sweep
    and interpolation switch-off."""
    write(tmp_path / "four.geom", FOUR)
    hkl = small_hkl(tmp_path / "small.hkl")
    args = ["-geom", str(tmp_path / "four.geom"), "-hkl", hkl, "-interpolate", "-phi", "5", "-osc", "1",
            "-phisteps", "2", "-mosaic", "0.5", "-mosaic_dom", "2", "-dump", str(tmp_path / "F.bin")] + CRYSTAL
    result, singles = multi_and_singles(args, tmp_path)
    panels = result.panels
    assert panels.shape == (4, 48, 64)
    assert sum(one.rendered.interpolate_off_at >= 0 for one in singles) >= 2   # the state is exercised
    for i, ((fpixels, spixels), one) in enumerate(zip(result.setup.panels.sizes, singles)):
        assert same_bits(panels[i][:spixels, :fpixels], one.image), i
        assert not panels[i][spixels:].any() and not panels[i][:, fpixels:].any()
    assert len({float(p.max()) for p in panels}) == 4     # four different views


def test_bad_regions_are_not_rendered(tmp_path):
    """A bad region (data fs 69..73 of p1, which starts at data fs 64) is 0; the rest is as
    without it (no interpolation, no phi carry-over: nothing depends on the pixels skipped)."""
    bad = "badbox/min_fs = 69\nbadbox/max_fs = 73\nbadbox/min_ss = 10\nbadbox/max_ss = 20\nbadbox/panel = p1\n"
    write(tmp_path / "four.geom", FOUR)
    write(tmp_path / "bad.geom", FOUR + bad)
    plain, masked = (nbgpu.simulate(["-geom", str(tmp_path / name), "-default_F", "100"] + CRYSTAL,
                                    write_files=False).panels for name in ("four.geom", "bad.geom"))
    region = np.zeros(plain.shape, bool)
    region[1, 10:21, 5:10] = True
    assert not masked[region].any() and plain[region].all()
    assert same_bits(masked[~region], plain[~region])


def test_one_panel_geom_is_the_plain_command(tmp_path):
    """A one-panel .geom placed as a plain nanoBragg command places it (sample pivot, custom
    vectors): the same image, bit for bit."""
    write(tmp_path / "one.geom", "photon_energy = 8000\nres = 8000\nclen = 0.125\n"
          + PANEL.format(name="q", f0=0, f1=39, s0=0, s1=29, cx=32, cy=16, fs="-x", ss="-y"))
    geom = nbgpu.simulate(["-geom", str(tmp_path / "one.geom"), "-default_F", "100"] + CRYSTAL, write_files=False)
    plain = nbgpu.simulate(["-fdet_vector", "0", "0", "1", "-sdet_vector", "0", "-1", "0", "-odet_vector", "1", "0",
                            "0", "-beam_vector", "1", "0", "0", "-pivot", "sample", "-Xclose", "4",
                            "-Yclose", "2", "-close_distance", "125", "-pixel", "0.125", "-detpixels_f", "40",
                            "-detpixels_s", "30", "-energy", "8000", "-default_F", "100"] + CRYSTAL,
                           write_files=False)
    assert geom.setup.panels.count == 1 and same_bits(geom.image, plain.image) and plain.image.max() > 0


def test_one_panel_expt_is_the_plain_command(tmp_path):
    """A one-panel .expt with its beam, crystal, goniometer and scan: the plain command with the
    same vectors, wavelength, spindle, oscillation and -mat matrix."""
    (tmp_path / "one.expt").write_text(expt([dials_panel((-2.0, 1.5, -100.0), size=(40, 30))]))
    result = nbgpu.simulate(["-expt", str(tmp_path / "one.expt"), "-default_F", "100", "-N", "5"], write_files=False)
    setup = result.setup
    matrix = setup.panels.matrix
    (tmp_path / "A.mat").write_text("\n".join(" ".join(repr(x) for x in matrix[3 * r:3 * r + 3]) for r in range(3)))
    plain = nbgpu.simulate(["-fdet_vector", "0.0", "0.0", "1.0", "-sdet_vector", "0.0", "-1.0", "0.0",
                            "-odet_vector", "1.0", "0.0", "0.0", "-beam_vector", "1.0", "0.0", "0.0",
                            "-pivot", "sample", "-Xclose", "2", "-Yclose", "1.5", "-close_distance", "100",
                            "-pixel", "0.1", "-detpixels_f", "40", "-detpixels_s", "30", "-lambda", "0.9795",
                            "-spindle_axis", "0", "0", "1", "-phi", "5", "-osc", "0.5",
                            "-detector_thick", "450", "-detector_abs", repr(1e6 / 3960.0000000000005),
                            "-mat", str(tmp_path / "A.mat"), "-default_F", "100", "-N", "5"], write_files=False)
    assert setup.flags.lambda0 == plain.setup.flags.lambda0 and setup.sampling.phisteps == plain.setup.sampling.phisteps
    assert same_bits(result.image, plain.image) and plain.image.max() > 0
    # the crystal is DIALS': a along DIALS x, which is nanoBragg's z
    assert setup.crystal.lattice.a0 == pytest.approx((0, 0, 40e-10))


def test_flags_override_the_file(tmp_path):
    write(tmp_path / "four.geom", FOUR)
    setup = nbgpu.simulate(["-geom", str(tmp_path / "four.geom"), "-default_F", "1", "-lambda", "1.5"] + CRYSTAL,
                           write_files=False).setup
    assert setup.flags.lambda0 == 1.5e-10


def test_cli_writes_one_float_file_per_panel(tmp_path):
    write(tmp_path / "four.geom", FOUR)
    args = ["-geom", "four.geom", "-default_F", "100", "-floatfile", "img.bin"] + CRYSTAL
    result = run_cli(args, tmp_path)
    assert result.returncode == 0, result.stderr
    names = sorted(f for f in os.listdir(tmp_path) if f.startswith("img"))
    assert names == ["img_0.bin", "img_1.bin", "img_2.bin", "img_3.bin"]
    panels = nbgpu.simulate(["-geom", str(tmp_path / "four.geom"), "-default_F", "100"] + CRYSTAL,
                            write_files=False).panels
    last = np.fromfile(tmp_path / "img_3.bin", dtype=np.float32)
    assert same_bits(last.reshape(40, 56), panels[3][:40, :56])
    assert "writing img_0.bin as 3072 4-byte floats" in result.stdout
    assert not (tmp_path / "intimage.img").exists()


BAD = {
    "overlap": ("x.geom", FOUR.replace("p1/min_fs = 64", "p1/min_fs = 60"), "p0, p1: panels overlap"),
    "missing key": ("x.geom", FOUR.replace("p2/corner_y = -8\n", ""), "p2/corner_y: missing"),
    "layout": ("x.geom", FOUR.replace("dim2 = fs", "dim2 = ss"), "dim: the layout must name fs once"),
    "bad vector": ("x.geom", FOUR.replace("p1/ss = -0.1736x -0.9848y", "p1/ss = -0.17q"), "p1/ss: expected a vector"),
    "no detector": ("x.expt", json.dumps({"experiment": [{"beam": 0}], "beam": [{"direction": [0, 0, 1],
                                                                               "wavelength": 1}]}),
                    "detector: the experiment has no detector"),
    "malformed": ("x.expt", '{"experiment": [', "not a JSON experiment list"),
    "panel key": ("x.expt", expt([{"origin": [0, 0, -100], "fast_axis": [1, 0, 0], "slow_axis": [0, -1, 0],
                                   "pixel_size": [0.1, 0.1]}]), "detector/panels[0]/image_size: missing"),
}
BAD.update({
    "energy from data": ("x.geom", FOUR.replace("photon_energy = 12000", "photon_energy = /LCLS/photon_energy_eV"),
                         "photon_energy: '/LCLS/photon_energy_eV': a value read from the data file"),
    "energy unit": ("x.geom", FOUR.replace("photon_energy = 12000", "photon_energy = 12 MeV"),
                    "photon_energy: '12 MeV': unknown unit"),
    "shift": ("x.geom", FOUR + "detector_shift_x = 0.01\n", "detector_shift_x: not supported"),
    "no_index": ("x.geom", FOUR + "p1/no_index = 1\n", "p1/no_index: panels left out"),
    "long fs": ("x.geom", FOUR.replace("p0/fs = +1.0x +0.0y", "p0/fs = +2.0x"), "p0/fs: '+2.0x' is not of length 1"),
    "inverted fs": ("x.geom", FOUR + "badA/min_fs = 10\nbadA/max_fs = 5\nbadA/min_ss = 0\nbadA/max_ss = 3\n",
                    "badA/min_fs: 10 > max_fs 5"),
    "inverted x": ("x.geom", FOUR + "badA/min_x = 10\nbadA/max_x = 20\nbadA/min_y = 10\nbadA/max_y = -10\n",
                   "badA/min_y: 10 > max_y -10"),
    "global clen": ("x.geom", FOUR.replace("clen = 0.1", "clen = 0.1 furlong"), "clen: '0.1 furlong': unknown unit"),
})
GONIOMETERS = {
    "fixed rotation": ({"rotation_axis": [1, 0, 0], "fixed_rotation": [0, -1, 0, 1, 0, 0, 0, 0, 1]},
                       "goniometer/fixed_rotation: a goniometer rotation"),
    "setting rotation": ({"rotation_axis": [1, 0, 0], "setting_rotation": [0, -1, 0, 1, 0, 0, 0, 0, 1]},
                         "goniometer/setting_rotation: a goniometer rotation"),
    "multi-axis": ({"axes": [[1, 0, 0], [0.914, 0.279, -0.297], [1, 0, 0]], "angles": [0, 0, 0], "scan_axis": 2},
                   "goniometer/axes: multi-axis"),
}
_HIERARCHY = {"origin": [0, 0, -100], "children": [{"panel": 0}]}
MALFORMED = {
    "thickness": ([dict(dials_panel((-2, 1.6, 0)), thickness="x")], _HIERARCHY,
                  "detector/panels[0]/thickness: expected a finite number"),
    "children": ([dials_panel((-2, 1.6, 0))], {"children": "oops"}, "detector/hierarchy/children: not a list"),
    "child panel": ([dials_panel((-2, 1.6, 0))], {"children": [{"panel": 7}]},
                    "detector/hierarchy/children[0]/panel: 7: the detector has panels 0 to 0"),
}
for _name, (_panels, _hierarchy, _expected) in MALFORMED.items():
    BAD[_name] = ("x.expt", expt(_panels, _hierarchy), _expected)
for _name, (_gonio, _expected) in GONIOMETERS.items():
    _data = json.loads(expt([dials_panel((-2, 1.6, -100))]))
    _data["goniometer"] = [_gonio]
    BAD[_name] = ("x.expt", json.dumps(_data), _expected)


@pytest.mark.parametrize("name", BAD)
def test_bad_detector_files_give_one_line(name, tmp_path):
    filename, content, expected = BAD[name]
    write(tmp_path / filename, content)
    flag = "-geom" if filename.endswith(".geom") else "-expt"
    result = run_cli([flag, filename, "-default_F", "1"] + CRYSTAL, tmp_path)
    assert result.returncode == 9, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("nbgpu: error:")]
    assert len(errors) == 1 and f"{flag} {filename}" in errors[0] and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not [f for f in OUTPUTS if (tmp_path / f).exists()] and not any(f.endswith(".bin") for f in os.listdir(tmp_path))


@pytest.mark.parametrize("typed", [["-distance", "100"], ["-detsize", "102.4"], ["-detector_rotx", "0"],
                                   ["-twotheta", "5"]])
def test_placement_flags_are_refused_whatever_their_value(typed, tmp_path):
    """nanoBragg's default values too: the typed word is refused, and named."""
    write(tmp_path / "four.geom", FOUR)
    with pytest.raises(InputError, match=f"^{typed[0]} with -geom"):
        nbgpu.simulate(["-geom", str(tmp_path / "four.geom"), "-default_F", "1"] + typed + CRYSTAL, write_files=False)


def test_single_panel_placement_flags_are_refused(tmp_path):
    write(tmp_path / "four.geom", FOUR)
    with pytest.raises(InputError, match="-distance with -geom"):
        nbgpu.simulate(["-geom", str(tmp_path / "four.geom"), "-default_F", "1", "-distance", "50"] + CRYSTAL,
                       write_files=False)
    with pytest.raises(InputError, match="-cbffile with -geom"):
        nbgpu.simulate(["-geom", str(tmp_path / "four.geom"), "-default_F", "1", "-cbffile", "a.cbf"] + CRYSTAL,
                       write_files=False)


def test_a_model_s_fcalc_reaches_the_farthest_panel(tmp_path):
    """-hkl MODEL with a detector file: the Fcalc's resolution covers every panel, not only
    panel 0 (whose geometry the stacked detector record carries)."""
    gemmi = pytest.importorskip("gemmi")
    from nbgpu.setup.prepare import prepare
    from nbgpu.setup.resolution import fcalc_request
    st = gemmi.Structure()
    st.cell, st.spacegroup_hm = gemmi.UnitCell(40, 50, 60, 90, 90, 90), "P 1"
    model, chain, residue, atom = gemmi.Model("1"), gemmi.Chain("A"), gemmi.Residue(), gemmi.Atom()
    residue.name, residue.seqid = "HOH", gemmi.SeqId(1, " ")
    atom.name, atom.element, atom.pos, atom.b_iso = "O", gemmi.Element("O"), gemmi.Position(1, 2, 3), 20
    residue.add_atom(atom)
    chain.add_residue(residue)
    model.add_chain(chain)
    st.add_model(model)
    st.write_pdb(str(tmp_path / "m.pdb"))
    # p0 near the beam, p1 far out: the stacked record's geometry is p0's
    geom = HEADER + PANEL.format(name="p0", f0=0, f1=31, s0=0, s1=31, cx=-16, cy=-16, fs="+1.0x", ss="+1.0y") \
        + PANEL.format(name="p1", f0=32, f1=63, s0=0, s1=31, cx=600, cy=-16, fs="+1.0x", ss="+1.0y")
    write(tmp_path / "two.geom", geom)
    s = prepare(["-geom", str(tmp_path / "two.geom"), "-hkl", str(tmp_path / "m.pdb"), "-N", "2", "-nonoise"])
    panel_0 = fcalc_request(s.flags, s.panels.detectors[:1], s.beam, s.crystal.lattice, (40, 50, 60, 90, 90, 90))
    both = fcalc_request(s.flags, s.panels.detectors, s.beam, s.crystal.lattice, (40, 50, 60, 90, 90, 90))
    assert both.dmin < 0.8 * panel_0.dmin
    assert f"to {both.dmin:g} A:" in "".join(line for line in s.told.lines if isinstance(line, str))


@pytest.mark.parametrize("outputs", [["-floatfile", "q.bin", "-pngfile", "q_0.bin"],
                                     ["-floatfile", "q.h5", "-nexusfile", "q_3.h5"]])
def test_one_run_s_outputs_are_distinct_files(outputs, tmp_path):
    write(tmp_path / "four.geom", FOUR)
    result = run_cli(["-geom", "four.geom", "-default_F", "1"] + CRYSTAL + outputs, tmp_path)
    assert result.returncode == 9 and "also written by -floatfile q_" in result.stderr, result.stderr
    assert os.listdir(tmp_path) == ["four.geom"]
    single = run_cli(["-default_F", "1", "-detpixels", "8", "-floatfile", "s.bin", "-intfile", "s.bin"] + CRYSTAL,
                     tmp_path)
    assert single.returncode == 9 and "-intfile s.bin: also written by -floatfile s.bin" in single.stderr
    assert os.listdir(tmp_path) == ["four.geom"]


def test_batch_lines_do_not_write_one_panel_s_file(tmp_path):
    write(tmp_path / "four.geom", FOUR)
    line = " ".join(["-default_F", "1"] + CRYSTAL)
    write(tmp_path / "jobs.txt", f"-geom four.geom {line} -floatfile a.bin\n-detpixels 8 {line} -floatfile a_1.bin\n")
    result = run_cli(["batch", "jobs.txt"], tmp_path)
    assert result.returncode == 9 and "jobs.txt:2: -floatfile a_1.bin is also written by line 1" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["four.geom", "jobs.txt"]


def test_an_unknown_geom_key_is_warned_about_and_left_out(tmp_path):
    """CrystFEL refuses a key it does not know; nbgpu renders without it and says so on the log
    (a typo, or a newer CrystFEL's key), and takes CrystFEL's mask keys (maskN_data...) silently."""
    write(tmp_path / "x.geom", FOUR + "p0/coffest = 0.05\nmask0_data = /data/mask\nmask0_goodbits = 0\n")
    write(tmp_path / "y.geom", FOUR)
    warned = run_cli(["-geom", "x.geom", "-default_F", "1", "-floatfile", "x.bin"] + CRYSTAL, tmp_path)
    plain = run_cli(["-geom", "y.geom", "-default_F", "1", "-floatfile", "y.bin"] + CRYSTAL, tmp_path)
    assert warned.returncode == 0 and plain.returncode == 0, warned.stderr
    lines = [line for line in warned.stdout.splitlines() if line.startswith("WARNING:")]
    assert lines == [f"WARNING: -geom x.geom: line {FOUR.count(chr(10)) + 1}: p0/coffest: not a key nbgpu knows, "
                     "ignored"], lines
    for i in range(4):
        assert (tmp_path / f"x_{i}.bin").read_bytes() == (tmp_path / f"y_{i}.bin").read_bytes()

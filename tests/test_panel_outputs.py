"""The files of multi-panel detectors (issue 22 items 3-5): NXmx with one module per panel read
back by DIALS' nxmx, the HDF5 image in a .geom's data layout, per-panel SMV files, the picture
(-pngfile), batch --nexus, and the example geometries of docs/examples."""
import io
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import nbgpu
from helpers import run_cli
from nbgpu.base.errors import InputError
from nbgpu.io.crystfel import read_crystfel_geometry
from nbgpu.io.dials import read_dials_experiments
from nbgpu.io.picture import BACKGROUND, MARGIN, RING, pillow
from nbgpu.setup.panels import equivalent_argv
from test_panels import CRYSTAL, FOUR

h5py = pytest.importorskip("h5py")
Image = pytest.importorskip("PIL.Image")
EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
FAST = ["-default_F", "100", "-N", "2", "-oversample", "1", "-nonoise"]


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "four.geom").write_text(FOUR)
    return tmp_path


def to_file_frame(frame, v):
    """A McStas vector in the detector file's frame: CrystFEL's is McStas' (+z along the beam,
    +y up, right-handed); dxtbx's is McStas turned 180 degrees about y."""
    x, y, z = v
    return (x, y, z) if frame == "crystfel" else (-x, y, -z)


def nxmx_panels(path):
    """(origin, fast, slow, pixel size, data origin, data size) of each module, by nxmx."""
    nxmx = pytest.importorskip("nxmx")
    with h5py.File(path) as f:
        detector = nxmx.NXmx(f).entries[0].instruments[0].detectors[0]
        out = []
        for module in detector.modules:
            chain = nxmx.get_dependency_chain(module.module_offset)
            corner = nxmx.get_cumulative_transformation(chain)[0][:3, 3] / 1000.0       # mm -> m
            fast, slow = (module.fast_pixel_direction, module.slow_pixel_direction)
            out.append((corner, np.asarray(fast.vector), np.asarray(slow.vector),
                        fast[()].to("m").magnitude[0], tuple(module.data_origin), tuple(module.data_size)))
        fields = {k: k in f["/entry/instrument/detector"] for k in ("distance", "beam_center_x")}
    return out, fields


@pytest.mark.parametrize("kind", ["geom", "expt"])
def test_nxmx_gives_back_every_panel_as_the_file_had_it(work, kind):
    if kind == "geom":
        args, described = ["-geom", "four.geom"], read_crystfel_geometry("four.geom")
    else:
        path = str(EXAMPLES / "four_panels.expt")
        args, described = ["-expt", path], read_dials_experiments(path)
    result = nbgpu.simulate(args + FAST + CRYSTAL[:7] + ["-nexusfile", "d.nxs"], write_files=True)
    modules, fields = nxmx_panels("d.nxs")
    assert len(modules) == len(described.panels) >= 4
    assert fields == {"distance": False, "beam_center_x": False}     # no one plane for them
    ints = np.asarray(h5py.File("d.nxs")["/entry/data/data"][0])
    for (corner, fast, slow, pixel, origin, size), spec, image in zip(modules, described.panels, result.panels):
        assert np.allclose(to_file_frame(described.frame, corner), spec.origin, rtol=0, atol=1e-9)   # 1e-6 mm
        assert np.allclose(to_file_frame(described.frame, fast), spec.fast, rtol=0, atol=1e-12)
        assert np.allclose(to_file_frame(described.frame, slow), spec.slow, rtol=0, atol=1e-12)
        assert pixel == pytest.approx(spec.pixel_size, rel=1e-12)
        assert size == (spec.spixels, spec.fpixels)
        block = ints[origin[0]:origin[0] + size[0], origin[1]:origin[1] + size[1]]
        assert np.array_equal(block, result.int_image()[origin[0]:origin[0] + size[0], origin[1]:origin[1] + size[1]])
        assert block.max() > 40                                        # not the ADC offset alone


def test_nxmx_of_panels_validates(work):
    from test_cbf_nexus import punx_findings
    nbgpu.simulate(["-geom", "four.geom", "-nexusfile", "d.nxs"] + FAST + CRYSTAL[:7], write_files=True)
    assert punx_findings("d.nxs") == []


def test_layout_file_puts_each_panel_where_the_geom_says(work):
    result = nbgpu.simulate(["-geom", "four.geom", "-layoutfile", "l.h5"] + FAST + CRYSTAL, write_files=True)
    described = read_crystfel_geometry("four.geom")
    with h5py.File("l.h5") as f:
        block = f["/data/data"][()]
    assert described.layout == ("%", "ss", "fs") and block.shape == (1, 96, 128) and block.dtype == np.float32
    covered = np.zeros(block.shape[1:], dtype=bool)
    for spec, image in zip(described.panels, result.panels):
        s0, f0 = spec.data_origin
        assert (spec.adu_per_photon, image.shape[1]) == (12.0, 64)
        region = block[0, s0:s0 + spec.spixels, f0:f0 + spec.fpixels]
        assert np.array_equal(region, image[:spec.spixels, :spec.fpixels] * np.float32(12.0))
        covered[s0:s0 + spec.spixels, f0:f0 + spec.fpixels] = True
    assert not block[0][~covered].any() and (~covered).sum() == 64 * 48 - 56 * 40   # p3 is smaller


@pytest.mark.parametrize("args,message", [
    (["-detpixels", "16", "-layoutfile", "l.h5"], "-layoutfile: the data layout is a CrystFEL geometry file's"),
    (["-expt", str(EXAMPLES / "four_panels.expt"), "-layoutfile", "l.h5"], "a DIALS .expt has none"),
])
def test_layout_file_without_a_geom_is_refused(work, args, message):
    done = run_cli(args + ["-default_F", "1"] + CRYSTAL, work)
    assert done.returncode != 0 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (work / "l.h5").exists() and not list(work.glob("floatimage*"))


def test_smv_per_panel_only_when_asked_with_the_panels_own_header(work):
    args = ["-geom", "four.geom", "-default_F", "100", "-oversample", "1", "-noisefile", "n.img"] + CRYSTAL
    done = run_cli(args + ["-intfile", "i.img"], work)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in work.glob("i_*.img")) == ["i_0.img", "i_1.img", "i_2.img", "i_3.img"]
    assert len(list(work.glob("n_*.img"))) == 4 and not list(work.glob("intimage*"))
    setup = nbgpu.simulate(args, write_files=False).setup
    single = run_cli(equivalent_argv(setup, 3) + ["-intfile", "one.img", "-nonoise", "-nopgm"], work)
    assert single.returncode == 0, single.stderr
    ours, theirs = (work / "i_3.img").read_bytes(), (work / "one.img").read_bytes()
    assert ours[:512] == theirs[:512] and b"SIZE1=56;" in ours[:512] and len(ours) == 512 + 2 * 56 * 40
    (work / "plain").mkdir()
    done = run_cli(["-geom", "../four.geom", "-default_F", "100", "-oversample", "1", "-floatfile", "x.bin"] + CRYSTAL,
                   work / "plain")
    assert done.returncode == 0 and sorted(p.name for p in (work / "plain").iterdir()) == [
        "x_0.bin", "x_1.bin", "x_2.bin", "x_3.bin"]


def picture(path):
    image = Image.open(path)
    image.load()
    return image.convert("RGB"), np.asarray(image.convert("RGB"))


def test_picture_of_one_panel_draws_rings_where_they_must_be(work):
    # 200 x 200 pixels of 0.1 mm, 100 mm away, 1 A: native scale, 0.1 mm/pixel; the beam in the
    # middle (MOSFLM's beam centre is half a pixel from where the beam meets the detector)
    args = ["-detpixels", "200", "-pixel", "0.1", "-distance", "100", "-lambda", "1", "-Xbeam", "9.95",
            "-Ybeam", "9.95", "-pngfile", "p.png"]
    done = run_cli(args + ["-default_F", "100", "-N", "3", "-oversample", "1", "-nonoise"] + CRYSTAL[:7], work)
    assert done.returncode == 0, done.stderr
    image, rgb = picture(work / "p.png")
    assert image.size == (200 + 2 * MARGIN, 200 + 2 * MARGIN)
    assert tuple(rgb[2, 2]) == BACKGROUND and tuple(rgb[MARGIN + 100, MARGIN + 2]) != BACKGROUND
    # where the rings must be: d of two significant figures nearest k/4 of the corner's radius
    reach, centre = math.hypot(10.0, 10.0), MARGIN + 100       # mm; the beam at picture pixel 140
    row = [tuple(p) == RING for p in rgb[centre]]
    found = [i - centre for i in range(centre, len(row)) if row[i]]
    expected = []
    for k in (1, 2, 3, 4):
        d = float(f"{1.0 / (2 * math.sin(math.atan(k / 4 * reach / 100.0) / 2)):.2g}")
        radius = 100.0 * math.tan(2 * math.asin(1.0 / (2 * d))) / 0.1
        if radius < 100 + MARGIN:
            expected.append(radius)
    assert len(expected) >= 3
    for radius in expected:
        assert any(abs(x + 0.5 - radius) <= 0.5 for x in found), (radius, found)
    assert all(any(abs(x + 0.5 - r) <= 0.5 for r in expected) for x in found)


def test_picture_of_panels_shows_the_gaps(work):
    done = run_cli(["-expt", str(EXAMPLES / "four_panels.expt"), "-pngfile", "p.png"] + FAST, work)
    assert done.returncode == 0, done.stderr
    image, rgb = picture(work / "p.png")
    # 2 x 64 pixels of 0.172 mm and a 2 mm gap: 139.6 picture pixels, whole, at 120 mm
    assert image.size == (math.ceil((2 * 64 * 0.172 + 2.0) / 0.172) + 2 * MARGIN,) * 2
    middle = image.size[0] // 2
    assert tuple(rgb[middle, middle]) == BACKGROUND                      # the beam goes through the gap
    assert tuple(rgb[MARGIN + 30, middle]) == BACKGROUND                 # the gap between panels 0 and 1
    assert tuple(rgb[MARGIN + 30, MARGIN + 30]) != BACKGROUND            # panel 0


def test_picture_needs_pillow_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(InputError, match=r"^-pngfile: the picture needs Pillow: pip install 'nbgpu\[picture\]'$"):
        pillow("-pngfile")


def test_batch_stacks_multi_panel_frames(work):
    lines = [f"-geom four.geom -default_F 100 -N 2 -oversample 1 -nonoise {' '.join(CRYSTAL[:7])} -phi {n} "
             f"-osc 1 -floatfile f{n}.bin -pngfile p{n}.png" for n in range(3)]
    (work / "jobs.txt").write_text("\n".join(lines) + "\n")
    done = run_cli(["batch", "jobs.txt", "--nexus", "sweep.h5"], work)
    assert done.returncode == 0, done.stderr
    modules, _ = nxmx_panels(work / "sweep.h5")
    with h5py.File(work / "sweep.h5") as f:
        assert f["/entry/data/data"].shape == (3, 4 * 48, 64)
        assert list(f["/entry/sample/transformations/phi"][()]) == [0.0, 1.0, 2.0]
    assert len(modules) == 4 and all((work / f"p{n}.png").exists() for n in range(3))


@pytest.mark.parametrize("name,panels,size", [("jungfrau4m.geom", 8, (1030, 514)),
                                              ("eiger2x16m.geom", 32, (1030, 514)),
                                              ("cspad.geom", 64, (194, 185))])
def test_example_geometries_render_and_read_back(work, name, panels, size):
    described = read_crystfel_geometry(str(EXAMPLES / name))
    assert len(described.panels) == panels and {(p.fpixels, p.spixels) for p in described.panels} == {size}
    if name == "eiger2x16m.geom":          # the whole 16M takes too long here: its layout is checked
        from nbgpu.io.crystfel_data import datasets
        ((shape, *_),) = datasets(described).values()
        assert shape == (1, 4371, 4150)
        return
    args = ["-geom", str(EXAMPLES / name), "-cell", "200", "200", "200", "90", "90", "90", "-N", "1",
            "-default_F", "1", "-oversample", "1", "-nonoise", "-layoutfile", "l.h5", "-nexusfile", "d.nxs"]
    result = nbgpu.simulate(args, write_files=True)
    assert result.panels.shape == (panels, size[1], size[0]) and result.panels.min() > 0
    modules, _ = nxmx_panels("d.nxs")
    for (corner, *_), spec in zip(modules, described.panels):
        assert np.allclose(corner, spec.origin, rtol=0, atol=1e-9)
    with h5py.File("l.h5") as f:
        data = f[described.panels[0].data][()]
    for spec, image in zip(described.panels, result.panels):
        s0, f0 = spec.data_origin
        assert np.array_equal(data[0, s0:s0 + spec.spixels, f0:f0 + spec.fpixels] if data.ndim == 3 else
                              data[s0:s0 + spec.spixels, f0:f0 + spec.fpixels], image)


def test_a_picture_of_nothing_is_refused_before_rendering(tmp_path):
    """Every panel upstream of the sample: -pngfile is refused before the render (no statistics
    printed), not after it."""
    (tmp_path / "behind.geom").write_text(FOUR.replace("clen = 0.1", "clen = -0.1").replace("p2/clen = 0.11",
                                                                                             "p2/clen = -0.11"))
    result = run_cli(["-geom", "behind.geom", "-pngfile", "p.png"] + FAST + CRYSTAL, tmp_path)
    assert result.returncode == 9 and "-pngfile: no panel faces the sample downstream" in result.stderr
    assert "max_I" not in result.stdout and sorted(os.listdir(tmp_path)) == ["behind.geom"]

"""What CBF and NXmx files say of the detector is where the image was rendered (issue 22's first
part): the NXmx beam centre and distance agree with its depends_on chain, a miniCBF is written
only where a Pilatus header describes the detector exactly and full imgCIF (read back with CBFlib's
pycbf) otherwise, a curved detector is refused, and the polarization is the fraction readers
expect.  Every expectation is computed here from the file and from the run's rendered vectors
(pix0, fdet, sdet, beam, spindle), independently of nbgpu's writers."""
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nbgpu
from helpers import run_cli
from nbgpu.base.errors import InputError

h5py = pytest.importorskip("h5py")
fabio = pytest.importorskip("fabio")

BASE = "-mat A.mat -hkl p1_small.hkl -N 2 -oversample 1 -detpixels 24 -pixel 0.4 -distance 100 -nonoise -noprogress"
FACE_ON = "-fdet_vector 1 0 0 -sdet_vector 0 1 0 -odet_vector 0 0 1 -beam_vector 0 0 1 -spindle_axis 1 0 0 -polar_vector 1 0 0 -Xbeam 5 -Ybeam 4"
# flags -> whether a Pilatus header can describe the detector (the rule in docs/usage.md)
GEOMETRIES = {
    "-mosflm": True,
    "-mosflm -Xbeam 4.1 -Ybeam 5.3 -phi 3 -osc 0.5": True,
    "-denzo -Xbeam 4.4 -Ybeam 5.0": True,
    "-xds -ORGX 10.5 -ORGY 12.25": True,
    "-xds -Xbeam 3 -Ybeam 7 -polar 0.8": True,
    FACE_ON: True,
    FACE_ON + " -polar 0.9": True,
    FACE_ON + " -polar_vector 0 1 0": True,                    # unpolarized: E's direction is moot
    FACE_ON + " -polar_vector 0 1 0 -polar 0.9": False,        # E along slow
    FACE_ON + " -spindle_axis -1 0 0": False,                  # the rotation reversed
    FACE_ON + " -sdet_vector 0 -1 0": False,                   # fast x slow back at the sample
    FACE_ON + " -sdet_vector 0.2 1 0": False,                  # skewed pixels
    "-adxv -Xbeam 5 -Ybeam 4": False,                          # a mirror image for Pilatus readers
    "-dials -Xbeam 3.7 -Ybeam 6.1": False,                     # the spindle along slow
    "-twotheta 20": False,
    "-mosflm -twotheta 20 -Xbeam 4 -Ybeam 5": False,
    "-xds -twotheta 15 -ORGX 8 -ORGY 14": False,
    "-detector_rotx 3 -detector_roty -4 -detector_rotz 10 -Xbeam 4 -Ybeam 5": False,
    "-dials -detector_rotx 5 -detector_rotz 30": False,
    FACE_ON + " -twotheta 12 -pivot sample": False,
    FACE_ON + " -detector_roty 8 -pivot beam -phi 2 -osc 1": False,
    "-fdet_vector 0.99 0.1 0 -sdet_vector -0.1 0.99 0.05 -odet_vector 0.005 -0.05 0.99 -beam_vector 0 0 1 "
    "-spindle_axis 0.8 0.6 0 -polar_vector 1 0 0 -Xbeam 5 -Ybeam 4 -polar 0.5": False,
}
PX, MM = 0.5, 1e-4          # the acceptance: fields within half a pixel and 0.1 mm of the chain


def hit(beam, corner, fast, slow, pixel_size):
    """(distance along the beam, fast and slow pixels) where the beam meets corner + F fast + S slow."""
    beam, corner, fast, slow = (np.asarray(v, dtype=float).ravel() for v in (beam, corner, fast, slow))
    normal = np.cross(fast, slow)
    along = (corner @ normal) / (beam @ normal)
    (f, s), *_ = np.linalg.lstsq(np.column_stack([fast, slow]), along * beam - corner, rcond=None)
    return along * np.linalg.norm(beam), f / pixel_size, s / pixel_size


def run_vectors(result):
    """The rendered geometry: beam, corner of pixel (0, 0), fast, slow, spindle."""
    d = result.detector
    return [result.beam.direction, d.pix0, d.fdet, d.sdet, result.crystal.spindle]


def assert_same_geometry(theirs, ours):
    """The same five vectors up to a rotation of the frame: equal dot products, same handedness."""
    theirs, ours = np.array(theirs, dtype=float), np.array(ours, dtype=float)
    gram_theirs, gram_ours = theirs @ theirs.T, ours @ ours.T
    units = [0, 2, 3, 4]
    assert np.allclose(gram_theirs[np.ix_(units, units)], gram_ours[np.ix_(units, units)], atol=1e-8)
    assert np.allclose(gram_theirs[1], gram_ours[1], atol=MM * 0.2)          # the corner, metres
    assert np.linalg.det(theirs[2:]) == pytest.approx(np.linalg.det(ours[2:]), abs=1e-8)


@pytest.mark.parametrize("flags", sorted(GEOMETRIES))
def test_nexus_fields_agree_with_the_chain(work, flags):
    nxmx = pytest.importorskip("nxmx")
    result = nbgpu.simulate(f"{BASE} {flags} -nexusfile run.h5", write_files=True)
    with h5py.File("run.h5") as f:
        module = nxmx.NXmx(f).entries[0].instruments[0].detectors[0].modules[0]
        corner = nxmx.get_cumulative_transformation(nxmx.get_dependency_chain(module.module_offset))[0][:3, 3] / 1e3
        fast, slow = (np.asarray(a.vector) for a in (module.fast_pixel_direction, module.slow_pixel_direction))
        pixel = float(np.ravel(module.fast_pixel_direction[()].to("m").magnitude)[0])
        spindle = np.asarray(nxmx.NXmx(f).entries[0].samples[0].depends_on.vector)
        detector = f["/entry/instrument/detector"]
        fields = (detector["distance"][()], detector["beam_center_x"][()], detector["beam_center_y"][()])
        assert detector["x_pixel_size"][()] == detector["y_pixel_size"][()] == pytest.approx(pixel, rel=1e-12)
    chain = hit((0.0, 0.0, 1.0), corner, fast, slow, pixel)
    assert fields[0] == pytest.approx(chain[0], abs=MM)
    assert fields[1:] == pytest.approx(chain[1:], abs=PX)
    assert_same_geometry([(0.0, 0.0, 1.0), corner, fast, slow, spindle], run_vectors(result))


def test_two_theta_fields_are_where_the_beam_meets_the_detector(work):
    """The issue's example: the beam hits pixel (257, 257) after 120 mm; the SMV header keeps
    nanoBragg's recomputed values (parity)."""
    nbgpu.simulate("-cell 30 30 30 90 90 90 -default_F 100 -N 5 -lambda 1 -detpixels 512 -pixel 0.172 "
                   "-distance 120 -twotheta 20 -nonoise -noprogress -nexusfile a.nxs -roi 0 1 0 1", write_files=True)
    with h5py.File("a.nxs") as f:
        detector = f["/entry/instrument/detector"]
        assert detector["distance"][()] == pytest.approx(0.120, abs=1e-9)
        assert detector["beam_center_x"][()] == pytest.approx(257.0, abs=1e-6)
        assert detector["beam_center_y"][()] == pytest.approx(257.0, abs=1e-6)
    smv = Path("intimage.img").read_bytes()[:512].decode("ascii", "replace")
    assert "DISTANCE=112.763" in smv and "BEAM_CENTER_Y=" in smv


def test_a_detector_the_beam_misses_has_no_beam_centre(work):
    """nanoBragg places this one behind the sample (odet is not fast x slow): the beam never meets
    it, so NXmx gets no beam centre or distance and the CBF is imgCIF, whose chain is still exact."""
    flags = FACE_ON.replace("-odet_vector 0 0 1 ", "") + " -detector_roty 8"
    result = nbgpu.simulate(f"{BASE} {flags} -nexusfile run.h5 -cbffile run.cbf", write_files=True)
    with h5py.File("run.h5") as f:
        assert not {"distance", "beam_center_x", "beam_center_y"} & set(f["/entry/instrument/detector"])
    assert "PILATUS" not in cbf_text("run.cbf")
    assert_same_geometry(imgcif_geometry("run.cbf")[0], run_vectors(result))


def test_nexus_values_carry_units(work):
    """Every number NXmx gives a unit has one; every transformation's offset has offset_units."""
    nbgpu.simulate(f"{BASE} -twotheta 10 -phi 2 -osc 0.5 -nexusfile run.h5", write_files=True)
    missing = []

    def visit(name, item):
        if not isinstance(item, h5py.Dataset) or name.endswith("data") or item.dtype.kind != "f":
            return
        if "units" not in item.attrs or ("offset" in item.attrs and "offset_units" not in item.attrs):
            missing.append(name)
    with h5py.File("run.h5") as f:
        f.visititems(visit)
        assert f["/entry/sample/transformations/phi"].attrs["offset_units"] == "m"
    assert missing == []


def cbf_text(path) -> str:
    return Path(path).read_bytes().split(b"--CIF-BINARY-FORMAT-SECTION--")[0].decode("ascii")


def pilatus_value(text, key) -> list:
    line = re.search(rf"^# {key} (.*)$", text, re.M).group(1)
    return [float(x) for x in re.findall(r"-?\d+\.?\d*(?:e[-+]?\d+)?", line)]


def pilatus_geometry(text):
    """The detector a Pilatus-header reader builds (dxtbx's rule): face-on, fast x slow along the
    beam, the rotation axis along fast, the beam at Beam_xy after Detector_distance."""
    pixel = pilatus_value(text, "Pixel_size")[0]
    distance = pilatus_value(text, "Detector_distance")[0]
    bx, by = pilatus_value(text, "Beam_xy")
    beam, fast, slow = np.array([0.0, 0, 1]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
    corner = distance * beam - bx * pixel * fast - by * pixel * slow
    return [beam, corner, fast, slow, fast], pixel


def imgcif_geometry(path):
    """The detector CBFlib (pycbf, as dxtbx uses it) builds from a full imgCIF file."""
    pycbf = pytest.importorskip("pycbf")
    handle = pycbf.cbf_handle_struct()
    handle.read_file(str(path).encode(), pycbf.MSG_DIGEST)
    detector = handle.construct_detector(0)
    centre = lambda slow, fast: np.array(detector.get_pixel_coordinates(slow, fast)) / 1e3
    p00 = centre(0, 0)
    fast, slow = centre(0, 1) - p00, centre(1, 0) - p00
    pixel = np.linalg.norm(fast)
    assert detector.get_inferred_pixel_size(1) == pytest.approx(pixel * 1e3)
    assert handle.get_axis_equipment(b"SOURCE") == b"source"
    source, spindle = (np.asarray(handle.get_axis_vector(axis)) for axis in (b"SOURCE", b"PHI"))
    fast, slow = fast / pixel, slow / pixel
    corner = p00 - pixel / 2 * (fast + slow)                           # CBFlib gives pixel centres
    return [-source, corner, fast, slow, spindle], pixel, handle


@pytest.mark.parametrize("flags", sorted(GEOMETRIES))
def test_cbf_geometry_is_the_rendered_one(work, flags):
    result = nbgpu.simulate(f"{BASE} {flags} -phi 2 -osc 0.5 -cbffile run.cbf", write_files=True)
    text = cbf_text("run.cbf")
    mini = "PILATUS_1.2" in text
    assert mini == GEOMETRIES[flags]
    assert all(len(line) <= 80 for line in text.split("\r\n"))
    if mini:
        assert "_axis." not in text
        vectors, pixel = pilatus_geometry(text)
        assert pilatus_value(text, "Start_angle") == [2.0] and pilatus_value(text, "Angle_increment") == [0.5]
        assert pilatus_value(text, "Detector_2theta") == [0.0]
    else:
        assert "header_convention" not in text           # no Pilatus reader takes it for a miniCBF
        vectors, pixel, handle = imgcif_geometry("run.cbf")
        goniometer = handle.construct_goniometer()
        assert goniometer.get_rotation_range() == pytest.approx([2.0, 0.5])
        assert goniometer.get_rotation_axis() == pytest.approx(list(vectors[4]))
        assert handle.get_wavelength() == pytest.approx(result.beam.lambda0 * 1e10)
    assert pixel == pytest.approx(result.detector.pixel_size, rel=1e-9)
    assert_same_geometry(vectors, run_vectors(result))
    assert np.array_equal(fabio.open("run.cbf").data, result.int_image())


def test_beam_centre_and_distance_of_a_minicbf_are_where_the_beam_meets_the_detector(work):
    result = nbgpu.simulate(f"{BASE} -xds -ORGX 10.5 -ORGY 12.25 -Xbeam 3 -Ybeam 5 -cbffile run.cbf",
                            write_files=True)
    text = cbf_text("run.cbf")
    d = result.detector
    distance, fast, slow = hit(result.beam.direction, d.pix0, d.fdet, d.sdet, d.pixel_size)
    assert pilatus_value(text, "Detector_distance")[0] == pytest.approx(distance, abs=1e-6)
    assert pilatus_value(text, "Beam_xy") == pytest.approx([fast, slow], abs=0.005)
    assert (fast, slow) == pytest.approx((10.0, 11.75))     # XDS pivots on the sample: ORGX/ORGY, face-on


def kahn(k, incident, diffracted, axis):
    """nanoBragg's polarization factor (its formula, re-derived here for the test)."""
    cos2 = incident @ diffracted
    b = np.cross(axis, incident)
    b /= np.linalg.norm(b)
    e = np.cross(incident, b)
    psi = -math.atan2(diffracted @ b, diffracted @ e)
    return 0.5 * (1 + cos2 ** 2 - k * math.cos(2 * psi) * (1 - cos2 ** 2))


@pytest.mark.parametrize("k", [0.0, 0.6, 1.0, -0.3])
def test_cbf_polarization_is_the_fraction_readers_expect(work, k):
    """A fraction p of the intensity polarized along E (the rest across it) scatters by
    p (1 - (s.E)^2) + (1 - p)(1 - (s.B)^2): the header's fraction gives nanoBragg's factor."""
    nbgpu.simulate(f"{BASE} -polar {k} -cbffile run.cbf", write_files=True)
    p = pilatus_value(cbf_text("run.cbf"), "Polarization")[0]
    incident, e = np.array([1.0, 0, 0]), np.array([0.0, 0, 1])        # mosflm: E along fast (the spindle)
    b = np.cross(incident, e)
    for s in np.random.default_rng(1).normal(size=(20, 3)):
        s /= np.linalg.norm(s)
        assert p * (1 - (s @ e) ** 2) + (1 - p) * (1 - (s @ b) ** 2) == pytest.approx(
            kahn(k, incident, s, e), abs=1e-4)


def frame_rotation(ours, theirs):
    """The rotation taking nanoBragg's frame to a file's, from the beam and the spindle in both."""
    def basis(beam, spindle):
        beam, spindle = np.asarray(beam, float), np.asarray(spindle, float)
        u = np.cross(beam, spindle)
        u /= np.linalg.norm(u)
        return np.column_stack([beam / np.linalg.norm(beam), u, np.cross(beam, u)])
    return basis(theirs[0], theirs[4]) @ basis(ours[0], ours[4]).T


@pytest.mark.parametrize("flags", ["-dials -polar 0.8", FACE_ON + " -polar_vector 0 1 0 -polar 0.9",
                                   FACE_ON + " -polar_vector 0 1 0 -polar -0.4",
                                   FACE_ON + " -spindle_axis 0.8 0.6 0 -polar_vector 1 1 0 -polar 0.5"])
def test_imgcif_polarization_is_what_dxtbx_reads(work, flags):
    """dxtbx's imgCIF beam takes polarizn_source_ratio as the fraction p of the intensity whose E
    vector lies in the plane whose normal is (sin norm, cos norm, 0) (it requires 0 <= p <= 1):
    with those, each scattered direction's factor is nanoBragg's."""
    result = nbgpu.simulate(f"{BASE} {flags} -cbffile pol.cbf", write_files=True)
    vectors, _, handle = imgcif_geometry("pol.cbf")
    fraction, angle = handle.get_polarization()
    assert 0.0 <= fraction <= 1.0
    normal = np.array([math.sin(math.radians(angle)), math.cos(math.radians(angle)), 0.0])
    incident = np.asarray(vectors[0], float)
    in_plane = np.cross(normal, incident)
    rotation = frame_rotation(run_vectors(result), vectors)
    ours = np.asarray(result.beam.direction, float)
    for s in np.random.default_rng(2).normal(size=(20, 3)):
        s /= np.linalg.norm(s)
        lab = rotation @ s
        dxtbx = fraction * (1 - (lab @ in_plane) ** 2) + (1 - fraction) * (1 - (lab @ normal) ** 2)
        assert dxtbx == pytest.approx(kahn(result.beam.kahn_factor, ours, s, np.asarray(result.beam.polar)),
                                      abs=1e-6)


def test_no_polarization_is_written_without_a_correction(work):
    nbgpu.simulate(f"{BASE} -nopolar -cbffile none.cbf", write_files=True)
    assert "Polarization" not in cbf_text("none.cbf")       # no fraction describes an uncorrected image
    nbgpu.simulate(f"{BASE} -dials -nopolar -cbffile none.cbf", write_files=True)
    assert "polarizn" not in cbf_text("none.cbf")


@pytest.mark.parametrize("k", ["1.5", "-1.01"])
@pytest.mark.parametrize("flag", ["-cbffile", "-noisecbffile"])
def test_a_polarization_no_beam_has_is_refused_for_a_cbf(work, k, flag):
    """A Kahn factor outside [-1, 1] is a fraction outside [0, 1]: no CBF can state it."""
    done = run_cli([*BASE.split(), "-polar", k, flag, "x.cbf"], work)
    assert done.returncode == 9 and done.stderr.count("\n") == 1
    assert f"{flag}: -polar {k} is no beam's polarization" in done.stderr
    assert not (work / "x.cbf").exists() and not (work / "floatimage.bin").exists()
    assert nbgpu.simulate(f"{BASE} -polar {k}").image.max() > 0           # the render itself is nanoBragg's


@pytest.mark.parametrize("flags", ["-mosflm", "-dials"])
def test_a_long_file_name_gives_a_block_name_cbflib_reads(work, flags):
    """CBFlib refuses a data block name over 75 characters (CBF_FORMAT); every line <= 80."""
    pycbf = pytest.importorskip("pycbf")
    name = "x" * 80 + "_0001.cbf"
    nbgpu.simulate(f"{BASE} {flags} -cbffile {name}", write_files=True)
    text = cbf_text(name)
    block = re.search(r"^data_(\S+)", text, re.M).group(1)
    assert len(block) <= 75 and block.endswith("_0001.cbf")
    assert all(len(line) <= 80 for line in text.split("\r\n"))
    handle = pycbf.cbf_handle_struct()
    handle.read_file(name.encode(), pycbf.MSG_DIGEST)
    handle.rewind_datablock()
    assert handle.datablock_name() == block.encode()


def test_the_cbf_description_is_decided_once_per_write(work, monkeypatch):
    """Both CBF files of a run share one description: where the beam meets the detector is
    found once to check the run before rendering and once to write its files."""
    from nbgpu.io import cbf
    calls = []
    real = cbf.beam_hit
    monkeypatch.setattr(cbf, "beam_hit", lambda *args: calls.append(1) or real(*args))
    nbgpu.simulate(f"{BASE.replace('-nonoise ', '')} -cbffile a.cbf -noisecbffile n.cbf", write_files=True)
    assert len(calls) == 2
    assert cbf_text("a.cbf").split("data_")[1].split("\n", 1)[1] == cbf_text("n.cbf").split("data_")[1].split("\n", 1)[1]


def test_header_lines_refuse_a_detector_no_pilatus_header_describes(work):
    from nbgpu.io import cbf
    from nbgpu.run import outputs
    setup = nbgpu.simulate(f"{BASE} -dials -cbffile x.cbf").problem.setup
    described = outputs.cbf_description(setup)
    assert described.kind() == "CBF (imgCIF geometry)"
    with pytest.raises(ValueError, match="Pilatus header"):
        cbf.header_lines(described)


def test_only_a_noise_cbf_names_its_own_flag(work):
    done = run_cli([*BASE.split(), *FACE_ON.split(), "-spindle_axis", "0", "0", "1", "-noisecbffile", "n.cbf"], work)
    assert done.returncode == 9 and "-noisecbffile: the rotation axis runs along the beam" in done.stderr
    assert not (work / "n.cbf").exists()


def test_a_spindle_along_the_beam_has_no_imgcif_frame(work):
    """imgCIF's laboratory frame is built from the rotation axis and the beam: one line, no files."""
    done = run_cli([*BASE.split(), *FACE_ON.split(), "-spindle_axis", "0", "0", "1", "-cbffile", "x.cbf"], work)
    assert done.returncode == 9 and done.stderr.count("\n") == 1
    assert "-cbffile: the rotation axis runs along the beam" in done.stderr
    assert not (work / "x.cbf").exists() and not (work / "floatimage.bin").exists()


@pytest.mark.parametrize("flag", ["-cbffile", "-noisecbffile", "-nexusfile"])
def test_a_curved_detector_is_refused_before_rendering(work, flag):
    done = run_cli([*BASE.split(), "-curved_det", flag, "x.out"], work)
    assert done.returncode == 9
    assert done.stderr.count("\n") == 1 and "-curved_det" in done.stderr and flag in done.stderr
    assert "Traceback" not in done.stderr
    assert not (work / "x.out").exists() and not (work / "floatimage.bin").exists()


def test_a_curved_detector_is_refused_by_the_stacks(work):
    sim = nbgpu.Simulator(f"-curved_det {BASE}")       # not last: nanoBragg ignores a last -curved_det
    with pytest.raises(InputError, match=r"^write_nexus: -curved_det"):
        sim.write_nexus("sweep.h5", sim.sweep(frames=2, step=1.0))
    assert not (work / "sweep.h5").exists()
    (work / "jobs.txt").write_text(f"{BASE} -curved_det -floatfile a.bin -intfile a.img\n")
    done = run_cli(["batch", "jobs.txt", "--nexus", "sweep.h5"], work)
    assert done.returncode == 9 and "--nexus sweep.h5: -curved_det" in done.stderr
    assert not (work / "sweep.h5").exists() and not (work / "a.bin").exists()


# -- a batch checks what a line's files can describe before anything renders, with the words it renders

def test_a_batch_refuses_a_cbf_no_file_can_describe_before_anything_renders(work):
    (work / "jobs.txt").write_text(f"{BASE} -floatfile a1.bin -intfile a1.img -cbffile a1.cbf\n"
                                   f"{BASE} -floatfile a2.bin -intfile a2.img -cbffile a2.cbf -spindle_axis 1 0 0\n"
                                   f"{BASE} -floatfile a3.bin -intfile a3.img -cbffile a3.cbf -polar 1.5\n")
    done = run_cli(["batch", "jobs.txt"], work)
    assert done.returncode == 9
    assert "jobs.txt:2: -cbffile: the rotation axis runs along the beam" in done.stderr
    assert "jobs.txt:3: -cbffile: -polar 1.5 is no beam's polarization" in done.stderr
    assert not list(work.glob("a*"))                     # line 1's files neither


CURVED = "-cell 30 30 30 90 90 90 -default_F 100 -N 2 -detpixels 24 -pixel 0.5 -distance 40 -seed 7"


@pytest.mark.parametrize("line", [
    f"{CURVED} -floatfile cb.bin -curved_det",
    f"{CURVED} -floatfile cb.bin -cbffile cb.cbf -curved_det",           # flat: the CBF is written
    f"{CURVED} -floatfile cb.bin -curved_detector",
    "nonBragg -stol t.stol -seed 7 -detpixels 24 -pixel 0.5 -distance 40 -floatfile cb.bin -curved_det",
    f"{CURVED} -floatfile cb.bin -curved_det -noprogress",               # here it acts: a word follows
])
def test_a_batch_line_renders_what_the_same_words_render_alone(work, line):
    """A last -curved_det is ignored by nanoBragg (it needs a following word): the batch's own
    -noprogress must not make it act, in validation or in the render."""
    import shlex
    words = shlex.split(line)
    alone, batch = work / "alone", work / "batch"
    for folder in (alone, batch):
        folder.mkdir()
        (folder / "t.stol").write_text("0 2.5\n0.2 3\n0.5 1\n")
    if words[0] == "nonBragg":
        done = subprocess.run([sys.executable, "-m", "nbgpu.cli.nonbragg", *words[1:]], cwd=alone,
                              capture_output=True, text=True, timeout=600)
    else:
        done = run_cli(words, alone)
    assert done.returncode == 0, done.stderr
    (batch / "jobs.txt").write_text(line + "\n")
    done = run_cli(["batch", "jobs.txt"], batch)
    assert done.returncode == 0, done.stderr
    for name in sorted(p.name for p in alone.iterdir()):
        assert (batch / name).read_bytes() == (alone / name).read_bytes(), name


def test_api_words_after_a_last_curved_det_leave_it_ignored(work):
    """Keyword flags and a Simulator's frame changes come after the command line; a last
    -curved_det stays last, as nbgpu with the same words ignores it."""
    line = f"{CURVED} -curved_det"
    flat = nbgpu.simulate(CURVED + " -phi 1").image
    curved = nbgpu.simulate(f"-curved_det {CURVED} -phi 1").image
    assert not np.array_equal(flat, curved)
    assert np.array_equal(nbgpu.simulate(line, phi=1).image, flat)
    assert np.array_equal(nbgpu.Simulator(line).render(phi=1).image, flat)
    assert np.array_equal(nbgpu.Simulator(f"-curved_det {CURVED}").render(phi=1).image, curved)


def test_a_curved_det_keyword_acts_wherever_it_comes(work):
    """curved_det=True in the Python API is nbgpu's own word: it curves the detector even as the
    last keyword (nanoBragg's last-word rule is for command lines)."""
    curved = nbgpu.simulate(f"-curved_det {CURVED} -phi 1").image
    assert np.array_equal(nbgpu.simulate(CURVED, phi=1, curved_det=True).image, curved)
    assert np.array_equal(nbgpu.simulate(CURVED + " -phi 1", curved_det=True).image, curved)
    assert np.array_equal(nbgpu.Simulator(CURVED).render(phi=1, curved_det=True).image, curved)

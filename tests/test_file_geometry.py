"""What CBF and NXmx files say of the detector is where the image was rendered (issue 22's first
part): the NXmx beam centre and distance agree with its depends_on chain, a miniCBF is written
only where a Pilatus header describes the detector exactly and full imgCIF (read back with CBFlib's
pycbf) otherwise, a curved detector is refused, and the polarization is the fraction readers
expect.  Every expectation is computed here from the file and from the run's rendered vectors
(pix0, fdet, sdet, beam, spindle), independently of nbgpu's writers."""
import math
import re
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


def test_imgcif_polarization_and_no_correction(work):
    pycbf = pytest.importorskip("pycbf")
    nbgpu.simulate(f"{BASE} -dials -polar 0.8 -cbffile pol.cbf", write_files=True)
    handle = pycbf.cbf_handle_struct()
    handle.read_file(b"pol.cbf", pycbf.MSG_DIGEST)
    ratio, angle = handle.get_polarization()
    assert ratio == pytest.approx(0.8)            # (Ip - In) / (Ip + In) = 2p - 1 = K
    assert angle % 180 == pytest.approx(0.0)      # dials: E along the spindle, imgCIF's X
    nbgpu.simulate(f"{BASE} -nopolar -cbffile none.cbf", write_files=True)
    assert "Polarization" not in cbf_text("none.cbf")       # no fraction describes an uncorrected image


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
    sim = nbgpu.Simulator(f"{BASE} -curved_det")
    with pytest.raises(InputError, match=r"^write_nexus: -curved_det"):
        sim.write_nexus("sweep.h5", sim.sweep(frames=2, step=1.0))
    assert not (work / "sweep.h5").exists()
    (work / "jobs.txt").write_text(f"{BASE} -curved_det -floatfile a.bin -intfile a.img\n")
    done = run_cli(["batch", "jobs.txt", "--nexus", "sweep.h5"], work)
    assert done.returncode == 9 and "--nexus sweep.h5: -curved_det" in done.stderr
    assert not (work / "sweep.h5").exists() and not (work / "a.bin").exists()

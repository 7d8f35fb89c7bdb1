"""-cbffile, -noisecbffile, -nexusfile and batch --nexus: pixels equal to the SMV images, the
run's geometry in the headers, read back by independent readers (fabio, CBFlib's pycbf, h5py,
DIALS' nxmx) and validated as NXmx (punx)."""
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

SIZE = "-detpixels 24 -pixel 0.4 -distance 100"
FRAME = f"-mat A.mat -hkl p1_small.hkl -N 6 -oversample 1 {SIZE} -phi 3 -osc 0.25 -seed 4 -noprogress"
CONVENTIONS = {
    "mosflm": "-mosflm -Xbeam 4.1 -Ybeam 5.3",
    "xds": "-xds -ORGX 10.5 -ORGY 12.25",
    "dials": "-dials -Xbeam 3.7 -Ybeam 6.1",
    "custom": "-fdet_vector 0.99 0.1 0 -sdet_vector -0.1 0.99 0.05 -odet_vector 0.005 -0.05 0.99 -beam_vector 0 0 1 "
              "-spindle_axis 0.8 0.6 0 -polar_vector 1 0 0 -Xbeam 5 -Ybeam 4",
    "twotheta": "-mosflm -twotheta 20 -detector_rotx 3 -Xbeam 4 -Ybeam 5",
}




def smv(path):
    data = Path(path).read_bytes()
    return np.frombuffer(data[-2 * 24 * 24:], np.uint16).reshape(24, 24)


def test_cbf_pixels_and_header_are_the_runs(work):
    pycbf = pytest.importorskip("pycbf")
    result = nbgpu.simulate(FRAME + " -cbffile int.cbf -noisecbffile noise.cbf", write_files=True)
    for cbf, image in (("int.cbf", "intimage.img"), ("noise.cbf", "noiseimage.img")):
        assert np.array_equal(fabio.open(cbf).data, smv(image))
        handle = pycbf.cbf_handle_struct()
        handle.read_file(cbf.encode(), pycbf.MSG_DIGEST)            # the MD5 is checked
        handle.rewind_datablock()
        handle.select_datablock(0)
        handle.find_category(b"array_data")
        handle.find_column(b"data")
        handle.select_row(0)
        pixels = np.frombuffer(handle.get_integerarray_as_string(), np.int32).reshape(24, 24)
        assert np.array_equal(pixels, smv(image))
    header = fabio.open("int.cbf").header["_array_data.header_contents"]
    assert all(len(line) <= 80 for line in Path("int.cbf").read_bytes().split(b"\r\n")[:40])
    value = lambda key: [float(x) for x in re.search(key + r"[ :]+\(?([-\d.e+]+)[, m]*x?\s*([-\d.e+]*)", header)
                         .groups() if x]
    d = result.detector
    assert value("Pixel_size")[0] == pytest.approx(d.pixel_size)
    assert value("Detector_distance")[0] == pytest.approx(d.distance, abs=1e-6)
    assert value("Wavelength")[0] == pytest.approx(result.beam.lambda0 * 1e10)
    assert value("Beam_xy") == pytest.approx([d.Fbeam / d.pixel_size, d.Sbeam / d.pixel_size], abs=0.005)
    assert value("Start_angle")[0] == pytest.approx(3.0) and value("Angle_increment")[0] == pytest.approx(0.25)
    assert value("Exposure_time")[0] == pytest.approx(result.beam.exposure.exposure)


def gram(vectors):
    m = np.array(vectors, dtype=float)
    return m @ m.T


@pytest.mark.parametrize("convention", sorted(CONVENTIONS))
def test_nexus_geometry_reproduces_the_run(work, convention):
    nxmx = pytest.importorskip("nxmx")
    result = nbgpu.simulate(f"{FRAME} {CONVENTIONS[convention]} -nexusfile run.h5", write_files=True)
    d = result.detector
    with h5py.File("run.h5") as f:
        assert f["/entry/definition"][()] == b"NXmx"
        assert np.array_equal(f["/entry/data/data"][0], smv("intimage.img"))
        assert np.array_equal(f["/entry/noise/data"][0], smv("noiseimage.img"))
        entry = nxmx.NXmx(f).entries[0]
        module = entry.instruments[0].detectors[0].modules[0]
        corner = nxmx.get_cumulative_transformation(nxmx.get_dependency_chain(module.module_offset))[0][:3, 3]
        corner = corner / 1000.0                                      # nxmx gives millimetres
        fast, slow = (np.asarray(axis.vector) for axis in (module.fast_pixel_direction, module.slow_pixel_direction))
        phi = entry.samples[0].depends_on
        spindle = np.asarray(phi.vector)
        assert phi[()].to("degree").magnitude == pytest.approx([3.0])
        assert module.fast_pixel_direction[()].to("m").magnitude == pytest.approx(d.pixel_size)
        detector = f["/entry/instrument/detector"]
        fields = (detector["distance"][()], detector["beam_center_x"][()], detector["beam_center_y"][()])
        assert f["/entry/sample/beam/incident_wavelength"][()] == pytest.approx(1.0)
    beam = (0.0, 0.0, 1.0)                                          # McStas: z along the beam
    # the same vectors up to a rotation: equal dot products and the same handedness
    ours = [result.beam.direction, d.pix0, d.fdet, d.sdet, result.crystal.spindle]
    theirs = [beam, corner, fast, slow, spindle]
    assert np.allclose(gram(theirs), gram(ours), atol=1e-9)
    assert np.linalg.det(np.array(theirs[2:])) == pytest.approx(np.linalg.det(np.array(ours[2:])), abs=1e-9)
    # where the direct beam meets the detector plane: the file's geometry against the run's
    in_file = beam_hit(beam, corner, fast, slow, d.pixel_size)
    in_run = beam_hit(result.beam.direction, d.pix0, d.fdet, d.sdet, d.pixel_size)
    assert in_file == pytest.approx(in_run, abs=1e-9)
    assert fields == pytest.approx(in_run, abs=1e-9)
    if convention != "twotheta":      # nanoBragg's distance and Fbeam/Sbeam leave out the two-theta rotation
        assert in_run == pytest.approx((d.distance, d.Fbeam / d.pixel_size, d.Sbeam / d.pixel_size), abs=1e-9)


def beam_hit(beam, corner, fast, slow, pixel_size):
    """(distance along the beam, fast and slow pixel coordinates) of the direct beam's hit."""
    beam, corner = np.asarray(beam, dtype=float), np.asarray(corner, dtype=float)
    normal = np.cross(fast, slow)
    along = (corner @ normal) / (beam @ normal)
    hit = along * beam - corner
    return along, hit @ np.asarray(fast) / pixel_size, hit @ np.asarray(slow) / pixel_size


def punx_findings(path):
    script = Path(sys.executable).with_name("punx")
    if not script.exists():
        pytest.skip("punx (a test dependency) is not installed")
    done = subprocess.run([str(script), "validate", str(path)], capture_output=True, text=True, timeout=300)
    assert "summary statistics" in done.stdout, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if re.search(r"\s(ERROR|WARN)\s", line)]


def test_nexus_files_validate_as_nxmx(work):
    nbgpu.simulate(f"{FRAME} -twotheta 15 -nexusfile one.h5", write_files=True)
    assert punx_findings("one.h5") == []


def test_a_batch_sweep_stacks_every_frame_with_its_phi(work):
    lines = [f"-mat A.mat -hkl p1_small.hkl -N 4 -oversample 1 -detpixels 16 -pixel 0.4 -distance 100 "
             f"-phi {n * 0.5:g} -osc 0.5 -phisteps 2 -seed {n + 1} -floatfile f{n}.bin -intfile i{n}.img "
             f"-noisefile n{n}.img -nopgm" for n in range(100)]
    (work / "jobs.txt").write_text("\n".join(lines) + "\n")
    done = run_cli(["batch", "jobs.txt", "--nexus", "sweep.h5"], work)
    assert done.returncode == 0, done.stderr
    with h5py.File(work / "sweep.h5") as f:
        data, noise = f["/entry/data/data"], f["/entry/noise/data"]
        phi = f["/entry/sample/transformations/phi"][()]
        assert data.shape == (100, 16, 16) and data.chunks == (1, 16, 16)
        for n in range(100):
            raw = (work / f"i{n}.img").read_bytes()
            assert np.array_equal(data[n], np.frombuffer(raw[-512:], np.uint16).reshape(16, 16))
            raw = (work / f"n{n}.img").read_bytes()
            assert np.array_equal(noise[n], np.frombuffer(raw[-512:], np.uint16).reshape(16, 16))
        assert np.allclose(phi, np.arange(100) * 0.5)
        assert f["/entry/sample/transformations/phi_increment_set"][()] == pytest.approx(0.5)
    assert punx_findings(work / "sweep.h5") == []


def test_a_batch_with_two_detectors_cannot_stack(work):
    (work / "jobs.txt").write_text(f"{FRAME} -nonoise -floatfile a.bin -intfile a.img\n"
                                   f"{FRAME.replace('-distance 100', '-distance 90')} -nonoise -floatfile b.bin "
                                   "-intfile b.img\n")
    done = run_cli(["batch", "jobs.txt", "--nexus", "sweep.h5"], work)
    assert done.returncode == 9 and "jobs.txt:2: --nexus sweep.h5: the detector" in done.stderr
    assert not (work / "sweep.h5").exists() and not (work / "a.bin").exists()


def test_simulator_writes_a_sweep_as_one_nexus_file(work):
    sim = nbgpu.Simulator(f"-mat A.mat -hkl p1_small.hkl -N 4 -oversample 1 {SIZE}")
    sim.write_nexus("sim.h5", sim.sweep(frames=3, step=1.0, start=2.0))
    with h5py.File("sim.h5") as f:
        assert f["/entry/data/data"].shape == (3, 24, 24) and "noise" not in f["/entry"]
        assert np.allclose(f["/entry/sample/transformations/phi"][()], [2.0, 3.0, 4.0])
        assert np.array_equal(f["/entry/data/data"][1], sim.render(phi=3.0, osc=1.0).int_image())


def test_a_stack_that_cannot_be_put_in_place_leaves_nothing(work):
    """The rename at the end fails (the name is a folder): one error naming the file, no
    temporary file left beside it."""
    (work / "taken.h5").mkdir()
    sim = nbgpu.Simulator(f"-mat A.mat -hkl p1_small.hkl -N 4 -oversample 1 {SIZE}")
    with pytest.raises(InputError, match=r"^write_nexus: cannot write .*taken\.h5: "):
        sim.write_nexus("taken.h5", sim.sweep(frames=2, step=1.0))
    assert sorted(p.name for p in work.iterdir() if p.name.startswith(".taken")) == []


def test_compression_is_bitshuffle_lz4_with_hdf5plugin_and_off_on_request(work):
    pytest.importorskip("hdf5plugin")
    nbgpu.simulate(f"{FRAME} -nexusfile packed.h5 -nonoise", write_files=True)
    nbgpu.simulate(f"{FRAME} -nexusfile plain.h5 -nexus_compression none -nonoise", write_files=True)
    with h5py.File("packed.h5") as packed, h5py.File("plain.h5") as plain:
        assert "32008" in packed["/entry/data/data"]._filters            # the bitshuffle filter
        assert not plain["/entry/data/data"]._filters.keys() - {"shuffle"}
        assert np.array_equal(packed["/entry/data/data"][()], plain["/entry/data/data"][()])


def test_missing_extra_is_one_line_naming_it(work, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setitem(sys.modules, "h5py", None)                   # as if it were not installed
        with pytest.raises(InputError, match=r"-nexusfile: NeXus output needs h5py: pip install 'nbgpu\[nexus\]'"):
            nbgpu.simulate(f"{FRAME} -nexusfile x.h5", write_files=True)
    assert not list(work.glob("*.img"))                              # refused before rendering
    monkeypatch.setitem(sys.modules, "hdf5plugin", None)
    with pytest.raises(InputError, match="bslz4 needs hdf5plugin"):
        nbgpu.simulate(f"{FRAME} -nexusfile x.h5 -nexus_compression bslz4", write_files=True)


def test_unwritable_paths_are_refused_before_rendering(work):
    for flag in ("-cbffile", "-noisecbffile", "-nexusfile"):
        done = run_cli([*FRAME.split(), flag, "no/such/dir/x"], work)
        assert done.returncode == 9 and f"nbgpu: error: {flag} no/such/dir/x: cannot write in" in done.stderr
    assert not list(work.glob("*.img")) and not (work / "floatimage.bin").exists()   # (Fdump.bin comes first)


def test_an_interrupted_write_leaves_no_partial_file(work, monkeypatch):
    from nbgpu.io import nexus

    def broken(self, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(nexus.NexusWriter, "append", broken)
    with pytest.raises(KeyboardInterrupt):
        nbgpu.simulate(f"{FRAME} -nexusfile x.h5 -cbffile x.cbf", write_files=True)
    assert sorted(p.name for p in work.iterdir()) == ["A.mat", "Fdump.bin", "p1_small.hkl"]
    sim = nbgpu.Simulator(f"-mat A.mat -hkl p1_small.hkl -N 4 {SIZE}")
    with pytest.raises(KeyboardInterrupt):
        sim.write_nexus("sweep.h5", sim.sweep(frames=2, step=1.0))
    assert sorted(p.name for p in work.iterdir()) == ["A.mat", "Fdump.bin", "p1_small.hkl"]

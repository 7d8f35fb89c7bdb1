"""The C engine: the single-thread reference image at any thread count, and pixel traces."""
import numpy as np
import pytest

from helpers import LOCAL_SUITE, assert_same_outputs, case_args, read_maybe_gz, run_cli, stage_case


@pytest.mark.parametrize("name", ["interpolate_out_of_range_fallback", "phi0_stale_orientation_quirk",
                                  "supervisor_roi", "hkl_interpolate", "dmin_cut"])
def test_any_thread_count_gives_the_single_thread_reference(name, tmp_path):
    """nanoBragg's state carried between pixels (phi = 0 carry-over, interpolation switch-off)
    is reproduced whatever OMP_NUM_THREADS is."""
    case = LOCAL_SUITE / "cases" / name
    images = []
    for threads in ("1", "3"):
        work = stage_case(case, tmp_path / threads)
        result = run_cli(case_args(case), work, {"OMP_NUM_THREADS": threads})
        assert result.returncode == 0, result.stderr
        assert_same_outputs(case, work)
        images.append((work / "floatimage.bin").read_bytes())
    assert images[0] == images[1]


def traces(stdout):
    return dict(line[len("TRACE: "):].split(" = ", 1) for line in stdout.splitlines()
                if line.startswith("TRACE: ") and " = " in line)


def test_trace_pixel_of_the_supervisor_case(tmp_path):
    """-trace_pixel 685 1039 (slow, fast): the values behind the canonical float image there."""
    case = LOCAL_SUITE / "cases" / "supervisor_roi"
    work = stage_case(case, tmp_path)
    result = run_cli(case_args(case) + ["-trace_pixel", "685", "1039"], work)
    assert result.returncode == 0, result.stderr
    t = traces(result.stdout)
    assert t["hkl_rounded"] == "-7 -1 -14"
    assert t["F_cell"] == "190.27"
    assert t["value"] == "2.8813954e-07"
    reference = np.frombuffer(read_maybe_gz(case / "floatimage.bin"), np.float32).reshape(2527, 2463)
    assert np.float32(float(t["float_image"])) == reference[685, 1039]
    for key in ("pixel_position_m", "diffracted_unit", "scattering_1/m", "a_rotated_A", "hkl_fractional",
                "F_latt_abc", "I_before_scaling", "omega_sr", "polarization", "capture_fraction",
                "steps", "r_e_sqr_m2", "fluence_photons/m2"):
        assert key in t


def test_trace_of_a_pixel_that_is_not_rendered(tmp_path):
    case = LOCAL_SUITE / "cases" / "mask_roi"
    work = stage_case(case, tmp_path)
    result = run_cli(case_args(case) + ["-trace_pixel", "0", "0"], work)
    assert result.returncode == 0 and "TRACE: not rendered" in result.stdout


def test_printout_of_every_pixel(tmp_path):
    result = run_cli("-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 3 -pixel 1 "
                     "-oversample 1 -printout -nonoise".split(), tmp_path)
    assert result.returncode == 0
    assert result.stdout.count(" : stol = ") == 9
    image = np.fromfile(tmp_path / "floatimage.bin", np.float32)
    printed = [float(l.split()[1]) for l in result.stdout.splitlines() if l.startswith("pixel ")]
    assert np.allclose(printed, image, rtol=1e-9)

"""Behaviours found by differential fuzzing against the canonical nanoBragg binary."""
import numpy as np

from helpers import LOCAL_SUITE, case_args, read_maybe_gz, run_cli, stage_case, stdout_without_pointers
import nbgpu
from nbgpu.run.render import print_marks, progress_marks

TINY = "-cell 30 -default_F 1 -N 2 -detpixels 6 -pixel 10 -distance 100 -dmin 4.5 -nonoise -oversample 1".split()


def test_zero_distance_still_renders_like_nanobragg(tmp_path):
    """Beam perpendicular to the detector normal: distance 0, oversample recommendation 1."""
    result = run_cli("-cell 30 -default_F 1 -beam_vector 0 1 0 -detpixels 8 -point_pixel -nonoise "
                     "-noprogress".split(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "auto-selected 1-fold oversampling" in result.stdout
    assert np.all(np.isfinite(np.fromfile(tmp_path / "floatimage.bin", np.float32)))


def test_no_phi_step_at_all_is_refused(tmp_path):
    result = run_cli("-cell 30 -default_F 1 -detpixels 8 -osc 0 -phistep 0.5 -nonoise".split(), tmp_path)
    assert result.returncode == 9 and "no phi step" in result.stderr


def test_nan_statistics_keep_their_sign_as_c_prints_them(tmp_path):
    result = run_cli("-cell 30 -default_F 10 -N 10 -detpixels 8 -pixel 0.5 -distance 40 -fluence 1e300 "
                     "-nonoise -noprogress".split(), tmp_path)
    assert result.returncode == 0
    assert "rmsd= -nan" in result.stdout


def test_oddball_warning_prints_nanobraggs_label(tmp_path):
    result = run_cli("-cell 30 40 50 60 60 160 -default_F 100 -N 3 -detpixels 8 -nonoise -noprogress".split(),
                     tmp_path)
    assert "cos9gamma_star) =" in result.stdout and "cos(gamma_star) =" in result.stdout


def printout_blocks(stdout) -> dict:
    """(fast, slow) -> the 14 lines of nanoBragg's printout block for that pixel."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if " : stol = " in line]
    return {tuple(lines[i].split()[:2]): lines[i:i + 14] for i in starts}


def test_printout_of_one_pixel_shows_what_printout_of_all_shows(tmp_path):
    """A pixel whose every source -dmin culls prints the values left by the pixels before it."""
    blocks = printout_blocks(run_cli(TINY + ["-printout"], tmp_path).stdout)
    assert len(blocks) == 36
    culled = [pixel for pixel, block in blocks.items() if block[5].split() == ["polar", "0"]]
    assert culled, "the case should have pixels with no evaluation"
    for pixel in culled + list(blocks)[::9]:
        one = printout_blocks(run_cli(TINY + ["-printout_pixel", *pixel], tmp_path).stdout)
        assert one == {pixel: blocks[pixel]}


def test_sourcefile_comment_line_with_dmin_is_kept_with_a_warning(tmp_path):
    (tmp_path / "s.txt").write_text("# X Y Z weight lambda\n-10 0 0 1 1e-10\n")
    args = "-cell 30 -default_F 1 -N 2 -detpixels 8 -pixel 0.4 -distance 60 -nonoise -sourcefile s.txt".split()
    result = run_cli(args + ["-dmin", "2"], tmp_path)
    assert result.returncode == 0 and "kept because -dmin discards it" in result.stderr
    result = run_cli(args, tmp_path)
    assert result.returncode == 9 and "comment line" in result.stderr


def test_progress_lines_before_the_interpolation_warning(tmp_path):
    """Progress on: removing the meter lines gives the reference log, and the meter lines
    before the warning are those of the pixels rendered before the switch-off."""
    case = LOCAL_SUITE / "cases" / "interpolate_out_of_range_fallback"
    work = stage_case(case, tmp_path)
    result = run_cli([a for a in case_args(case) if a != "-noprogress"], work)
    lines = stdout_without_pointers(result.stdout)
    meter = [i for i, line in enumerate(lines) if line.endswith("% done")]
    warning = next(i for i, line in enumerate(lines) if line.startswith("WARNING: out of range"))
    assert meter and meter[0] < warning < meter[-1]
    expected = stdout_without_pointers(read_maybe_gz(case / "stdout.txt").decode())
    # the meter's own lines aside (the warning's second line runs into the next one), same log
    cleaned = "\n".join(lines).replace("further warnings will not be printed! ", "further warnings will not "
                                       "be printed! \n").splitlines()
    cleaned = [line for line in cleaned if not line.endswith("% done")]
    reference = "\n".join(expected).replace("further warnings will not be printed! ", "further warnings will not "
                                            "be printed! \n").splitlines()
    assert [l for l in cleaned if l] == [l for l in reference if l]


def test_meter_marks_split_at_the_switch_off_pixel(tmp_path, monkeypatch):
    """The meter lines before the interpolation warning are the marks below the number of
    rendered (ROI) pixels before the switch-off pixel, whatever the thread count."""
    case = LOCAL_SUITE / "cases" / "interpolate_out_of_range_fallback"
    work = stage_case(case, tmp_path)
    xmin, xmax, ymin, ymax = 3, 60, 2, 61
    args = [a for a in case_args(case) if a != "-noprogress"] + ["-roi", *map(str, (xmin, xmax, ymin, ymax))]
    logs = [run_cli(args, work, {"OMP_NUM_THREADS": threads}).stdout for threads in ("1", "3")]
    assert logs[0] == logs[1]
    lines = logs[0].splitlines()
    warning = next(i for i, line in enumerate(lines) if "WARNING: out of range" in line)
    printed = [line for line in lines[:warning] if line.endswith("% done")]

    monkeypatch.chdir(work)
    result = nbgpu.simulate(args, write_files=False)
    total = result.detector.frame.progress_pixels
    row, col = divmod(result.rendered.interpolate_off_at, result.detector.fpixels)
    assert ymin <= row <= ymax and xmin <= col <= xmax
    before = (row - ymin) * (xmax - xmin + 1) + (col - xmin)
    marks = progress_marks(total, (xmax - xmin + 1) * (ymax - ymin + 1))
    assert printed == ["%d%% done" % (m * 100 // total) for m in marks if m < before]
    assert 0 < len(printed) < len(marks)


def test_print_marks_prints_the_marks_below_the_counter():
    printed = []
    marks = progress_marks(2000, 2000)
    nxt = print_marks(marks, 0, 300, 2000,
                      lambda text, flush=False: printed.append(text))
    assert printed == ["%d%% done\n" % (m * 100 // 2000) for m in marks if m < 300]
    assert marks[nxt] >= 300

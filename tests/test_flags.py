"""The flag table: every nanoBragg flag with its arity, its substring collisions, its order
rules, and nbgpu's validation of typed values."""
import math

import pytest

from nbgpu.base.errors import InputError
from nbgpu.setup.flags import RTD, Flags, argv_from_keywords, header_files, parse

# every flag and alias of flags.md §2 with the number of values it takes
FLAG_ARITY = {
    "-Na": 1, "-Nb": 1, "-Nc": 1, "-N": 1, "-cell": 6, "-misset": 3,
    "-samplesize": 1, "-sample_size": 1, "-sample_thick": 1, "-sample_x": 1, "-sample_width": 1,
    "-sample_y": 1, "-width": 1, "-sample_height": 1, "-sample_z": 1, "-height": 1,
    "-xtalsize": 1, "-xtal_size": 1, "-xtal_thick": 1, "-xtal_x": 1, "-xtal_width": 1, "-xtal_y": 1,
    "-xtal_height": 1, "-xtal_z": 1, "-density": 1, "-sample_density": 1, "-MW": 1, "-molecules": 1,
    "-Xbeam": 1, "-Ybeam": 1, "-Xclose": 1, "-Yclose": 1, "-ORGX": 1, "-ORGY": 1, "-pivot": 1,
    "-mosflm": 0, "-xds": 0, "-adxv": 0, "-denzo": 0, "-dials": 0,
    "-fdet_vector": 3, "-sdet_vector": 3, "-odet_vector": 3, "-beam_vector": 3, "-polar_vector": 3,
    "-spindle_axis": 3, "-twotheta_axis": 3, "-pix0_vector": 3, "-pix0_vector_mm": 3,
    "-distance": 1, "-close_distance": 1, "-detector_abs": 1, "-detector_absorb": 1,
    "-detector_thick": 1, "-detector_thicksteps": 1, "-thicksteps": 1, "-twotheta": 1,
    "-detector_rotx": 1, "-detector_roty": 1, "-detector_rotz": 1, "-detsize": 1, "-detsize_f": 1,
    "-detsize_s": 1, "-detpixels": 1, "-detpixels_f": 1, "-detpixels_x": 1, "-detpixels_s": 1,
    "-detpixels_y": 1, "-curved_det": 0, "-pixel": 1, "-point_pixel": 0, "-polar": 1, "-nopolar": 0,
    "-oversample_thick": 0, "-oversample_polar": 0, "-oversample_omega": 0, "-oversample": 1,
    "-roi": 4, "-lambda": 1, "-wavelength": 1, "-energy": 1, "-fluence": 1, "-flux": 1,
    "-exposure": 1, "-beamsize": 1, "-mosaic": 1, "-mosaicity": 1, "-mosaic_spread": 1,
    "-mosaic_domains": 1, "-dispersion": 1, "-dispsteps": 1, "-divergence": 1, "-hdivrange": 1,
    "-vdivrange": 1, "-hdivstep": 1, "-hdivsteps": 1, "-vdivstep": 1, "-vdivsteps": 1,
    "-divsteps": 1, "-round_div": 0, "-square_div": 0, "-adc": 1, "-phi": 1, "-osc": 1,
    "-phistep": 1, "-phisteps": 1, "-dmin": 1, "-mat": 1, "-hkl": 1, "-default_F": 1, "-dump": 1,
    "-img": 1, "-stolout": 1, "-stol": 1, "-4stol": 1, "-Q": 1, "-sourcefile": 1,
    "-floatfile": 1, "-floatimage": 1, "-intfile": 1, "-intimage": 1, "-pgmfile": 1,
    "-pgmimage": 1, "-noisefile": 1, "-noiseimage": 1, "-nonoise": 0, "-nopgm": 0, "-scale": 1,
    "-pgmscale": 1, "-coherent": 0, "-printout": 0, "-printout_pixel": 2, "-noprogress": 0,
    "-progress": 0, "-interpolate": 0, "-nointerpolate": 0, "-round_xtal": 0, "-square_xtal": 0,
    "-gauss_xtal": 0, "-binary_spots": 0, "-tophat_spots": 0, "-fudge": 1, "-seed": 1,
    "-mosaic_seed": 1, "-misset_seed": 1, "-water": 1,
}
VALUE = {"-pivot": ["sample"]}
SETS_THE_DEFAULT = {"-mosflm", "-square_xtal", "-round_div", "-progress"}


def parsed(words):
    return parse(words)


def changes(words):
    s, warnings = parsed(words)
    base = Flags().as_dict()
    return {k for k, v in s.as_dict().items() if repr(v) != repr(base[k])}, warnings


@pytest.mark.parametrize("flag,arity", FLAG_ARITY.items())
def test_every_flag_is_accepted_with_its_arity(flag, arity):
    words = [flag] + VALUE.get(flag, ["2"] * arity)
    # -curved_det only acts when another word follows it (quirk Q40)
    words += ["-noprogress"] if flag == "-curved_det" else []
    changed, warnings = changes(words)
    assert warnings == []
    if flag not in SETS_THE_DEFAULT and flag != "-progress":
        assert changed, f"{flag} changed nothing"


@pytest.mark.parametrize("flag,arity", [(f, n) for f, n in FLAG_ARITY.items() if n and f != "-img"])
def test_a_typed_flag_without_its_values_is_an_error(flag, arity):
    with pytest.raises(InputError, match=f"^{flag}: missing value"):
        parsed([flag] + ["1"] * (arity - 1) if flag != "-cell" else [flag])


def test_convention_flags_and_their_pivots():
    assert parsed(["-xds", "-mosflm"])[0].beam_convention == "mosflm"
    s, _ = parsed(["-mosflm", "-xds"])
    assert (s.beam_convention, s.detector_pivot) == ("xds", "sample")
    s, _ = parsed(["-dials"])
    assert (s.beam_convention, s.detector_pivot) == ("dials", "beam")   # forced to SAMPLE later


# --- substring collisions (flags.md §4, quirks.md Q21, Q27, Q28) ---------------------------

def test_C1_twotheta_axis_also_sets_twotheta_and_pivot():
    s, _ = parsed(["-twotheta_axis", "5", "0", "-1"])
    assert s.twotheta_axis == (5.0, 0.0, -1.0)
    assert s.beam_convention == "custom"
    assert math.isclose(s.detector_twotheta * RTD, 5.0)
    assert s.detector_pivot == "sample"


def test_C2_misset_seed_sets_a_misset_from_the_next_three_words():
    s, _ = parsed(["-misset_seed", "7", "-N", "3"])
    assert s.misset == "angles"
    assert [round(x * RTD, 12) for x in s.misset_angles] == [7.0, 0.0, 3.0]
    assert (s.misset_seed, s.Na) == (-7, 3)
    # ... and so cancels an earlier -misset random
    s, _ = parsed(["-misset", "random", "-misset_seed", "123", "-N", "4"])
    assert s.misset == "angles"
    # put first, the seed is used by the random orientation
    s, _ = parsed(["-misset_seed", "123", "-misset", "random"])
    assert (s.misset, s.misset_seed) == ("random", -123)


def test_C3_printout_pixel_turns_printout_on():
    s, _ = parsed(["-printout_pixel", "5", "7"])
    assert (s.printout, s.printout_fpixel, s.printout_spixel) == (True, 5, 7)


def test_C4_pix0_vector_mm_is_custom_and_read_in_mm():
    s, _ = parsed(["-pix0_vector_mm", "10", "-20", "70"])
    assert s.beam_convention == "custom"
    assert s.pix0_given_m == (0.01, -0.02, 0.07)
    s, _ = parsed(["-pix0_vector", "0.01", "-0.02", "0.07"])
    assert s.pix0_given_m == (0.01, -0.02, 0.07)


def test_C5_width_and_height_set_sample_and_crystal_sizes():
    s, _ = parsed(["-width", "0.2", "-height", "0.3"])
    assert (s.sample_y, s.sample_z) == (0.2 / 1000, 0.3 / 1000)


def test_C6_C7_C8_aliases():
    assert parsed(["-detector_absorb", "100"])[0].detector_mu == 1.0 / (100 * 1e-6)
    assert parsed(["-wavelength", "1.5"])[0].lambda0 == 1.5 / 1e10
    assert parsed(["-mosaicity", "1"])[0].mosaic_spread == 1 / RTD
    assert parsed(["-mosaic_spread", "2"])[0].mosaic_spread == 2 / RTD
    s, _ = parsed(["-mosaic_seed", "3", "-mosaic_domains", "4"])
    assert (s.mosaic_spread, s.mosaic_seed, s.mosaic_domains, s.seed) == (-1.0, -3, 4, 0)


def test_C9_any_word_containing_img_or_mask_is_read_as_a_header():
    assert header_files(["-imgfile", "a.img", "-maskfoo", "m.img", "-img"]) == ("a.img", "m.img")


def test_C10_pivot_value_is_matched_by_substring():
    assert parsed(["-pivot", "sample_please"])[0].detector_pivot == "sample"
    assert parsed(["-pivot", "samplebeam"])[0].detector_pivot == "beam"
    s, warnings = parsed(["-pivot", "sideways"])
    assert s.detector_pivot == "beam" and "neither 'sample' nor 'beam'" in warnings[0]


def test_C11_misset_value_containing_rand():
    assert parsed(["-misset", "randomize"])[0].misset == "random"


def test_C12_detector_abs_inf_or_zero_means_no_absorption():
    for value in ("inf", "infinite", "0"):
        s, _ = parsed(["-detector_thick", "100", "-detector_abs", value])
        assert (s.detector_mu, s.detector_thick) == (0.0, 0.0)
    # a later -detector_thick gives thickness with mu = 0 (quirk Q29)
    s, _ = parsed(["-detector_abs", "inf", "-detector_thick", "100"])
    assert (s.detector_mu, s.detector_thick) == (0.0, 100 * 1e-6)


@pytest.mark.parametrize("words,untouched", [
    (["-nopolar"], "polarization"), (["-polar_vector", "0", "1", "0"], "polarization"),
    (["-noprogress"], "printout"), (["-pgmscale", "3"], "intfile_scale"),
    (["-close_distance", "50"], "distance"), (["-detector_thicksteps", "3"], "detector_thick"),
    (["-hdivsteps", "3"], "hdivstep"), (["-hdivsteps", "3"], "vdivsteps"), (["-phisteps", "3"], "phi0"),
    (["-phisteps", "3"], "phistep"), (["-stolout", "x"], "stolfilename"),
    (["-mosaic_seed", "3"], "seed"), (["-misset_seed", "3"], "seed"), (["-point_pixel"], "pixel_size"),
    (["-printout_pixel", "1", "2"], "pixel_size"), (["-detsize_f", "30"], "detsize_s"),
    (["-detpixels_x", "30"], "spixels"), (["-oversample_thick"], "oversample"),
])
def test_non_collisions(words, untouched):
    s, _ = parsed(words)
    assert getattr(s, untouched) == getattr(Flags(), untouched)


def test_nointerpolate_sets_only_the_switch():
    assert changes(["-nointerpolate"])[0] == {"interpolate"}
    assert parsed(["-nointerpolate"])[0].interpolate == 0


def test_4stol_scales_by_a_quarter_where_stol_does_not():
    s, _ = parsed(["-4stol", "x"])
    assert (s.stolfilename, s.stol_file_mult) == ("x", 1e10 / 4)
    s, _ = parsed(["-stol", "x"])
    assert (s.stolfilename, s.stol_file_mult) == ("x", 1e10)


# --- order: later wins, switches toggle (Q29) ----------------------------------------------

def test_order_dependent_switches():
    assert parsed(["-nonoise", "-noisefile", "n.img"])[0].calculate_noise is True
    assert parsed(["-noisefile", "n.img", "-nonoise"])[0].calculate_noise is False
    assert parsed(["-nopgm", "-pgmscale", "2"])[0].write_pgm is True
    assert parsed(["-pgmfile", "p.pgm", "-nopgm"])[0].write_pgm is False
    assert parsed(["-lambda", "2", "-energy", "12398.42"])[0].lambda0 == (12398.42 / 12398.42) / 1e10
    assert parsed(["-energy", "12398.42", "-lambda", "2"])[0].lambda0 == 2 / 1e10
    assert parsed(["-interpolate", "-nointerpolate"])[0].interpolate == 0
    assert parsed(["-gauss_xtal", "-round_xtal"])[0].xtal_shape == "round"


def test_cell_stops_at_the_next_flag():
    s, _ = parsed(["-cell", "30", "40", "-N", "2"])
    assert s.cell[:3] == (30.0, 40.0, 0.0) and s.user_cell and s.Na == 2


def test_N_and_per_axis_counts_stop_further_matching():
    s, _ = parsed(["-N", "4"])
    assert (s.Na, s.Nb, s.Nc) == (4, 4, 4)
    s, _ = parsed(["-Nabc", "3"])       # substring: still -Na
    assert s.Na == 3


# --- validation of typed values (nbgpu) ----------------------------------------------------

@pytest.mark.parametrize("words,message", [
    (["-distance", "abc"], "-distance: expected a number"),
    (["-distance", "0"], "-distance: value must be greater than 0"),
    (["-distance", "-5"], "-distance: value must be greater than 0"),
    (["-lambda", "nan"], "-lambda: value must be finite"),
    (["-pixel", "inf"], "-pixel: value must be finite"),
    (["-detpixels", "0"], "-detpixels: value must be greater than 0"),
    (["-energy", "-1"], "-energy: value must be greater than 0"),
    (["-N", "x"], "-N: expected a number"),
    (["-misset", "1", "2", "three"], "-misset: expected a number"),
    (["-roi", "1", "2", "3"], "-roi: missing value"),
    (["-detector_abs", "thick"], "-detector_abs: expected"),
])
def test_bad_typed_values_are_errors_naming_the_flag(words, message):
    with pytest.raises(InputError) as info:
        parsed(words)
    assert str(info.value).startswith(message)


def test_integer_flags_take_the_integer_prefix_like_atoi_with_a_warning():
    s, warnings = parsed(["-N", "2.7"])
    assert s.Na == 2
    assert warnings == ["-N 2.7 is read as 2 (an integer), as nanoBragg does"]


def test_unknown_flags_and_stray_words_warn_and_are_ignored():
    s, warnings = parsed(["-dispstep", "3", "-hdiv", "stray", "-N", "3", "oops"])
    assert s.Na == 3
    assert warnings == ["unknown flag -dispstep ignored (as nanoBragg does)",
                        "unknown flag -hdiv ignored (as nanoBragg does)",
                        "ignoring 'oops': neither a flag nor a flag's value"]


def test_negative_numbers_as_values_are_not_unknown_flags():
    s, warnings = parsed(["-misset", "-10", "-20.5", "3e1"])
    assert warnings == [] and [round(a * RTD, 10) for a in s.misset_angles] == [-10, -20.5, 30]


def test_curved_det_as_last_word_is_ignored_with_a_warning():
    s, warnings = parsed(["-curved_det"])
    assert s.curved_detector is False and "ignored as the last argument" in warnings[0]


def test_values_reached_through_collisions_are_converted_silently():
    # "-misset" fired by "-misset_seed": "-N" is no number, atof gives 0, no error
    s, warnings = parsed(["-misset_seed", "1", "-N", "2"])
    assert warnings == [] and s.misset_angles[1] == 0.0


def test_keyword_settings_become_nanobragg_words():
    assert argv_from_keywords(dict(N=5, cell=(30, 30, 30, 90, 90, 90), nopolar=True, water=None,
                                   lambda_=1.5, nonoise=False)) == \
        ["-N", "5", "-cell", "30", "30", "30", "90", "90", "90", "-nopolar", "-lambda", "1.5"]


def test_a_short_cell_takes_nanobraggs_defaults_and_says_so():
    """-cell stops at the next flag (quirk Q33, kept): missing values are nanoBragg's defaults."""
    s, warnings = parsed(["-cell", "100", "100", "-default_F", "100"])
    assert s.cell[:3] == (100.0, 100.0, 0.0) and s.default_F == 100.0
    assert warnings == ["-cell with 2 values: c = a, alpha = 90, beta = 90, gamma = 90, as nanoBragg does"]
    assert parsed(["-cell", "1", "2", "3", "90", "90", "90"])[1] == []


@pytest.mark.parametrize("flag,field", [("-geom", "geomfilename"), ("-expt", "exptfilename")])
def test_detector_file_flags_fire_nothing_of_nanobraggs(flag, field):
    """-geom and -expt are matched exactly and contain no nanoBragg flag's name."""
    from nbgpu.setup.flags import FLAGS
    assert changes([flag, "x.geom"]) == ({field}, [])
    for rule in FLAGS:
        if not rule.nbgpu:
            for name in rule.names:
                assert name not in flag, name
    assert changes([flag + "s", "x.geom"])[0] == set()


def test_sf_column_fires_nothing_of_nanobraggs():
    """nbgpu's -sf_column is matched exactly and contains no nanoBragg flag's name."""
    from nbgpu.setup.flags import FLAGS
    assert changes(["-sf_column", "FP"]) == ({"sf_column"}, [])
    for rule in FLAGS:
        if not rule.nbgpu:
            for name in rule.names:
                assert name not in "-sf_column", name
    assert changes(["-sf_column_x", "FP"])[0] == set()


@pytest.mark.parametrize("module", ["nbgpu.setup.flags", "nbgpu.setup.nonbragg_flags", "nbgpu.setup.noisify"])
def test_every_flag_nbgpu_adds_fires_only_itself(module):
    """A flag nbgpu adds to a program is matched exactly and holds none of that program's own
    flag names (which match as substrings), so a script written for the canonical program sees
    no change, and nbgpu's flag fires nothing of the program's."""
    import importlib
    table = importlib.import_module(module).TABLE
    canonical = [name for rule in table.rules if not rule.nbgpu for name in rule.names]
    # Q20: nanoBragg's -pix0_vector fires on -pix0_vector_mm too, as in the C; nbgpu's rule only
    # reads the millimetres for its warning about the recomputed origin
    overlapping = {"-pix0_vector_mm"}
    for rule in table.rules:
        if rule.nbgpu:
            assert rule.match == "exact", rule.names
            for name in set(rule.names) - overlapping:
                assert [c for c in canonical if c in name] == [], (table.program, name)
                assert table.rules_matching(name) == (rule,), name


@pytest.mark.parametrize("flag,field", [("-k_sol", "k_sol"), ("-B_sol", "B_sol"), ("-B_add", "B_add")])
def test_model_flags_fire_nothing_of_nanobraggs(flag, field):
    """-hkl MODEL's solvent and B flags set their own field only (their names are checked by
    test_every_flag_nbgpu_adds_fires_only_itself); -B_add takes a negative value (-10 removes
    B) without a warning, while a negative solvent density or B is refused (setup.flags.MODEL_CHECKS,
    `nbgpu sf`'s rule too)."""
    assert changes([flag, "0.35"]) == ({field}, [])
    if flag == "-B_add":
        s, warnings = parsed([flag, "-10"])
        assert getattr(s, field) == -10.0 and warnings == []
    else:
        with pytest.raises(InputError, match=f"^{flag}: value must not be negative"):
            parsed([flag, "-10"])
    assert changes([flag + "_x", "1"])[0] == set()

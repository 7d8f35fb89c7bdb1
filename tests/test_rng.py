"""nanoBragg's random generators, checked against sequences the canonical program produced."""
import numpy as np
import pytest

from helpers import LOCAL_SUITE, read_maybe_gz, smv_pixels
from nbgpu._nbcore import ffi, lib
from nbgpu.base.cnumbers import RTD
from nbgpu.base.rng import Rng, umat2misset


class Grid:
    """The few nb_problem fields the image functions read (size and ROI)."""
    def __init__(self, fpixels, spixels):
        self.struct = ffi.new("nb_problem *")
        self.struct.fpixels, self.struct.spixels = fpixels, spixels
        self.struct.roi_xmin, self.struct.roi_xmax = 0, fpixels
        self.struct.roi_ymin, self.struct.roi_ymax = 0, spixels


def ran1_sequence(seeds_and_counts):
    state = ffi.new("nb_rng *")
    lib.nb_rng_init(state)
    out = []
    for seed, count in seeds_and_counts:
        box = ffi.new("long *", seed)
        out.append([lib.nb_ran1(state, box) for _ in range(count)])
    return out


def test_random_misset_reproduces_nanobragg_angles():
    # cases/misset_random_seeded: "-misset_seed 123 -misset random"
    umat, _ = Rng().mosaic_umat(90.0, -123)
    angles = [a * RTD for a in umat2misset(umat)]
    assert "%f %f %f" % tuple(angles) == "-95.137483 -23.687382 35.352280"


@pytest.mark.parametrize("case,seed", [("noise_seed_1", -1), ("noise_seed_2_nopgm", -2)])
def test_noise_image_reproduces_nanobragg(case, seed):
    """The reference float image through poidev gives the reference noise image, bit for bit."""
    folder = LOCAL_SUITE / "cases" / case
    image = np.frombuffer(read_maybe_gz(folder / "floatimage.bin"), dtype=np.float32).reshape(64, 64)
    header, expected = smv_pixels(read_maybe_gz(folder / "noiseimage.img"))
    rng = Rng()
    rng.mosaic_umat(0.0, -12345678)          # the one mosaic domain drawn before the noise
    out = np.zeros((64, 64), np.uint16)
    photons, overloads, _ = rng.noise_image(seed, Grid(64, 64), image, 40.0, out)
    assert np.array_equal(out.ravel(), expected)
    line = [l for l in read_maybe_gz(folder / "stdout.txt").decode().splitlines() if "photons on noise" in l][0]
    assert line == "%.0f photons on noise image (%d overloads)" % (photons, overloads)


def test_positive_seed_at_first_use_becomes_1_and_later_continues_the_table():
    (fresh_positive,), (fresh_minus_one,) = ran1_sequence([(5, 4)]), ran1_sequence([(-1, 4)])
    assert fresh_positive == fresh_minus_one
    # after an initialization, a positive seed continues with the existing shuffle table
    continued = ran1_sequence([(-7, 3), (5, 4)])[1]
    restarted = ran1_sequence([(-7, 3), (-5, 4)])[1]
    assert continued != restarted
    assert all(0.0 < x < 1.0 for x in continued + restarted)


def test_poidev_regimes():
    rng = ffi.new("nb_rng *")
    lib.nb_rng_init(rng)
    seed = ffi.new("long *", -3)
    before = seed[0]
    assert lib.nb_poidev(rng, 0.0, seed) == 0.0 and seed[0] != before   # still draws a deviate
    for mean in (3.5, 40.0, 4e6):            # direct, rejection and Gaussian regimes
        draws = np.array([lib.nb_poidev(rng, mean, seed) for _ in range(4000)])
        assert abs(draws.mean() - mean) < 5 * np.sqrt(mean / len(draws))
        if mean < 1e6:
            assert np.all(draws == np.floor(draws)) and draws.min() >= 0


def test_mosaic_rotations_are_rotations_within_the_cap():
    rng = Rng()
    seed = -12345678
    spread = 0.5 / RTD
    for _ in range(50):
        umat, seed = rng.mosaic_umat(spread, seed)
        u = np.array(umat).reshape(3, 3)
        assert np.allclose(u @ u.T, np.eye(3), atol=1e-12) and np.isclose(np.linalg.det(u), 1.0)
        angle = np.arccos(np.clip((np.trace(u) - 1) / 2, -1, 1))
        assert angle <= np.float32(spread) * (1 + 1e-6)


def test_a_state_taken_goes_on_with_the_same_draws():
    rng = Rng()
    rng.mosaic_umat(0.1, -5)
    kept = rng.state()
    again = Rng(kept)
    assert again.mosaic_umat(0.2, -7) == rng.mosaic_umat(0.2, -7)
    assert Rng().state() != kept                  # the draws moved it on from a fresh one


def noise_photons_one_by_one(state, expected, flicker, calibration, seed, calib_seed):
    """noisify's noise loop through the exported generators, one call per draw (the checked,
    exact path: every log and exp computed, the reload test at every draw)."""
    seed_box, calib_box = ffi.new("long *", seed), ffi.new("long *", calib_seed)
    counts = []
    for value in expected:
        mean = float(value)
        if flicker > 0.0:
            mean *= 1.0 + flicker * lib.nb_gaussdev(state, seed_box)
        if calibration > 0.0:
            mean *= 1.0 + calibration * lib.nb_gaussdev(state, calib_box)
        counts.append(lib.nb_poidev(state, float(np.float32(mean)), seed_box))
    return np.array(counts, dtype=np.float32), seed_box[0], calib_box[0]


@pytest.mark.parametrize("flicker,calibration,seed,calib_seed,spare_first", [
    (0.0, 0.03, -7, 123456789, False), (0.0, 0.03, -7, -5, True), (0.0, 0.5, -11, 3, False),
    (0.0, 2.0, -1, -2, True), (0.1, 0.03, -7, 123456789, False), (0.0, 0.0, -3, 1, False)])
def test_noise_loop_draws_as_the_generators_one_by_one(flicker, calibration, seed, calib_seed, spare_first):
    """nb_noise_photons' fast paths (the reload test hoisted; with calibration noise alone, the
    product loop deciding with bounds on exp(-xm) and the pairs of gaussdev taken two pixels at a
    time) give the exact sequence of the one-call-per-draw generators: faint and bright means,
    means near 12 and 1e6, zeros, negatives, NaN and infinities, an odd pixel count, a spare
    pending at the start, and a second call going on from the first."""
    rng = np.random.default_rng(20)
    expected = np.concatenate([rng.uniform(0.0, 6.0, 3001), rng.uniform(11.0, 13.0, 400),
                               rng.gamma(2.0, 40.0, 300), [0.0, -1.5, np.nan, np.inf, -np.inf, 2e6, 11.99999]]
                              ).astype(np.float32)
    rng.shuffle(expected)
    ours, theirs = Rng().c_state(), ffi.new("nb_rng *")
    lib.nb_rng_init(theirs)
    if spare_first:            # a Box-Muller spare pending when the loop starts
        box = ffi.new("long *", -99)
        lib.nb_gaussdev(ours, box)
        lib.nb_gaussdev(theirs, ffi.new("long *", -99))
        seed, calib_seed = box[0], calib_seed
    want, want_seed, want_calib = noise_photons_one_by_one(theirs, expected, flicker, calibration, seed, calib_seed)
    got = np.empty_like(expected)
    seed_box, calib_box = ffi.new("long *", seed), ffi.new("long *", calib_seed)
    half = len(expected) // 2 + 1
    for start, stop in ((0, half), (half, len(expected))):
        lib.nb_noise_photons(ours, ffi.from_buffer("float[]", expected[start:stop]),
                             ffi.from_buffer("float[]", got[start:stop]), stop - start, flicker, calibration,
                             seed_box, calib_box)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert (seed_box[0], calib_box[0]) == (want_seed, want_calib)
    # the shuffle table and a pending spare as the generators leave them (a spare already taken
    # is not read again; poidev's cache holds values that depend only on the mean it names)
    assert ours.gauss_has_spare == theirs.gauss_has_spare
    assert not ours.gauss_has_spare or ours.gauss_spare == theirs.gauss_spare
    assert bytes(ffi.buffer(ours))[:ffi.offsetof("nb_rng", "gauss_has_spare")] == \
        bytes(ffi.buffer(theirs))[:ffi.offsetof("nb_rng", "gauss_has_spare")]


@pytest.mark.parametrize("which,last", [(0, 0x3F800000), (1, 0x41400000)])
def test_draw_bounds_hold_on_a_sample_of_floats(which, last):
    """The claims the noise loop's bounds rest on (nb_draw_bounds.h), on every 997th float and
    the floats near the ends and the tables' bucket edges; bench/draws_proof.py checks every
    float (docs/noisify.md)."""
    assert lib.nb_draw_bounds_check(0, last, 997, which) == 0
    for edge in list(range(0, last, 1 << 17))[::7] + [last - 4096]:
        assert lib.nb_draw_bounds_check(max(edge - 64, 0), min(edge + 64, last), 1, which) == 0


def test_ran1_clamp_is_a_min():
    """ran1's clamp at RNMX = 1 - 1.2e-7 is min(deviate, (float)RNMX): the deviate is monotone in
    iy, and the first iy whose deviate passes RNMX (2147483328) gives that float or more."""
    am, rnmx = 1.0 / 2147483647, 1.0 - 1.2e-7
    deviate = lambda iy: float(np.float32(am * iy))   # noqa: E731  (float)(AM * iy), compared as a double
    top = float(np.float32(rnmx))
    assert deviate(2147483327) <= rnmx < deviate(2147483328)
    assert deviate(2147483327) < top <= deviate(2147483328)
    assert all(deviate(iy) >= top for iy in (2147483328, 2147483400, 2147483646))

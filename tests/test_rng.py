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

"""nanoBragg's random generators (C, through cffi): one shared state per run, as nanoBragg has.

Seeds are C longs that the generators update; nanoBragg draws in program order from the same
state: random misset (misset seed), mosaic domains (mosaic seed), noise image (noise seed).
"""
from nbgpu._nbcore import ffi, lib


class Rng:
    def __init__(self, state: bytes | None = None):
        """A fresh generator, or one that goes on from a state() taken earlier."""
        self._state = ffi.new("nb_rng *")
        if state is None:
            lib.nb_rng_init(self._state)
        else:
            ffi.memmove(self._state, state, ffi.sizeof("nb_rng"))

    def c_state(self):
        """The C state itself, for the engine's loops that draw as they go (noisify's)."""
        return self._state

    def state(self) -> bytes:
        """A copy of where the generator stands (a prepared setup keeps it for the noise)."""
        return bytes(ffi.buffer(self._state))

    def mosaic_umat(self, mosaicity: float, seed: int) -> tuple[list, int]:
        """A random rotation within a cap of `mosaicity` radians; returns (matrix, new seed)."""
        box = ffi.new("long *", seed)
        umat = ffi.new("double[9]")
        lib.nb_mosaic_umat(self._state, mosaicity, umat, box)
        return list(umat), box[0]

    def noise_image(self, seed: int, problem, image, adc: float, out) -> tuple[float, int, int]:
        """Fill `out` (C unsigned short[]) with a Poisson image of `image` (C float[]);
        returns (photons, overloads, new seed)."""
        box = ffi.new("long *", seed)
        overloads = ffi.new("int *")
        photons = lib.nb_noise_image(self._state, box, problem.struct, c_array("float[]", image), adc,
                                     c_array("unsigned short[]", out), overloads)
        return photons, overloads[0], box[0]

    def noise_photons(self, expected, count: int, flicker: float, calibration: float, seed: int,
                      calib_seed: int, counts=None) -> tuple[float, int, int]:
        """noisify's draws: per pixel of `expected` (`count` C floats) a flicker factor (seed) when
        flicker > 0, a calibration factor (calib_seed) when calibration > 0, then a Poisson count
        (seed), into `counts` (default: in place).  Returns (sum of the counts, new seed, new
        calib_seed)."""
        box, calib_box = ffi.new("long *", seed), ffi.new("long *", calib_seed)
        expected = c_array("float[]", expected)
        counts = expected if counts is None else c_array("float[]", counts)
        total = lib.nb_noise_photons(self._state, expected, counts, count, flicker, calibration, box, calib_box)
        return total, box[0], calib_box[0]

    def noise_words(self, expected, width: int, height: int, flicker: float, calibration: float, seed: int,
                    calib_seed: int, gain: float, adc: float, bits: int, counts, out16, out32) -> tuple:
        """noise_photons into `counts` and, for a noise image without readout noise, its words
        (noisy_adu's) made from each row as it is drawn.  Returns (sum of the counts, overloads,
        new seed)."""
        box, calib_box, overloads = ffi.new("long *", seed), ffi.new("long *", calib_seed), ffi.new("int *")
        total = lib.nb_noise_words(self._state, c_array("float[]", expected), c_array("float[]", counts), width, height,
                                   flicker, calibration, box, calib_box, gain, adc, bits, out16, out32, overloads)
        return total, overloads[0], box[0]

    def noisy_adu(self, photons, count: int, gain: float, adc: float, readout: float, seed: int, bits: int,
                  out16, out32, summed: float | None = None) -> tuple[float, int, int]:
        """noisify's noise image: photons*gain + adc, plus readout*gaussdev(seed) when readout > 0,
        into out16 and out32; returns (sum of the photons, overloads of `bits`, new seed).
        summed: the photons' sum when the caller has it (the draws' own), which saves a serial pass."""
        box, overloads = ffi.new("long *", seed), ffi.new("int *")
        total = lib.nb_noisy_adu(self._state, c_array("float[]", photons), count, gain, adc, readout,
                                 box, bits, c_array("unsigned short[]", out16), c_array("unsigned int[]", out32),
                                 overloads, summed is None)
        return (total if summed is None or readout > 0.0 else summed), overloads[0], box[0]


def c_array(ctype, data):
    """A C array as it is; a numpy array (or other buffer) as a C view of its memory."""
    return data if isinstance(data, ffi.CData) else ffi.from_buffer(ctype, data)


def umat2misset(umat) -> list:
    """x, y, z rotation angles (radians) reproducing a rotation matrix."""
    angles = ffi.new("double[3]")
    lib.nb_umat2misset(ffi.new("double[9]", list(umat)), angles)
    return list(angles)

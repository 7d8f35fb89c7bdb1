"""nonBragg's C engine (csrc/nb_amorphous.c through cffi): the problem struct built from a
nonBragg setup, the render in blocks of rows (the caller prints the meter between them), the
statistics, conversions, noise image and the -img profile, all in nonBragg's order and rounding.
"""
from __future__ import annotations

import math

from nbgpu._nbcore import ffi, lib
from nbgpu.base.vectors import unitize

BLOCK_SUBPIXELS = 1 << 20       # sub-pixels per block of rows (the solid-angle scratch: 8 bytes each)


class Amorphous:
    """The struct and the arrays it points to (kept alive as long as it is)."""

    def __init__(self, setup, threads: int = 0):
        self.setup = setup
        g, src, t, f = setup.geometry, setup.sources, setup.table, setup.flags
        p = ffi.new("nba_problem *")
        self._keep = []
        p.fpixels, p.spixels = g.fpixels, g.spixels
        p.xmin, p.xmax, p.ymin, p.ymax = g.roi
        p.oversample = setup.oversample
        p.pixel_size, p.subpixel_size = g.pixel_size, setup.subpixel_size
        for name in ("fdet", "sdet", "odet", "pix0", "beam"):
            setattr(p, name, list(getattr(g, name)))
        p.distance, p.close_distance = g.distance, g.close_distance
        p.curved, p.point_pixel, p.nopolar, p.fmap = g.curved, g.point_pixel, f.nopolar, f.fmap
        p.kahn = f.polarization
        p.polar_axes = len(setup.polar_axes)
        p.polar_axis = self.doubles([x for v in setup.polar_axes for x in v])
        incident, incident_polar = [], []
        for x, y, z in zip(src.X, src.Y, src.Z):
            first, _ = unitize([-x, -y, -z])
            again, _ = unitize(first)
            incident += first
            incident_polar += again
        p.sources = len(src.wavelength)
        p.incident, p.incident_polar = self.doubles(incident), self.doubles(incident_polar)
        p.source_lambda, p.source_I = self.doubles(src.wavelength), self.doubles(src.I)
        p.stols, p.stol_of, p.F_of = t.count, self.doubles(t.stol), self.doubles(t.F)
        # a source without a wavelength or direction gives an infinite or NaN stol, which
        # leaves the table search stuck past the table's end for the pixels that follow
        # (nonBragg's order then matters even for an increasing table)
        sane = all(math.isfinite(w) and w > 0.0 for w in src.wavelength) and all(map(any, zip(src.X, src.Y, src.Z)))
        p.monotonic = t.monotonic and sane
        if p.monotonic:
            self.buckets(p, t)
        den = ffi.new("double[]", 4 * len(t.stol))
        lib.nba_polint_denominators(p.stol_of, len(t.stol), den)
        self._keep.append(den)
        p.polint_den = den
        p.threads = threads
        p.r_e_sqr, p.fluence = 7.94079248018965e-30, setup.sample.fluence
        p.molecules, p.steps = setup.sample.molecules, float(setup.steps)
        pixels = self.count = g.fpixels * g.spixels
        self.image = ffi.new("float[]", pixels + 1)        # zeros, one more than the pixels: nonBragg's rmsd reads it
        self.F_image = self.bin_of = None
        if setup.img is not None:
            import numpy as np
            img = np.ascontiguousarray(setup.img.reshape(-1)[:pixels], dtype=np.float32)
            self._keep.append(img)
            p.img = ffi.from_buffer("float[]", img)
            ignore = np.array(f.ignore, dtype=np.uint16)
            self._keep.append(ignore)
            p.ignores = len(f.ignore)
            p.ignore = ffi.from_buffer("unsigned short[]", ignore)
            p.adc, p.gain = f.adc_offset, f.quantum_gain
            self.F_image = np.zeros(pixels, dtype=np.float32)
            self.bin_of = np.full(pixels, -1, dtype=np.int32)
            p.F_image = ffi.from_buffer("float[]", self.F_image)
            p.bin_of = ffi.from_buffer("int[]", self.bin_of)
        self.struct = p
        self._image_c = self.image

    def buckets(self, p, t):
        """Where to start the table search for a stol: any start ends at the same index in an
        increasing table, and one near the end takes few steps."""
        real = t.stol[2:t.count - 2]
        lo, hi = real[0], real[-1]
        count = min(4 * len(real), 1 << 20)
        if not hi > lo:
            return
        array = ffi.new("int[]", count)
        self._keep.append(array)
        p.buckets, p.bucket_start, p.bucket_lo, p.bucket_scale = count, array, lo, count / (hi - lo)
        lib.nba_fill_buckets(p, array)

    def doubles(self, values):
        array = ffi.new("double[]", list(values) or [0.0])
        self._keep.append(array)
        return array

    def region(self) -> tuple:
        """(first column, last column, first row, last row) rendered, inclusive."""
        g = self.setup.geometry
        xmin, xmax, ymin, ymax = g.roi
        return max(xmin, 0), min(xmax, g.fpixels - 1), max(ymin, 0), min(ymax, g.spixels - 1)

    def render(self, done=None):
        """The whole region, a block of rows at a time; done(rendered pixels so far) after each."""
        f0, f1, s0, s1 = self.region()
        width = f1 - f0 + 1
        if width <= 0 or s1 < s0:
            return
        rows = max(1, BLOCK_SUBPIXELS // (width * self.setup.oversample ** 2))
        scratch = ffi.new("double[]", rows * width * self.setup.oversample ** 2)
        for s in range(s0, s1 + 1, rows):
            end = min(s + rows, s1 + 1)
            lib.nba_render_rows(self.struct, s, end, self._image_c, scratch)
            if done is not None:
                done((end - s0) * width)

    @property
    def omega_sum(self) -> float:
        return self.struct.omega_sum

    def pixels(self):
        """The float image as numpy (slow x fast), a view of the rendered values."""
        import numpy as np
        g = self.setup.geometry
        return np.frombuffer(self.float_bytes(), dtype=np.float32).reshape(g.spixels, g.fpixels)

    def float_bytes(self):
        """The float image's bytes, as nonBragg writes them."""
        return ffi.buffer(self.image, 4 * self.count)

    def value(self, index: int) -> float:
        return self.image[index]

    def stats(self):
        out = ffi.new("nba_stats *")
        lib.nba_image_stats(self.struct, self._image_c, out)
        return out

    def rmsd(self, mean: float) -> float:
        return lib.nba_rmsd(self.struct, self._image_c, mean)

    def convert(self, int_scale: float, adc: float, pgm_scale: float):
        """(SMV ints, PGM bytes) of the region, as C arrays; 0 elsewhere."""
        ints, pgm = ffi.new("unsigned short[]", self.count), ffi.new("unsigned char[]", self.count)
        lib.nba_convert(self.struct, self._image_c, int_scale, adc, ints, pgm_scale, pgm)
        return ints, pgm

    def noise(self, seed: int, adc: float):
        """(noise image, photons, overloads): a fresh generator from `seed`, over the region."""
        state = ffi.new("nb_rng *")
        lib.nb_rng_init(state)
        box, overloads = ffi.new("long *", seed), ffi.new("int *")
        out = ffi.new("unsigned short[]", self.count)
        photons = lib.nba_noise(self.struct, state, box, self._image_c, adc, out, overloads)
        return out, photons, overloads[0]

    def profile(self):
        """-img: (counts, mean F, rms deviation) per table bin (numpy arrays over every bin)."""
        import numpy as np
        stols = self.setup.table.count
        counts = np.bincount(self.bin_of[self.bin_of >= 0], minlength=stols).astype(np.uint32)[:stols]
        avg, rmsd = np.zeros(stols, dtype=np.float32), np.zeros(stols, dtype=np.float32)
        lib.nba_profile(self.struct, ffi.from_buffer("unsigned int[]", counts), ffi.from_buffer("float[]", avg),
                        ffi.from_buffer("float[]", rmsd))
        return counts, avg, rmsd

    def trace(self, fpixel: int, spixel: int) -> list:
        """(stol, x, y, z, polarization, solid angle) of a pixel's last evaluation."""
        out = ffi.new("double[6]")
        f0, f1, s0, _ = self.region()
        first = ((spixel - s0) * (f1 - f0 + 1) + (fpixel - f0)) * self.setup.steps
        lib.nba_trace_pixel(self.struct, fpixel, spixel, first, out)
        return list(out)

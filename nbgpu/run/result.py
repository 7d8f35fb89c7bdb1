"""What nbgpu.simulate and the Simulator return: the rendered image with nanoBragg's statistics
and the setup behind it."""
from __future__ import annotations

from nbgpu.engine.image import convert_image
from nbgpu.run import outputs


class Result:
    """A rendered image with nanoBragg's statistics and the setup behind it.

    `image` is a (slow, fast) float32 numpy array over the render's own buffer, `pixels`;
    `panels` the same as (panel, slow, fast): a -geom/-expt detector's panels stacked (each in
    its own rows; a smaller panel's extra pixels are 0), one panel as (1, slow, fast);
    `setup` holds the parsed flags and every stage's record (flags, detector, beam, sampling,
    crystal, structure_factors are its shortcuts).

    A Simulator built with background= and/or detector_noise= fills four more (None otherwise):
    `background`, the nonBragg image (float32, read-only: the same array on every frame);
    `total`, image + background as float32 (image alone without a background): the photons/pixel
    noisify was given; `detector_noise`, noisify's run.noisify.NoisifyResult on `total`
    (noise_array(), noiseless_array(), photons, files); `noise_seed`, the -seed it drew with."""

    def __init__(self, rendered, stats, problem, noise: outputs.NoiseSource, engine, written=None):
        self.pixels = rendered.pixels
        self.rendered = rendered
        self.max_I, self.max_I_x, self.max_I_y = stats.max_I, stats.max_I_x, stats.max_I_y
        self.mean, self.rms, self.rmsd = stats.mean, stats.rms, stats.rmsd
        self.problem, self.setup, self.engine = problem, problem.setup, engine
        self._stats, self._noise = stats, noise
        self.written = written         # (int image, noise image or None) written to files, as C arrays
        self.background = None         # Simulator(background=): nonBragg's float32 image, or None
        self.total = None              # image + background (float32), what detector noise was drawn on
        self.detector_noise = None     # Simulator(detector_noise=): noisify's NoisifyResult on total
        self.noise_seed = None         # the noisify -seed of detector_noise

    flags = property(lambda self: self.setup.flags)
    detector = property(lambda self: self.setup.detector)
    beam = property(lambda self: self.setup.beam)
    sampling = property(lambda self: self.setup.sampling)
    crystal = property(lambda self: self.setup.crystal)
    structure_factors = property(lambda self: self.setup.structure_factors)

    @property
    def image(self):
        return self._as_array(self.pixels, "float32")

    @property
    def panels(self):
        """(panel, slow, fast) float32: the image of each panel (setup.panels: their names, sizes
        and placements)."""
        image = self.image
        count = 1 if self.setup.panels is None else self.setup.panels.count
        return image.reshape(count, image.shape[0] // count, image.shape[1])

    @property
    def stats(self) -> dict:
        return {k: getattr(self, k) for k in ("max_I", "max_I_x", "max_I_y", "mean", "rms", "rmsd")}

    def int_image(self):
        """The SMV integer image nanoBragg writes (scale and ADC offset as set), (slow, fast) uint16."""
        ints, _ = convert_image(self.problem, self.pixels, outputs.int_scale(self.flags.intfile_scale, self._stats),
                                self.flags.adc_offset)
        return self._as_array(ints, "uint16")

    def noise_image(self):
        """A Poisson noise image as nanoBragg writes it; each call draws the next one from the
        run's generator (after the -noisefile image, when the run wrote files)."""
        return self._as_array(self._noise.draw(self.problem, self.pixels)[0], "uint16")

    def _as_array(self, cdata, dtype):
        return outputs.as_image(cdata, self.setup, dtype)

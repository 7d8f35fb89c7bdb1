"""The one "problem" every engine renders: nb_problem (nbgpu/engine/kernels/nb_problem.h) assembled from
the setup's records.

Everything that does not depend on the pixel is computed here once: the lattice vectors per
(phi step, mosaic domain) -- the phi = 0 carry-over included -- the constants, and (in C,
nb_kahn_frames and nb_derive) the polarization frame of each source and the derived fields.
The C arrays behind its pointers (`arrays`) live as long as the Problem.
"""
from nbgpu._nbcore import ffi, lib
from nbgpu.base.errors import InputError
from nbgpu.setup.cache import NoCache
from nbgpu.setup.crystal import lattice_table, phi_rotations
from nbgpu.setup.prepare import R_E_SQR, Setup

SHAPES = {"square": 0, "round": 1, "gauss": 2, "tophat": 3}


class Problem:
    def __init__(self, setup: Setup, shared=NoCache):
        """`shared` (setup.cache.InputCache) hands over the previous run's tables whose inputs are
        the same."""
        self.arrays = {}                  # name -> C array behind the pointer of that name
        self.setup = setup
        f, d, b, sm, c, sf = (setup.flags, setup.detector, setup.beam, setup.sampling, setup.crystal,
                              setup.structure_factors)
        self.struct = p = ffi.new("nb_problem *")
        p.fpixels, p.spixels = d.fpixels, d.spixels
        p.roi_xmin, p.roi_xmax, p.roi_ymin, p.roi_ymax = d.roi
        p.mask = self._pointer("mask", None if setup.mask_pixels is None else shared.derived(
            ("mask", d.fpixels, d.spixels), setup.mask_pixels, lambda: self.mask_flags(setup)))
        p.oversample = setup.oversample
        p.pixel_size, p.subpixel_size = d.pixel_size, setup.subpixel_size
        p.pix0, p.fdet, p.sdet, p.odet, p.beam = d.pix0, d.fdet, d.sdet, d.odet, d.beam
        p.distance, p.close_distance = d.distance, d.close_distance
        p.curved_detector, p.point_pixel = d.curved, d.point_pixel
        if setup.panels is not None:
            self.panel_table(p, setup.panels)
        p.thicksteps, p.thickstep = sm.thicksteps, sm.thickstep
        p.detector_thick, p.detector_mu = sm.thick, sm.mu

        p.nsources = b.sources
        p.source_dir = self._pointer("source_dir", shared.derived(
            "source_dir", (b.source_dir,), lambda: ffi.new("double[]", [x for v in b.source_dir for x in v])))
        p.source_lambda = self._pointer("source_lambda", shared.derived(
            "source_lambda", (b.source_lambda,), lambda: ffi.new("double[]", b.source_lambda)))
        p.dmin = f.dmin
        p.kahn_factor, p.polar_vector, p.nopolar = b.kahn_factor, b.polar, b.nopolar
        p.oversample_thick, p.oversample_polar, p.oversample_omega = (
            f.oversample_thick, f.oversample_polar, f.oversample_omega)

        p.phisteps, p.mosaic_domains = sm.phisteps, sm.mosaic_domains
        p.lattice, p.lattice_first = (self._pointer(name, table) for name, table in zip(
            ("lattice", "lattice_first"), shared.derived("lattice", (c, sm), lambda: self.lattice_tables(c, sm))))
        p.xtal_shape = SHAPES[c.shape]
        p.Na, p.Nb, p.Nc, p.fudge = c.size.Na, c.size.Nb, c.size.Nc, c.fudge
        p.a_star, p.b_star, p.c_star = c.lattice.a_star, c.lattice.b_star, c.lattice.c_star

        p.default_F = f.default_F
        if sf is not None:
            p.Fhkl = self._pointer("Fhkl", sf.values)
            p.hkls = sf.hkls
            p.h_min, p.h_max, p.k_min, p.k_max, p.l_min, p.l_max = (
                sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max)
            p.h_range, p.k_range, p.l_range = sf.h_range, sf.k_range, sf.l_range

        p.I_bg, p.water_size = setup.I_bg, f.water_size
        p.r_e_sqr, p.fluence, p.steps = R_E_SQR, b.fluence, float(setup.steps)
        p.kahn_frames = self._pointer("kahn_frames", shared.derived(
            "kahn_frames", (b.source_dir, b.polar), lambda: self.kahn_frames(p)))
        lib.nb_derive(p)

    def panel_table(self, p, panels):
        """A multi-panel detector: each panel's placement (nb_panel) and the stacked image's mask."""
        p.npanels, p.panel_rows = panels.count, panels.rows
        table = ffi.new("nb_panel[]", panels.count)
        for entry, d in zip(table, panels.detectors):
            entry.pix0, entry.fdet, entry.sdet, entry.odet = d.pix0, d.fdet, d.sdet, d.odet
            entry.distance, entry.close_distance = d.distance, d.close_distance
        p.panels = self._pointer("panels", table)
        if panels.mask is not None:
            p.mask = self._pointer("mask", ffi.from_buffer("unsigned char[]", panels.mask))

    def panel_views(self) -> list:
        """The one-panel problems the image is rendered as, in row order: the struct itself, or
        each panel of a multi-panel detector as nb_panel_view makes it (its rows, its block of the
        mask, its geometry and what is derived from it), for an engine that renders panel by panel.
        The views point into this Problem's arrays: they live no longer than it."""
        p = self.struct
        if p.npanels <= 0:
            return [p]
        views = [ffi.new("nb_problem *") for _ in range(p.npanels)]
        for index, view in enumerate(views):
            lib.nb_panel_view(p, index, view)
        return views

    def _pointer(self, name, array):
        """The C array's address for a pointer field (NULL for None); the Problem keeps it."""
        if array is None:
            return ffi.NULL
        self.arrays[name] = array
        return array

    @staticmethod
    def lattice_tables(c, sm):
        """(steady, first-sweep) lattice tables as C arrays."""
        steady, first = phi_rotations(c, sm)
        return ffi.new("double[]", lattice_table(c, sm, steady)), ffi.new("double[]", lattice_table(c, sm, first))

    @staticmethod
    def kahn_frames(p):
        """nb_polarization's frame of each source, as a C array."""
        frames = ffi.new("double[]", 9 * max(1, p.nsources))
        lib.nb_kahn_frames(p, frames)
        return frames

    @staticmethod
    def mask_flags(setup):
        """-mask pixels as 0/1 flags, checked against the final detector size."""
        f, d, pixels = setup.flags, setup.detector, setup.mask_pixels
        if pixels is None:
            return None
        height, width = pixels.shape
        if (width, height) != (d.fpixels, d.spixels):
            raise InputError(f"-mask {f.maskfilename}: mask is {width}x{height} pixels but the detector "
                             f"is {d.fpixels}x{d.spixels}")
        flags = ffi.new("unsigned char[]", width * height)
        ffi.memmove(flags, (pixels != 0).astype("uint8").tobytes(), width * height)
        return flags

    def rendered_count(self) -> int:
        """Pixels nanoBragg renders: inside the ROI, unmasked."""
        return lib.nb_rendered_count(self.struct)

    def is_rendered(self, fpixel, spixel) -> bool:
        return bool(lib.nb_is_rendered(self.struct, fpixel, spixel))

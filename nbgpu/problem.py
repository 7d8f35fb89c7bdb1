"""The one "problem" every engine renders: nb_problem (csrc/nb_problem.h) filled from the setup.

Everything that does not depend on the pixel is computed here once: unit source vectors,
the lattice vectors per (phi step, mosaic domain) -- the phi = 0 carry-over included -- and
the constants.  The C arrays behind its pointers (`arrays`) live as long as the Problem.
"""
from ._nbcore import ffi, lib
from .crystal import AVOGADRO, lattice_table, phi_rotations
from .errors import InputError

R_E_SQR = 7.94079248018965e-30          # Thomson cross section, m^2
WATER_F, WATER_MW = 2.57, 18.0
SHAPES = {"square": 0, "round": 1, "gauss": 2, "tophat": 3}


class Problem:
    def __init__(self, s, structure_factors):
        self.arrays = {}                  # name -> C array behind the pointer of that name
        self.settings = s
        self.struct = p = ffi.new("nb_problem *")
        p.fpixels, p.spixels = s.fpixels, s.spixels
        p.roi_xmin, p.roi_xmax, p.roi_ymin, p.roi_ymax = s.roi
        p.mask = self._pointer("mask", self.mask_flags(s))
        p.oversample = s.oversample
        p.pixel_size, p.subpixel_size = s.pixel_size, s.subpixel_size
        p.pix0, p.fdet, p.sdet = s.pix0_vector, s.fdet_vector, s.sdet_vector
        p.odet, p.beam = s.odet_vector, s.beam_vector
        p.distance, p.close_distance = s.distance, s.close_distance
        p.curved_detector, p.point_pixel = s.curved_detector, s.point_pixel
        p.thicksteps, p.thickstep = s.detector_thicksteps, s.detector_thickstep
        p.detector_thick, p.detector_mu = s.detector_thick, s.detector_mu

        p.nsources = s.sources
        p.source_dir = self._pointer("source_dir", ffi.new("double[]", [x for v in s.source_dir for x in v]))
        p.source_lambda = self._pointer("source_lambda", ffi.new("double[]", s.source_lambda))
        p.dmin = s.dmin
        p.kahn_factor, p.polar_vector = s.polarization, s.polar_vector
        p.nopolar = s.nopolar
        p.oversample_thick, p.oversample_polar, p.oversample_omega = (
            s.oversample_thick, s.oversample_polar, s.oversample_omega)

        p.phisteps, p.mosaic_domains = s.phisteps, s.mosaic_domains
        steady, first = phi_rotations(s)
        p.lattice = self._pointer("lattice", ffi.new("double[]", lattice_table(s, steady)))
        p.lattice_first = self._pointer("lattice_first", ffi.new("double[]", lattice_table(s, first)))
        p.xtal_shape = SHAPES[s.xtal_shape]
        p.Na, p.Nb, p.Nc, p.fudge = s.Na, s.Nb, s.Nc, s.fudge
        p.a_star, p.b_star, p.c_star = s.a_star, s.b_star, s.c_star

        sf = structure_factors
        p.default_F = s.default_F
        if sf is not None:
            p.Fhkl = self._pointer("Fhkl", sf.values)
            p.hkls = sf.hkls
            p.h_min, p.h_max, p.k_min, p.k_max, p.l_min, p.l_max = (
                sf.h_min, sf.h_max, sf.k_min, sf.k_max, sf.l_min, sf.l_max)
            p.h_range, p.k_range, p.l_range = sf.h_range, sf.k_range, sf.l_range

        p.I_bg, p.water_size = s.I_bg, s.water_size
        p.r_e_sqr, p.fluence, p.steps = R_E_SQR, s.fluence, float(s.steps)

    def _pointer(self, name, array):
        """The C array's address for a pointer field (NULL for None); the Problem keeps it."""
        if array is None:
            return ffi.NULL
        self.arrays[name] = array
        return array

    @staticmethod
    def mask_flags(s):
        """-mask pixels as 0/1 flags, checked against the final detector size."""
        if s.mask_pixels is None:
            return None
        height, width = s.mask_pixels.shape
        if (width, height) != (s.fpixels, s.spixels):
            raise InputError(f"-mask {s.maskfilename}: mask is {width}x{height} pixels but the detector "
                             f"is {s.fpixels}x{s.spixels}")
        flags = ffi.new("unsigned char[]", width * height)
        ffi.memmove(flags, (s.mask_pixels != 0).astype("uint8").tobytes(), width * height)
        return flags

    def rendered_count(self) -> int:
        """Pixels nanoBragg renders: inside the ROI, unmasked."""
        return lib.nb_rendered_count(self.struct)

    def is_rendered(self, fpixel, spixel) -> bool:
        return bool(lib.nb_is_rendered(self.struct, fpixel, spixel))


def scale_constants(s):
    """steps, sub-pixel size and the water background, as nanoBragg computes them (§17)."""
    if s.oversample <= 0:
        s.oversample = 1
    s.steps = s.sources * s.mosaic_domains * s.phisteps * s.oversample * s.oversample
    s.subpixel_size = s.pixel_size / s.oversample
    s.I_bg = (WATER_F * WATER_F * R_E_SQR * s.fluence * s.water_size * s.water_size * s.water_size
              * 1e6 * AVOGADRO / WATER_MW)

"""nanoBragg's output files and the lines it prints about them (pipeline.md §19-§24).

Every file is written by one rule (io.files): all or none, each where its name points.
"""
import os

from nbgpu.engine.image import convert_image
from nbgpu._nbcore import ffi
from nbgpu.base.cnumbers import RTD, cformat
from nbgpu.base.errors import InputError
from nbgpu.io import SmvGeometry, float_image_parts, pgm_parts, save_files, smv_header_bytes, smv_parts
from nbgpu.io.files import check_output, file_key
from nbgpu.io.cbf import CbfDescription, CbfHeader, cbf_parts, describe
from nbgpu.io.crystfel_data import check_layout, write_layout
from nbgpu.io.nexus import NexusGeometry, NexusModule, NexusWriter, check_available, h5py_module, mcstas_basis, to_mcstas
from nbgpu.io.picture import PicturePanel, downstream, draw_picture, pillow


def output_names(f) -> list[tuple[str, str]]:
    """(flag, file) for every image this run will write."""
    names = [("-floatfile", f.floatfilename), ("-intfile", f.intfilename)]
    if f.write_pgm:
        names.append(("-pgmfile", f.pgmfilename))
    if f.calculate_noise:
        names.append(("-noisefile", f.noisefilename))
    names += [(flag, name) for flag, name, wanted in (
        ("-cbffile", f.cbffilename, True), ("-noisecbffile", f.noisecbffilename, f.calculate_noise),
        ("-nexusfile", f.nexusfilename, True), ("-layoutfile", f.layoutfilename, True),
        ("-pngfile", f.pngfilename, True)) if name is not None and wanted]
    return names


def check_distinct(named):
    """InputError when two of one run's outputs [(flag, name)] are one file, whatever names lead
    to it (file_key): the second would overwrite the first.  Devices and FIFOs may be shared."""
    seen = {}
    for flag, name in named:
        key = file_key(name)
        if key is None:
            continue
        if key in seen:
            raise InputError(f"{flag} {name}: also written by {seen[key][0]} {seen[key][1]}: give each output "
                             "its own name")
        seen[key] = (flag, name)


def check_flat(curved: bool, flag: str):
    """CBF and NXmx describe flat detectors: refuse to write one for -curved_det's sphere rather
    than a file whose geometry is not the image's."""
    if curved:
        raise InputError(f"{flag}: -curved_det renders on a sphere, which CBF and NeXus files cannot describe "
                         "(their geometry is a flat detector); leave out -curved_det or this file")


def check_flags(f):
    """What the flags alone tell of the outputs: each can be written, CBF and NeXus files get a
    flat detector, NeXus' compression is there.  The part of run.simulate.check_outputs a batch
    line is checked by before the files it reads exist."""
    check_distinct(output_names(f))
    for flag, name in output_names(f):
        check_output(flag, name)
        if flag in ("-cbffile", "-noisecbffile", "-nexusfile"):
            check_flat(f.curved_detector, flag)
    check_packages(f)


def check_packages(f):
    """Fail before rendering when an output's optional package is missing."""
    if f.nexusfilename is not None:
        check_available("-nexusfile", f.nexus_compression)
    if f.pngfilename is not None:
        pillow("-pngfile")
    if f.layoutfilename is not None:
        h5py_module("-layoutfile")


def check_layout_file(setup):
    """-layoutfile needs a detector file with a CrystFEL layout to follow (io.crystfel_data)."""
    if setup.flags.layoutfilename is not None:
        check_layout(None if setup.panels is None else setup.panels.described)


def cbf_description(setup) -> CbfDescription | None:
    """How the run's CBF files describe it (io.cbf.describe), or None when it writes none;
    InputError naming the first CBF flag it writes when no CBF can."""
    f = setup.flags
    flags = [flag for flag, _ in output_names(f) if flag in ("-cbffile", "-noisecbffile")]
    return describe(cbf_header(setup), flags[0]) if flags else None


def print_stats(stats, log):
    log(cformat("max_I = %g  at %g %g\n", stats.max_I, stats.max_I_x, stats.max_I_y))
    log(cformat("mean= %g rms= %g rmsd= %g\n", stats.mean, stats.rms, stats.rmsd))


def int_scale(requested, stats) -> float:
    """-scale, or nanoBragg's automatic one (55000 at the brightest pixel)."""
    if requested > 0.0:
        return requested
    return 55000.0 / stats.max_I if stats.max_I > 0.0 else 1.0


def pgm_scale(requested, stats, intfile_scale) -> float:
    """-pgmscale, or nanoBragg's automatic one (250 at five rmsd)."""
    if requested > 0.0:
        return requested
    return 250.0 / (5.0 * stats.rmsd) if stats.rmsd > 0.0 else intfile_scale


def smv_geometry(setup) -> SmvGeometry:
    """What the SMV headers say about the run's detector, beam and rotation."""
    d, fr, sm = setup.detector, setup.detector.frame, setup.sampling
    return SmvGeometry(fpixels=d.fpixels, spixels=d.spixels, pixel_size=d.pixel_size, distance=d.distance,
                       lambda0=setup.beam.lambda0, Xbeam=fr.Xbeam, Ybeam=fr.Ybeam, Fbeam=d.Fbeam, Sbeam=d.Sbeam,
                       detsize_s=fr.grid.detsize_s, close_distance=d.close_distance, dials_origin=d.dials_origin,
                       ORGX=d.ORGX, ORGY=d.ORGY, phi0=sm.phi0, osc=sm.osc, detector_twotheta=d.twotheta)


def cbf_header(setup) -> CbfHeader:
    """What a CBF file says of the run: the detector as rendered (io.cbf chooses the header)."""
    d, b, sm = setup.detector, setup.beam, setup.sampling
    return CbfHeader(fpixels=d.fpixels, spixels=d.spixels, pixel_size=d.pixel_size, wavelength=b.lambda0,
                     exposure=b.exposure.exposure, start_angle=sm.phi0 * RTD, angle_increment=sm.osc * RTD,
                     sensor_thickness=sm.thick, flux=b.exposure.flux,
                     kahn_factor=None if b.nopolar else b.kahn_factor, origin=d.pix0, fast_axis=d.fdet,
                     slow_axis=d.sdet, beam=b.direction, spindle=setup.crystal.spindle, polar=b.polar)


def placed_panels(setup) -> list:
    """(detector.Detector, (slow, fast) of its pixel (0, 0) in the image) of each panel: a
    -geom/-expt detector's panels stacked (setup/panels.py), or the one detector."""
    if setup.panels is None:
        return [(setup.detector, (0, 0))]
    return [(d, (i * setup.panels.rows, 0)) for i, d in enumerate(setup.panels.detectors)]


def nexus_geometry(setup, flag: str = "-nexusfile") -> NexusGeometry:
    """The run's geometry in NeXus' McStas frame (io.nexus), one module per panel; a curved
    detector is refused."""
    d, b = setup.detector, setup.beam
    check_flat(d.curved, flag)
    basis = mcstas_basis(b.direction)
    modules = tuple(NexusModule(fpixels=p.fpixels, spixels=p.spixels, origin=to_mcstas(basis, p.pix0),
                                fast_axis=to_mcstas(basis, p.fdet), slow_axis=to_mcstas(basis, p.sdet),
                                data_origin=corner) for p, corner in placed_panels(setup))
    return NexusGeometry(fpixels=d.fpixels, spixels=d.spixels, pixel_size=d.pixel_size, modules=modules,
                         spindle=to_mcstas(basis, setup.crystal.spindle),
                         wavelength=b.lambda0, exposure=b.exposure.exposure, flux=b.exposure.flux,
                         beam_size=b.exposure.beamsize, sensor_thickness=setup.sampling.thick)


def as_image(cdata, setup, dtype="uint16"):
    """A C image as a (slow, fast) numpy array over the same memory."""
    import numpy as np
    return np.frombuffer(ffi.buffer(cdata), dtype=dtype).reshape(setup.detector.spixels, setup.detector.fpixels)


def nexus_frame(setup, ints, noise=None, flag: str = "-nexusfile") -> tuple:
    """One frame for io.nexus (NexusStack.add, and NexusWriter.append without its first
    item): (geometry, int image, phi and oscillation in degrees, noise image or None)."""
    sm = setup.sampling
    return nexus_geometry(setup, flag), ints, sm.phi0 * RTD, sm.osc * RTD, noise


def nexus_writer(setup, ints, noise):
    """The -nexusfile writer for save_files: one frame, its rotation, its noise image."""
    def write(handle):
        frame = nexus_frame(setup, as_image(ints, setup), None if noise is None else as_image(noise, setup))
        writer = NexusWriter(handle, frame[0], setup.flags.nexus_compression, noise is not None)
        try:
            writer.append(*frame[1:])
            writer.close()
        except BaseException:
            writer.discard()
            raise
    return write


def panel_images(setup, pixels, dtype="float32") -> list:
    """Each panel's own (slow, fast) image, a view of the run's image (placed_panels)."""
    image = as_image(pixels, setup, dtype)
    return [image[row:row + d.spixels, col:col + d.fpixels] for d, (row, col) in placed_panels(setup)]


def rendered_pixels(setup) -> list:
    """Each panel's (slow, fast) bool array of the pixels rendered (not a gap or bad region,
    inside the -roi), or None where all were."""
    import numpy as np
    if setup.panels is not None:
        if setup.panels.mask is None:
            return [None] * setup.panels.count
        mask = np.frombuffer(setup.panels.mask, dtype=np.uint8).reshape(setup.detector.spixels, -1) != 0
        return [mask[row:row + d.spixels, col:col + d.fpixels] for d, (row, col) in placed_panels(setup)]
    d = setup.detector
    xmin, xmax, ymin, ymax = d.roi
    rendered = np.zeros((d.spixels, d.fpixels), dtype=bool)
    rendered[ymin:ymax + 1, xmin:xmax + 1] = True
    return [None if rendered.all() else rendered]


def check_picture(setup, flag: str = "-pngfile"):
    """Before rendering: the picture has a panel to show (each panel's shape, no pixels)."""
    if setup.flags.pngfilename is None:
        return
    import numpy as np
    check_flat(setup.detector.curved, flag)
    panels = [PicturePanel(origin=d.pix0, fast=d.fdet, slow=d.sdet, pixel_size=d.pixel_size,
                           image=np.broadcast_to(np.float32(0), (d.spixels, d.fpixels)), rendered=None)
              for d, _ in placed_panels(setup)]
    downstream(panels, mcstas_basis(setup.beam.direction), flag)


def picture(setup, pixels, flag: str = "-pngfile"):
    """The run's detector as seen from the sample (io.picture.Picture)."""
    check_flat(setup.detector.curved, flag)
    panels = [PicturePanel(origin=d.pix0, fast=d.fdet, slow=d.sdet, pixel_size=d.pixel_size, image=image,
                           rendered=rendered)
              for (d, _), image, rendered in zip(placed_panels(setup), panel_images(setup, pixels),
                                                  rendered_pixels(setup))]
    return draw_picture(panels, mcstas_basis(setup.beam.direction), setup.beam.lambda0, flag)


def extra_files(setup, pixels, ints, noise, log) -> list:
    """nbgpu's files of any detector, one or many panels: NeXus, the CrystFEL layout, the
    picture (written by save_files, each a function of the open file)."""
    f = setup.flags
    files = []
    if f.nexusfilename is not None:
        log("writing %s as NeXus (NXmx)%s\n" % (f.nexusfilename, " with the noise image" if noise else ""))
        files.append((f.nexusfilename, nexus_writer(setup, ints, noise)))
    if f.layoutfilename is not None:
        log("writing %s as HDF5 in the layout of %s\n" % (f.layoutfilename, setup.panels.source))
        files.append((f.layoutfilename, lambda handle: write_layout(handle, setup.panels.described,
                                                                    panel_images(setup, pixels))))
    if f.pngfilename is not None:
        log("writing %s as a picture of the detector\n" % f.pngfilename)
        files.append((f.pngfilename, lambda handle: handle.write(picture(setup, pixels).png)))
    return files


def write_outputs(problem, pixels, stats, noise, log, write=save_files):
    """Float, integer, PGM and noise images (and nbgpu's CBF and NeXus ones), in nanoBragg's
    order and with its messages; the files appear together at the end, all or none (`write`:
    save_files, or a writer that does the same in the background).  `noise` draws the
    noise image (NoiseSource).  Returns the (int, noise or None) images written."""
    setup = problem.setup
    f, d = setup.flags, setup.detector
    log("writing %s as %d %d-byte floats\n" % (f.floatfilename, d.fpixels * d.spixels, 4))
    files = [(f.floatfilename, float_image_parts(pixels))]
    print_stats(stats, log)
    scale = int_scale(f.intfile_scale, stats)
    scale_pgm = pgm_scale(f.pgm_scale, stats, scale) if f.write_pgm else None
    ints, pgm = convert_image(problem, pixels, scale, f.adc_offset, scale_pgm)
    geometry = smv_geometry(setup)
    log("intfile_scale = %g\n" % scale)
    log("writing %s as %d-byte integers\n" % (f.intfilename, 2))
    files.append((f.intfilename, smv_parts(smv_header_bytes(geometry), ints)))
    cbf = cbf_description(setup)         # both CBF files describe the run alike
    if f.cbffilename is not None:
        log("writing %s as %s 4-byte integers (byte offset)\n" % (f.cbffilename, cbf.kind()))
        files.append((f.cbffilename, cbf_parts(os.path.basename(f.cbffilename), cbf, as_image(ints, setup))))
    if f.write_pgm:
        log("pgm_scale = %g\n" % scale_pgm)
        log("writing %s as %d-byte integers\n" % (f.pgmfilename, 1))
        files.append((f.pgmfilename, pgm_parts(d.fpixels, d.spixels, scale_pgm, pgm)))
    image = None
    if f.calculate_noise:
        image, photons, overloads = noise.draw(problem, pixels)
        log(cformat("%.0f photons on noise image (%d overloads)\n", photons, overloads))
        log("writing %s as %d-byte integers\n" % (f.noisefilename, 2))
        files.append((f.noisefilename, smv_parts(smv_header_bytes(geometry, noise=True), image)))
        if f.noisecbffilename is not None:
            log("writing %s as %s 4-byte integers (byte offset)\n" % (f.noisecbffilename, cbf.kind()))
            files.append((f.noisecbffilename, cbf_parts(os.path.basename(f.noisecbffilename), cbf,
                                                         as_image(image, setup))))
    files += extra_files(setup, pixels, ints, image, log)
    write(files)
    return ints, image


class NoiseSource:
    """The run's random generator and noise seed (-seed, stored negated), which every noise
    image draws from in turn, as nanoBragg's one generator state does."""

    def __init__(self, rng, seed: int):
        self.rng, self.seed = rng, seed

    def draw(self, problem, pixels):
        """(Poisson image as a C array of unsigned short, photons, overloads)."""
        d = problem.setup.detector
        out = ffi.new("unsigned short[]", d.fpixels * d.spixels)
        photons, overloads, self.seed = self.rng.noise_image(self.seed, problem, pixels,
                                                             problem.setup.flags.adc_offset, out)
        return out, photons, overloads

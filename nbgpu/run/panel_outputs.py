"""The files of a multi-panel run (-geom/-expt).

Per panel, named from the flag's NAME.EXT as NAME_<i>.EXT (i the panel's index in the file,
zero-padded to the width of the largest): the float file (always, as nanoBragg's float image),
and, when the flag is typed, the integer (-intfile) and noise (-noisefile) SMV images.  Each holds
that panel's own fpixels x spixels pixels.  The integers share one scale (-scale, or nanoBragg's
automatic one from the brightest pixel of the whole detector), so that panels compare; each
SMV header is the one nanoBragg writes for the panel's equivalent single-panel run
(setup.panels.equivalent_argv: its size, distance, beam centre, ORGX/ORGY as that run places
them).  An SMV header cannot say how a panel is turned: the NXmx file (-nexusfile) describes
every panel's orientation, the CrystFEL layout (-layoutfile) and the picture (-pngfile) the
whole detector (run.outputs.extra_files, as for one panel).  No PGM image: -pngfile draws the
detector."""
from __future__ import annotations

import os

from nbgpu._nbcore import ffi
from nbgpu.base.cnumbers import cformat
from nbgpu.engine.image import convert_image
from nbgpu.io import save_files, smv_header_bytes
from nbgpu.io.files import check_output
from nbgpu.run import outputs
from nbgpu.setup import flags

PER_PANEL = (("-floatfile", "floatfilename"), ("-intfile", "intfilename"), ("-noisefile", "noisefilename"))


def panel_file_names(name, panels) -> list:
    """NAME_<i>.EXT of each panel."""
    stem, ext = os.path.splitext(name)
    width = len(str(panels.count - 1))
    return [f"{stem}_{i:0{width}d}{ext}" for i in range(panels.count)]


def asked(f, words) -> dict:
    """flag -> base name of the per-panel files a run with flags f from these words writes: the
    float file, and the SMV images whose flag the user typed (the noise one only while the
    noise is drawn)."""
    typed, _ = flags.parse(list(words), {"intfilename": None, "noisefilename": None})
    names = {"-floatfile": f.floatfilename}
    if typed.intfilename is not None:
        names["-intfile"] = f.intfilename
    if typed.noisefilename is not None and f.calculate_noise:
        names["-noisefile"] = f.noisefilename
    return names


def output_names(f, words, panels=None) -> list:
    """(flag, file) of every file the run writes; panels None (before the detector file is
    read: batch.programs): each per-panel file by its base name, from which its names follow."""
    per_panel = [(flag, name) for flag, base in asked(f, words).items()
                 for name in ([base] if panels is None else panel_file_names(base, panels))]
    return per_panel + [(flag, name) for flag, name in outputs.output_names(f)
                        if flag in ("-nexusfile", "-layoutfile", "-pngfile")]


def check_writable(setup):
    """Fail before rendering when a file cannot be written or cannot describe the panels."""
    f = setup.flags
    names = output_names(f, setup.panels.argv, setup.panels)
    outputs.check_distinct(names)
    for flag, name in names:
        check_output(flag, name)
    outputs.check_packages(f)
    outputs.check_layout_file(setup)
    outputs.check_picture(setup)


def panel_parts(data, panels, i, itemsize) -> bytes:
    """Panel i's own pixels, row-major, out of the stacked image's bytes."""
    fpixels, spixels = panels.sizes[i]
    first, columns = i * panels.rows * panels.columns, panels.columns
    return b"".join(data[itemsize * (first + s * columns):itemsize * (first + s * columns + fpixels)]
                    for s in range(spixels))


def write_panel_outputs(problem, pixels, stats, noise, log, write=save_files):
    """Each panel's files, then the detector's, with nanoBragg's lines (all files or none).
    Returns the (int, noise or None) images of the stacked detector (Result.written)."""
    setup = problem.setup
    f, panels = setup.flags, setup.panels
    names = asked(f, panels.argv)
    files = []
    floats = ffi.buffer(pixels)
    for i, name in enumerate(panel_file_names(names["-floatfile"], panels)):
        log("writing %s as %d %d-byte floats\n" % (name, panels.sizes[i][0] * panels.sizes[i][1], 4))
        files.append((name, [panel_parts(floats, panels, i, 4)]))
    outputs.print_stats(stats, log)
    scale = outputs.int_scale(f.intfile_scale, stats)
    ints, _ = convert_image(problem, pixels, scale, f.adc_offset)
    log("intfile_scale = %g\n" % scale)
    if "-intfile" in names:
        files += smv_files(setup, names["-intfile"], ints, log)
    image = None
    if f.calculate_noise:
        image, photons, overloads = noise.draw(problem, pixels)
        log(cformat("%.0f photons on noise image (%d overloads)\n", photons, overloads))
        if "-noisefile" in names:
            files += smv_files(setup, names["-noisefile"], image, log, noise=True)
    files += outputs.extra_files(setup, pixels, ints, image, log)
    write(files)
    return ints, image


def smv_files(setup, base, image, log, noise=False) -> list:
    """Each panel's SMV file of a stacked integer image."""
    panels, data = setup.panels, ffi.buffer(image)
    files = []
    for i, name in enumerate(panel_file_names(base, panels)):
        log("writing %s as %d-byte integers\n" % (name, 2))
        header = smv_header_bytes(outputs.smv_geometry(setup.replace(detector=panels.detectors[i])), noise=noise)
        files.append((name, [header, panel_parts(data, panels, i, 2)]))
    return files

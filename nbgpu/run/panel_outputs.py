"""The files of a multi-panel run (-geom/-expt): one raw float file per panel, named from
-floatfile NAME.EXT as NAME_<i>.EXT (i the panel's index in the file, zero-padded to the width of
the largest), each holding that panel's own fpixels x spixels floats, row-major, as nanoBragg's
float image.  The integer, PGM and noise SMV images, miniCBF, NeXus and HDF5 layouts of a
multi-panel detector are later work (issue 22)."""
from __future__ import annotations

import os

from nbgpu._nbcore import ffi
from nbgpu.io import save_files
from nbgpu.io.files import check_output
from nbgpu.run.outputs import print_stats


def panel_file_names(f, panels) -> list:
    """The float file of each panel."""
    stem, ext = os.path.splitext(f.floatfilename)
    width = len(str(panels.count - 1))
    return [f"{stem}_{i:0{width}d}{ext}" for i in range(panels.count)]


def check_writable(f, panels):
    """Fail before rendering when a panel's file cannot be written."""
    for name in panel_file_names(f, panels):
        check_output("-floatfile", name)


def write_panel_outputs(problem, pixels, stats, log, write=save_files):
    """Each panel's float file, with nanoBragg's lines (all files or none); None: no int or
    noise image written (Result.written)."""
    setup = problem.setup
    panels, columns = setup.panels, setup.panels.columns
    data = ffi.buffer(pixels)
    files = []
    for i, (name, (fpixels, spixels)) in enumerate(zip(panel_file_names(setup.flags, panels), panels.sizes)):
        log("writing %s as %d %d-byte floats\n" % (name, fpixels * spixels, 4))
        first = i * panels.rows * columns
        rows = [data[4 * (first + s * columns):4 * (first + s * columns + fpixels)] for s in range(spixels)]
        files.append((name, [b"".join(rows)]))
    print_stats(stats, log)
    write(files)
    return None

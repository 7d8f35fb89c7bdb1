"""One nonBragg run, in its order: the setup (setup.nonbragg_prepare), the render (the C engine,
engine.amorphous, or the CUDA engine, engine.amorphous_cuda: -backend) with its meter, the -img
profile, the statistics and the files.  The CLI (cli.nonbragg) calls nonbragg_argv; so can the
Python API and a batch.

Every output goes through io.files.save_files at the end: all of the run's files or none.
"""
from __future__ import annotations

import math

from nbgpu.base.cnumbers import RTD, cformat
from nbgpu.base.errors import NbgpuError
from nbgpu.base.records import Record
from nbgpu.engine.amorphous_cuda import select_amorphous
from nbgpu.io import save_files, smv_parts
from nbgpu.io.files import check_output
from nbgpu.io.images import pgm_bytes_header
from nbgpu.io.smv import smv_header
from nbgpu.setup.nonbragg_prepare import prepare


class NonbraggResult(Record):
    """What a run gives back besides its files."""
    image: object                    # float32 photons/pixel (or F with -Fmap), slow x fast
    stats: dict                      # max_I (and where), mean, rms, rmsd, as printed
    omega_sum: float                 # steradian
    setup: object                    # setup.nonbragg_prepare.NonbraggSetup
    files: tuple                     # the names written


def progress_lines(begin: int, end: int, total: int) -> list[str]:
    """nonBragg's meter lines for rendered pixels begin..end-1: every 5%, and every 1% in the
    first and last tenth (counted against the ROI's size as nonBragg computes it)."""
    if total // 100 <= 0:
        return []
    every20, every100 = total // 20, total // 100
    wanted = set(range(-(-begin // every20) * every20, end, every20))
    wanted |= {n for n in range(-(-begin // every100) * every100, end, every100)
               if 10 * n < total or 10 * n > 9 * total}
    return ["%d%% done\n" % (n * 100 // total) for n in sorted(wanted)]


def output_names(f) -> list:
    names = [("-floatfile", f.floatfilename), ("-intfile", f.intfilename), ("-pgmfile", f.pgmfilename)]
    if f.calculate_noise:
        names.append(("-noisefile", f.noisefilename))
    if f.imginfilename is not None:
        names.insert(0, ("-stolout", f.stoloutfilename))
    return names


def header(setup) -> list:
    """The SMV header's keys after SIZE1/SIZE2, as nonBragg writes them."""
    g, f = setup.geometry, setup.flags
    phi = f.phi0 * RTD
    return [("PIXEL_SIZE", g.pixel_size * 1000.0), ("DISTANCE", g.distance * 1000.0),
            ("WAVELENGTH", f.lambda0 * 1e10), ("BEAM_CENTER_X", g.Xbeam * 1000.0),
            ("BEAM_CENTER_Y", (g.detsize_y - g.Ybeam) * 1000), ("ORGX", g.Xclose / g.pixel_size),
            ("ORGY", g.Yclose / g.pixel_size), ("CLOSE_DISTANCE", g.close_distance * 1000.0),
            ("PHI", phi), ("OSC_START", phi), ("OSC_RANGE", setup.spread.osc * RTD),
            ("TWOTHETA", f.detector_twotheta * RTD)]


def printout(engine, setup, log):
    """-printout / -printout_pixel: nonBragg's lines for each pixel asked for (its F is a
    variable nonBragg never sets: 0 in its build; its I is the last source's weight)."""
    f = setup.flags
    f0, f1, s0, s1 = engine.region()
    I = setup.sources.I[-1]
    for s in range(s0, s1 + 1):
        for fp in range(f0, f1 + 1):
            if not ((fp == f.printout_fpixel and s == f.printout_spixel) or f.printout_fpixel < 0):
                continue
            stol, x, y, z, polar, omega = engine.trace(fp, s)
            twotheta = math.atan2(math.sqrt(y * y + z * z), x)
            test = math.sin(twotheta / 2.0) / (f.lambda0 * 1e10)
            log(cformat("%4d %4d : stol = %g or %g\n", fp, s, stol, test))
            log(cformat(" F=%g    I = %g\n", 0.0, I))
            log(cformat("I/steps %15.10g\n", I / setup.steps))
            log(cformat("polar   %15.10g\n", polar))
            log(cformat("omega   %15.10g\n", omega))
            log(cformat("pixel   %15.10g\n", float(engine.value(s * setup.geometry.fpixels + fp))))


def profile(engine, setup, log) -> tuple:
    """-img: the per-bin lines of the profile file and nonBragg's warnings; returns (text, the
    last bin's count: nonBragg's pixel counter afterwards)."""
    f, t = setup.flags, setup.table
    counts, avg, rmsd = engine.profile()
    lines, n = [], 0
    for b in range(2, t.count - 2):
        stol = t.stol[b] / f.stol_file_mult
        n = int(counts[b])
        if n > 100:
            lines.append(cformat("%g %g %g   %g %g  %d\n", stol, float(avg[b]), float(rmsd[b]), 0.0, 0.0, n))
        else:
            log(cformat("WARNING: not enough pixels in bin= %d n=%d stol= %g median= %g avg_arej= %g\n",
                        b, n, stol, 0.0, float(avg[b])))
    log("wrote %s as %d lines of text\n" % (f.stoloutfilename, len(lines)))
    return "".join(lines), n


def nonbragg_argv(argv, log, warn, write=save_files, as_numpy=True, setup=None, note=None) -> NonbraggResult:
    """nonBragg on argv: log receives its stdout text, warn nbgpu's one-line warnings; the
    files are written with `write` ([(path, parts)], all or none; None: no file, and the output
    names are not checked).  The result's image is a numpy array, or (as_numpy=False: the
    command, which then never imports numpy) None.  `setup`: argv's, when it was prepared
    already (a batch job checked before the batch).  `note` receives the engine's one line for
-backend auto (which engine, and why; None: not told)."""
    if setup is None:
        try:
            setup = prepare(argv)
        except NbgpuError as exc:
            if exc.told:
                exc.told.tell(log, warn)
            raise
    setup.told.tell(log, warn)
    f, g = setup.flags, setup.geometry
    for flag, name in output_names(f) if write is not None else ():
        check_output(flag, name)
    engine = select_amorphous(setup, f.threads, f.backend, note or (lambda line: None))
    meter = f.progress_meter and not f.printout
    shown = [0]

    def done(rendered):
        if meter:
            for line in progress_lines(shown[0], rendered, g.progress_pixels):
                log(line)
        shown[0] = rendered
    engine.render(done)
    if f.printout:
        printout(engine, setup, log)
    log("\n")
    omega = engine.omega_sum
    log(cformat("solid angle subtended by detector = %g steradian ( %g%% sphere)\n", omega, 100 * omega / 4 / math.pi))
    files = []
    stats = engine.stats()
    n = stats.rendered
    if setup.img is not None:
        text, n = profile(engine, setup, log)
        files.append((f.stoloutfilename, [text.encode("ascii")]))
    mean = stats.sum / (n if n > 0 else 1)
    rms = math.sqrt(stats.sumsqr / ((n if n > 1 else 2) - 1))
    rmsd = engine.rmsd(mean)
    log("writing %s as %d %d-byte floats\n" % (f.floatfilename, g.fpixels * g.spixels, 4))
    files.append((f.floatfilename, [engine.float_bytes()]))
    log(cformat("max_I = %g  at %g %g\n", stats.max_I, stats.max_I_x, stats.max_I_y))
    log(cformat("mean= %g rms= %g rmsd= %g\n", mean, rms, rmsd))
    scale = f.intfile_scale if f.intfile_scale > 0.0 else (55000.0 / stats.max_I if stats.max_I > 0.0 else 1.0)
    log(cformat("intfile_scale = %g\n", scale))
    scale_pgm = f.pgm_scale if f.pgm_scale > 0.0 else (250.0 / (5.0 * rmsd) if rmsd > 0.0 else scale)
    ints, pgm = engine.convert(scale, f.adc_offset, scale_pgm)
    smv_head = smv_header(g.fpixels, g.spixels, header(setup))
    log("writing %s as %d-byte integers\n" % (f.intfilename, 2))
    files.append((f.intfilename, smv_parts(smv_head, ints)))
    log(cformat("pgm_scale = %g\n", scale_pgm))
    log("writing %s as %d-byte integers\n" % (f.pgmfilename, 1))
    # nonBragg writes its one-byte buffer with a two-byte element size: as many bytes again
    # follow the picture (heap memory there; zeros here)
    files.append((f.pgmfilename, [pgm_bytes_header(g.fpixels, g.spixels, scale_pgm), pgm, bytes(len(pgm))]))
    if f.calculate_noise:
        noise, photons, overloads = engine.noise(f.seed, f.adc_offset)
        log(cformat("%.0f photons on noise image (%d overloads)\n", photons, overloads))
        log("writing %s as %d-byte integers\n" % (f.noisefilename, 2))
        files.append((f.noisefilename, smv_parts(smv_head, noise)))
    if write is not None:
        write(files)
    return NonbraggResult(image=engine.pixels() if as_numpy else None, stats=dict(max_I=stats.max_I, max_I_x=stats.max_I_x,
                                                            max_I_y=stats.max_I_y, mean=mean, rms=rms, rmsd=rmsd),
                          omega_sum=omega, setup=setup, files=tuple(name for name, _ in files))

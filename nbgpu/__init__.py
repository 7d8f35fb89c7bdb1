"""nbgpu: a GPU-first, drop-in replacement for the nanoBragg diffraction simulator.

    import nbgpu
    result = nbgpu.simulate(cell=(30, 30, 30, 90, 90, 90), default_F=100, N=5, distance=60,
                            detpixels=64, pixel=0.4)
    result.image        # (slow, fast) float32, the image nanoBragg writes as -floatfile
    result.stats        # max_I, mean, rms, rmsd as nanoBragg prints them

    sim = nbgpu.Simulator("-mat A.mat -hkl P1.hkl -N 10 -detpixels 256 -phisteps 2")
    for frame in sim.sweep(frames=100, step=0.5):     # input files read once, engine kept warm
        frame.image

    water = nbgpu.nonbragg(stol="water.stol", detpixels=64, pixel=0.4)     # nonBragg's background
    noisy = nbgpu.noisify(result.image + water.image, seed=7)               # noisify on any float image
"""
__version__ = "0.1.0"

from nbgpu.base.errors import EngineError, InputError, NbgpuError, UsageExit  # noqa: E402  (what callers catch)

__all__ = ["simulate", "nonbragg", "noisify", "Simulator", "run_batch", "render_frames", "NbgpuError", "InputError",
           "EngineError", "UsageExit", "__version__"]


def simulate(args=None, *, write_files=False, verbose=False, max_evaluations=None, **options):
    """Render one image with nanoBragg's options; returns a run.result.Result.

    args: a list of nanoBragg words (["-N", "5", ...]) or one string; options: the same flags as
    keywords (N=5, cell=(30, 30, 30, 90, 90, 90), nopolar=True, lambda_=1.0, backend="c",
    precision="single").  No file is written
    unless write_files=True (then exactly the files nanoBragg writes); verbose=True prints
    nanoBragg's log; max_evaluations refuses renders larger than that many pixel x sub-pixel x
    source x phi x domain x layer evaluations (a budget for pipelines).  Bad input raises
    nbgpu.NbgpuError.
    """
    from nbgpu.base import messages
    from nbgpu.run.simulate import library_loggers, simulate_argv
    from nbgpu.setup.flags import command_words

    log, note = library_loggers(verbose)
    warn = messages.printer(messages.warning)
    return simulate_argv(command_words(args, options), log, warn, write_files=write_files, note=note,
                         max_evaluations=max_evaluations)


def nonbragg(args=None, *, write_files=False, verbose=False, **options):
    """Render nonBragg's amorphous background (water, air, ice from a -stol table); returns a
    run.nonbragg.NonbraggResult (.image: (slow, fast) float32 photons/pixel, .stats, .omega_sum,
    .setup, .files).

    args: nonBragg's words or one string; options: the same flags as keywords (stol="water.stol",
    detpixels=512, lambda_=1).  No file is written unless write_files=True (then exactly the
    files the nonBragg command writes); verbose=True prints nonBragg's log.  Bad input raises
    nbgpu.NbgpuError.
    """
    from nbgpu.run.suite import nonbragg as run
    return run(args, write_files=write_files, verbose=verbose, **options)


def noisify(image, args=None, *, write_files=False, verbose=False, **options):
    """Add noisify's detector noise to `image`, a 2-d array (rows, pixels a row) in
    photons/pixel (float64 accepted: read as float32, as noisify reads its file); returns a
    run.noisify.NoisifyResult (noise_array(), noiseless_array(): the SMV words; .pgm, .photons,
    .overloads, .files).

    args: noisify's words or one string; options: the same flags as keywords (seed=7,
    psf="gauss", readout_noise=3, bits=32, nonoise=True).  No file is written unless
    write_files=True (then the files noisify writes, named by -intfile/-noisefile/-pgmfile);
    verbose=True prints noisify's log.  Bad input raises nbgpu.NbgpuError.
    """
    from nbgpu.run.suite import noisify as run
    return run(image, args, write_files=write_files, verbose=verbose, **options)


def __getattr__(name):
    """nbgpu.Simulator, nbgpu.run_batch (a job file, here or on Dask) and nbgpu.render_frames
    (Simulator frames on Dask), imported on first use (the command line never needs them)."""
    if name == "Simulator":
        from nbgpu.run.simulator import Simulator
        return Simulator
    if name == "run_batch":
        from nbgpu.batch.main import run_batch
        return run_batch
    if name == "render_frames":
        from nbgpu.batch.cluster import render_frames
        return render_frames
    raise AttributeError(f"module 'nbgpu' has no attribute {name!r}")

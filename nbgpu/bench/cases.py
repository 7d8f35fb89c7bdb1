"""The bench's cases (command lines of nanoBragg, nonBragg and noisify, full size or --quick),
their input files, and how this machine and nbgpu are described and started."""
from __future__ import annotations

import gzip
import math
import os
import platform
import sys
from pathlib import Path

import numpy as np

CHECKOUT = Path(__file__).resolve().parents[2]     # the repository (or site-packages) holding nbgpu/
INPUTS = ("A.mat", "scaled.hkl", "p1_small.hkl")
SUPERVISOR = ("-mat A.mat -hkl scaled.hkl -nonoise -nointerpolate -oversample 1 -exposure 1 -flux 1e18 "
              "-beamsize 1.0 -spindle_axis -1 0 0 -Xbeam 217.742295 -Ybeam 213.907080 -distance 231.274660 "
              "-lambda 0.976800 -pixel 0.172 -detpixels_x 2463 -detpixels_y 2527 -odet_vector -0.000088 "
              "0.004914 -0.999988 -sdet_vector -0.005998 -0.999970 -0.004913 -fdet_vector 0.999982 -0.005998 "
              "-0.000118 -pix0_vector_mm -216.336293 215.205512 -230.200866 -beam_vector 0.00051387949 0.0 "
              "-0.99999986 -Na 36 -Nb 47 -Nc 29 -osc 0.1 -phi 0 -phisteps 10 -detector_rotx 0 -detector_roty 0 "
              "-detector_rotz 0 -twotheta 0")
CUBIC = "-cell 50 50 50 90 90 90 -default_F 100 -N 10 -lambda 1 -distance 100 -oversample 1"
HEAVY = ("-cell 35 40 45 88 92 95 -hkl p1_small.hkl -misset 12 -8 25 -N 6 -mosaic_spr 0.5 -mosaic_dom {dom} "
         "-mosaic_seed 99 -oversample 2 -divergence 1 -divsteps 3 -square_div -dispersion 1 -dispsteps 3 "
         "-phi 3 -osc 0.5 -phisteps 5 -distance 70 -lambda 1.1 -detpixels {n} -pixel {px}")


def cases(quick: bool) -> dict:
    """name -> nanoBragg arguments.  --quick: versions a CPU renders in a few seconds each, still
    large enough that rendering, not start-up, dominates."""
    def pixels(n):
        return f"-detpixels {n} -pixel {0.1 * 1024 / n:g}"
    out = {
        "supervisor": SUPERVISOR + (" -roi 700 1699 700 1699" if quick else ""),
        "heavy": HEAVY.format(dom=4 if quick else 50, n=96 if quick else 1024, px=0.25 if quick else 0.05),
        "interp": "-cell 40 40 40 90 90 90 -hkl p1_small.hkl -interpolate -N 2 -misset 5 -3 12 -lambda 1 "
                  f"-distance 60 -oversample 3 {pixels(1024)}",
        "shapes-gauss": "-cell 30 30 30 90 90 90 -hkl p1_small.hkl -gauss_xtal -N 6 -misset 0 0 10 -lambda 1 "
                        f"-distance 60 -oversample 4 {pixels(1024)}",
        "shapes-tophat": "-cell 30 30 30 90 90 90 -hkl p1_small.hkl -tophat_spots -fudge 0.5 -N 6 "
                         f"-misset 0 0 10 -lambda 1 -distance 60 -oversample 4 {pixels(1024)}",
    }
    for n in ((512, 1024, 2048) if quick else (256, 512, 1024, 2048, 4096)):
        out[f"sweep-{n}"] = f"{CUBIC} {pixels(n)}"
    return {name: args.split() + ["-nonoise", "-noprogress"] for name, args in out.items()}


# the `panels` group: the same crystal, beam and sampling rendered on four panels from a .geom
# and on one panel of as many pixels; the first is timed against the second (issue 22's target)
PANEL_CRYSTAL = ("-hkl p1_small.hkl -cell 35 40 45 88 92 95 -misset 12 -8 25 -N 6 -mosaic_spr 0.5 -mosaic_dom 10 "
                 "-mosaic_seed 99 -oversample 2 -lambda 1")
PANEL_TARGET = 1.1          # multi-panel wall time over one-panel wall time, at most


def panel_cases(quick: bool) -> dict:
    """name -> nanoBragg arguments of the `panels` pair, the multi-panel case first: 2x2 panels
    of n x n pixels from panel_geometry(n), and one panel of 2n x 2n pixels of the same size
    (0.1 mm) at the same distance (100 mm), the beam at its centre."""
    n = panel_size(quick)
    out = {f"panels-4x{n}": f"-geom {panel_geometry_name(n)} {PANEL_CRYSTAL}",
           f"panels-1x{2 * n}": f"-detpixels {2 * n} -pixel 0.1 -distance 100 {PANEL_CRYSTAL}"}
    return {name: args.split() + ["-nonoise", "-noprogress"] for name, args in out.items()}


def panel_size(quick: bool) -> int:
    """Pixels of a panel's side: 512 (a 1024 x 1024 detector in all), 256 with --quick."""
    return 256 if quick else 512


def panel_geometry_name(n: int) -> str:
    return f"panels-4x{n}.geom"


def panel_geometry(n: int, gap: int = 20) -> str:
    """A CrystFEL file of 2x2 panels of n x n pixels of 0.1 mm, 100 mm from the sample, `gap`
    pixels apart around the beam, each turned in its plane (0.5 to 2 degrees) and tilted out of
    it (fs with a z term of +-0.02), so that no two panels share their axes."""
    lines = ["; the bench's four panels (nbgpu bench --cases panels)", "res = 10000", "clen = 0.1"]
    for i, (col, row) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        turn, tilt = math.radians((-1) ** i * 0.5 * (i + 1)), 0.02 if col else -0.02
        c, s = math.cos(turn), math.sin(turn)
        lines += [f"q{i}/min_fs = {col * n}", f"q{i}/max_fs = {col * n + n - 1}", f"q{i}/min_ss = {row * n}",
                  f"q{i}/max_ss = {row * n + n - 1}", f"q{i}/corner_x = {gap / 2 if col else -n - gap / 2:g}",
                  f"q{i}/corner_y = {-gap / 2 if row else n + gap / 2:g}",
                  f"q{i}/fs = {c:+.6f}x {s:+.6f}y {tilt:+.6f}z", f"q{i}/ss = {s:+.6f}x {-c:+.6f}y"]
    return "\n".join(lines) + "\n"


def stage_panel_inputs(work: Path, quick: bool):
    """The `panels` pair's geometry file (its other inputs are the nanoBragg cases')."""
    n = panel_size(quick)
    (work / panel_geometry_name(n)).write_text(panel_geometry(n))


# nonBragg and noisify: sizes the targets name (>= 1024^2 with oversampling; 2048^2 with
# and without a point-spread function), the same with --quick (each runs in seconds)
SUITE_CASES = {
    "nonbragg-water": ("nonBragg", "-stol amorphous.stol -detpixels 1024 -pixel 0.1 -distance 100 -oversample 2 "
                                   "-samplesize 0.1 -nonoise -noprogress"),
    "noisify-plain": ("noisify", "-floatfile spots2048.bin -detpixels 2048 -seed 7 -nopgm"),
    "noisify-psf": ("noisify", "-floatfile spots2048.bin -detpixels 2048 -seed 7 -nopgm -psf gauss -psf_fwhm 100"),
}
PROGRAM_MODULES = {"nanoBragg": "nbgpu", "nonBragg": "nbgpu.cli.nonbragg", "noisify": "nbgpu.cli.noisify"}


def suite_cases() -> dict:
    """name -> (program, arguments) of the other programs of the suite."""
    return {name: (program, args.split()) for name, (program, args) in SUITE_CASES.items()}


def stage_suite_inputs(work: Path):
    """Their inputs, made here: a smooth amorphous-scattering table of F against sin(theta)/lambda
    (water-like: a broad ring near 0.15/A) and a float image of spots on a background."""
    stol = np.linspace(0.0, 1.0, 2001)
    F = 2.0 + 1.5 * np.exp(-((stol - 0.15) / 0.04) ** 2) + 0.5 * np.exp(-((stol - 0.35) / 0.1) ** 2)
    (work / "amorphous.stol").write_text("".join(f"{s:.6g} {f:.6g}\n" for s, f in zip(stol, F)))
    rng = np.random.default_rng(2048)
    image = rng.uniform(1.0, 5.0, (2048, 2048)).astype(np.float32)
    rows, cols = rng.integers(8, 2040, 400), rng.integers(8, 2040, 400)
    for r, c, peak in zip(rows, cols, rng.uniform(100.0, 5000.0, 400)):
        image[r - 2:r + 3, c - 2:c + 3] += np.float32(peak) * np.float32([[0.1, 0.3, 0.5, 0.3, 0.1]]).T @ \
            np.float32([[0.1, 0.3, 0.5, 0.3, 0.1]])
    image.tofile(work / "spots2048.bin")


def find_inputs(explicit: str | None) -> Path:
    """A folder holding A.mat, scaled.hkl and p1_small.hkl (or their .gz)."""
    candidates = [Path(explicit)] if explicit else []
    candidates += [CHECKOUT / "tests" / "golden" / "inputs", CHECKOUT.parent / "shared" / "golden" / "inputs",
                   Path.cwd() / "tests" / "golden" / "inputs"]
    for folder in candidates:
        if all((folder / n).exists() or (folder / (n + ".gz")).exists() for n in INPUTS):
            return folder
    raise SystemExit("bench: cannot find A.mat, scaled.hkl and p1_small.hkl: give --inputs DIR")


def stage_inputs(source: Path, work: Path):
    for name in INPUTS:
        data = (source / name).read_bytes() if (source / name).exists() else \
            gzip.decompress((source / (name + ".gz")).read_bytes())
        (work / name).write_bytes(data)


def environment() -> dict:
    info = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "numpy": np.__version__}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    try:
        import cupy
        runtime = cupy.cuda.runtime
        props = runtime.getDeviceProperties(0)
        info.update(cupy=cupy.__version__, gpu=props["name"].decode() if isinstance(props["name"], bytes)
                    else props["name"], driver=runtime.driverGetVersion(), cuda_runtime=runtime.runtimeGetVersion(),
                    gpu_memory=props["totalGlobalMem"])
    except Exception as exc:
        info["gpu"] = f"none ({type(exc).__name__})"
    return info


def nbgpu_command(program: str = "nanoBragg") -> list[str]:
    """How a user runs nbgpu's version of a program: the installed command beside this Python
    (nbgpu, nonBragg, noisify), else `python -m` its module."""
    script = Path(sys.executable).with_name("nbgpu" if program == "nanoBragg" else program)
    return [str(script)] if script.exists() else [sys.executable, "-m", PROGRAM_MODULES[program]]

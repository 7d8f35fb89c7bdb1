"""`nbgpu bench --sweep`: a rotation sweep of many frames, one process against one per frame.

The same job lines (256x256 detector, -mat/-hkl, 2 phi steps per frame, a seed per frame, float,
int and noise images) are rendered four ways, side by side, each in a fresh folder: `nbgpu
batch`, an nbgpu.Simulator script, and shell scripts running nbgpu and every --ref program once
per line.  Every file of the batch must equal the per-line nbgpu run's, byte for byte.
"""
from __future__ import annotations

import filecmp
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nbgpu.bench.cases import find_inputs, nbgpu_command, stage_inputs
from nbgpu.bench.columns import wait_with_timeout

FRAME = ("-mat A.mat -hkl p1_small.hkl -N 10 -oversample 1 -detpixels 256 -pixel 0.4 -distance 100 "
         "-phi {phi:g} -osc 0.2 -phisteps 2 -seed {seed} -floatfile f{n:03d}.bin -intfile i{n:03d}.img "
         "-noisefile n{n:03d}.img -nopgm -noprogress")
TARGETS = {"nbgpu batch / nanoBragg loop": 0.5, "nbgpu batch / nbgpu loop": 0.3, "Simulator / nbgpu batch": 1.0}

def job_lines(frames: int) -> list[str]:
    return [FRAME.format(phi=n * 0.2, seed=n + 1, n=n) for n in range(frames)]


def simulator_script(frames: int) -> str:
    """A user's Simulator version of the job file: the common flags once, each frame's own."""
    return (
        "import nbgpu\n"
        f"sim = nbgpu.Simulator({FRAME.split(' -phi ')[0]!r} + ' -osc 0.2 -phisteps 2 -nopgm -noprogress')\n"
        f"for n in range({frames}):\n"
        "    sim.render(write_files=True, phi=float('%g' % (n * 0.2)), seed=n + 1, floatfile='f%03d.bin' % n,\n"
        "               intfile='i%03d.img' % n, noisefile='n%03d.img' % n)\n")


def timed(command, work: Path, env: dict, timeout: float) -> float:
    """Wall seconds of one run of `command` (killed after `timeout`, as every bench run is)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        status, _ = wait_with_timeout(process, timeout)
    except TimeoutError:
        raise RuntimeError(f"{' '.join(map(str, command))[:80]}: timed out after {timeout:g} s") from None
    wall = time.perf_counter() - started
    if status != 0:
        tail = process.stderr.read().decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"{' '.join(map(str, command))[:80]}: exit status {status}: {tail}")
    return wall


def fresh(work: Path, name: str, inputs: Path) -> Path:
    folder = work / name
    if folder.exists():
        for child in folder.iterdir():
            child.unlink()
    folder.mkdir(exist_ok=True)
    for source in inputs.iterdir():
        (folder / source.name).symlink_to(source)
    return folder


def inputs_folder(work: Path, opts) -> Path:
    """The bench's input files, staged once, linked into each fresh folder."""
    inputs = work / "inputs"
    inputs.mkdir()
    stage_inputs(find_inputs(opts.inputs), inputs)
    return inputs


def median_wall(command, work: Path, name: str, inputs: Path, env: dict, repeat: int, timeout: float,
                before=None) -> float:
    """Median wall time of `command` run `repeat` times, each in a fresh folder (before(folder)
    adds what it needs), each within `timeout` seconds; the last folder is kept."""
    walls = []
    for _ in range(max(1, repeat)):
        folder = fresh(work, name, inputs)
        if before is not None:
            before(folder)
        walls.append(timed(command, folder, env, timeout))
    return statistics.median(walls)


def same_files(a: Path, b: Path, names) -> list[str]:
    """Names whose bytes differ (or are missing) between two folders."""
    return [n for n in names if not (a / n).exists() or not (b / n).exists()
            or not filecmp.cmp(a / n, b / n, shallow=False)]


def run_sweep(opts, log) -> dict:
    frames, threads = opts.frames, (opts.threads or [os.cpu_count() or 1])[0]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    lines = job_lines(frames)
    outputs = [name for n in range(frames) for name in (f"f{n:03d}.bin", f"i{n:03d}.img", f"n{n:03d}.img")]
    nbgpu = nbgpu_command()
    ways = {"nbgpu batch": nbgpu + ["batch", "jobs.txt"],
            "Simulator": [sys.executable, "simulator.py"],
            "nbgpu loop": ["sh", "loop-nbgpu.sh"]}
    scripts = {"loop-nbgpu.sh": " ".join(shlex.quote(w) for w in nbgpu)}
    for spec in opts.ref:
        name, _, path = spec.partition("=")
        ways[f"{name} loop"] = ["sh", f"loop-{name}.sh"]
        scripts[f"loop-{name}.sh"] = shlex.quote(path)
    results = {"frames": frames, "threads": threads, "job": FRAME, "walls": {}, "identical": {}}
    log(f"sweep: {frames} frames, 256x256, 2 phi steps each, float + int + noise images, {threads} threads")
    with tempfile.TemporaryDirectory(prefix="nbgpu-sweep-") as tmp:
        work = Path(tmp)
        inputs = inputs_folder(work, opts)
        (inputs / "jobs.txt").write_text("\n".join(lines) + "\n")
        (inputs / "simulator.py").write_text(simulator_script(frames))
        for script, program in scripts.items():
            (inputs / script).write_text("".join(f"{program} {line} > /dev/null 2>&1 || exit 1\n" for line in lines))
        for way, command in ways.items():
            results["walls"][way] = median_wall(command, work, way.replace(" ", "-"), inputs, env, opts.repeat,
                                                opts.timeout)
            log(f"  {way:<22} {results['walls'][way]:8.3f} s  ({frames / results['walls'][way]:.1f} frames/s)")
        batch = work / "nbgpu-batch"
        for way in ways:
            if way != "nbgpu batch":
                differing = same_files(batch, work / way.replace(" ", "-"), outputs + ["Fdump.bin"])
                results["identical"][way] = not differing
                log(f"  files of nbgpu batch vs {way}: "
                    + ("all identical" if not differing else f"{len(differing)} differ, e.g. {differing[:3]}"))
    walls = results["walls"]
    ratios = {}
    for label, target in TARGETS.items():
        ours, _, theirs = label.partition(" / ")
        if ours in walls and theirs in walls:
            ratios[label] = {"ratio": walls[ours] / walls[theirs], "target": target}
    results["ratios"] = ratios
    log("\nsweep ratios (wall time, below 1 is faster)")
    for label, entry in ratios.items():
        verdict = "met" if entry["ratio"] <= entry["target"] else "MISSED"
        log(f"  {label:<32} {entry['ratio']:6.2f}   target <= {entry['target']:g}: {verdict}")
    return results

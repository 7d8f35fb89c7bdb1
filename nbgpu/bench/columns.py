"""A column of the bench: one way of rendering (a command, its flags, environment and tolerance),
run as a fresh process, its image checked against the reference before it is timed."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from nbgpu.bench.cases import nbgpu_command


OUTPUTS = ("floatimage.bin", "intimage.img", "noiseimage.img", "image.pgm")


def output_image(program: str, work: Path):
    """The image a run is checked by: the float image (nanoBragg, nonBragg), or noisify's noise
    image (its pixels, after the 512-byte header); None when it was not written."""
    if program == "noisify":
        path = work / "noiseimage.img"
        return np.fromfile(path, np.uint16, offset=512).astype(np.float32) if path.exists() else None
    path = work / "floatimage.bin"
    if path.exists():
        return np.fromfile(path, np.float32)
    panels = panel_files(work)           # a -geom run: one float file per panel, checked as one image
    return np.concatenate([np.fromfile(p, np.float32) for p in panels]) if panels else None


def panel_files(work: Path) -> list:
    """The float files of a multi-panel run (floatimage_<i>.bin), in panel order."""
    return sorted(work.glob("floatimage_*.bin"))


class Column:
    """One way of running one program of the suite: a command prefix, extra flags, an
    environment, a tolerance tier (every column's first run -- start-up, kernel compilation --
    is reported apart)."""

    def __init__(self, name, command, extra=(), env=None, tier="exact", ours=False, program="nanoBragg"):
        self.name, self.command, self.extra, self.env = name, command, list(extra), env or {}
        self.tier, self.ours, self.program = tier, ours, program

    def run(self, args, work: Path, timeout: float) -> dict:
        """One fresh process; wall time, peak RSS and (for nbgpu) its profile."""
        for path in [work / name for name in OUTPUTS] + panel_files(work):
            path.unlink(missing_ok=True)
        env = dict(os.environ, **self.env)
        profile = work / "profile.json"
        profile.unlink(missing_ok=True)
        if self.ours:
            env["NBGPU_PROFILE"] = str(profile)
        started = time.perf_counter()
        process = subprocess.Popen(self.command + args + self.extra, cwd=work, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            status, peak_rss = wait_with_timeout(process, timeout)
        except TimeoutError:
            return {"error": f"timed out after {timeout:g} s"}
        wall = time.perf_counter() - started
        stderr = process.stderr.read().decode(errors="replace")
        image = output_image(self.program, work)
        if status != 0 or image is None:
            return {"error": f"exit status {status}: {stderr.strip().splitlines()[-1:] or ''}"}
        result = {"wall": wall, "peak_rss": peak_rss, "image": image}
        if profile.exists():
            result["profile"] = json.loads(profile.read_text())
        return result


def peak_rss_now(pid) -> int:
    """VmHWM of a running process: its own peak, reset when it exec'd (wait4's ru_maxrss is
    not: a child forked from this large Python process starts with our RSS)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def wait_with_timeout(process, timeout) -> tuple[int, int]:
    """(exit status, peak RSS sampled every few ms) of a child, killing it after timeout."""
    deadline, peak = time.monotonic() + timeout, 0
    while process.poll() is None:
        peak = max(peak, peak_rss_now(process.pid))
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise TimeoutError
        time.sleep(0.003)
    return process.returncode, peak


TIERS = {"exact": (1e-5, 1e-4), "fast": (1e-3, 1e-3)}     # max |diff|/max per pixel, share allowed over


def agreement(reference, image, tier) -> dict:
    tolerance, share = TIERS[tier]
    if image.shape != reference.shape:
        return {"ok": False, "why": f"{image.size} pixels, reference {reference.size}"}
    scale = float(np.abs(reference).max()) or 1.0
    err = np.abs(image.astype(np.float64) - reference) / scale
    if not np.all(np.isfinite(err)):
        return {"ok": False, "why": "non-finite pixels"}
    over = int(np.count_nonzero(err > tolerance))
    corr = float(np.corrcoef(reference, image)[0, 1]) if reference.std() > 0 and image.std() > 0 else 1.0
    ok = over <= max(1, int(share * image.size)) and corr > 0.999
    return {"ok": ok, "max_rel": float(err.max()), "over": over, "corr": corr,
            "why": "" if ok else f"{over} pixels off by more than {tolerance:g} of max, corr {corr:.6f}"}


def applies(ref_name: str, program: str) -> bool:
    """--ref NAME=PATH: a name starting with nonBragg or noisify is that program; any other
    (nanoBragg, nanoBraggCUDA, ...) is a nanoBragg."""
    named = next((p for p in ("nonBragg", "noisify") if ref_name.lower().startswith(p.lower())), "nanoBragg")
    return named == program


def make_columns(opts, gpu: bool, program: str = "nanoBragg", refs: bool = True) -> list[Column]:
    """Our columns (the C engine at each thread count, the first the reference; the CUDA engine
    on a GPU), then, with refs, every --ref program that runs `program`."""
    nbgpu = nbgpu_command(program)
    threads = sorted(set(opts.threads) if opts.threads else {os.cpu_count() or 1, 1}, reverse=True)
    # the C engine with every thread comes first: its image is the reference the others must match
    backend = ["-backend", "c"] if program == "nanoBragg" else []
    columns = [Column(f"nbgpu-c-{t}t", nbgpu, backend, {"OMP_NUM_THREADS": str(t)}, ours=True, program=program)
               for t in threads]
    if gpu and program == "nanoBragg":
        columns += [Column("nbgpu-cuda-double", nbgpu, ["-backend", "cuda"], ours=True),
                    Column("nbgpu-cuda-single", nbgpu, ["-backend", "cuda", "-precision", "single"],
                           tier="fast", ours=True)]
    for spec in opts.ref if refs else ():
        name, _, path = spec.partition("=")
        if not path or not shutil.which(path):
            raise SystemExit(f"bench: --ref {spec}: expected NAME=PATH of an executable")
        if not applies(name, program):
            continue
        if "cuda" in name.lower():        # a GPU program: threads do not matter
            columns.append(Column(name, [path], tier="fast", program=program))
        else:
            columns += [Column(f"{name}-{t}t", [path], env={"OMP_NUM_THREADS": str(t)}, program=program)
                        for t in threads]
    return columns


def bench_side_by_side(sides: dict, columns, work, opts, log) -> dict:
    """Run every column on each side (name -> command line; one case, or cases compared with
    each other): each side's first image is checked against that side's reference (its first
    column's), then the sides' timed runs alternate, run for run, so that they share the load."""
    outs = {side: {"columns": {}} for side in sides}
    references = dict.fromkeys(sides)
    for column in columns:
        firsts = {}
        for side, args in sides.items():
            if "error" in outs[side]:                 # its reference failed: nothing to check against
                continue
            label = f"{column.name} {side}" if len(sides) > 1 else column.name
            first = column.run(args, work, opts.timeout)
            if "error" in first:
                outs[side]["columns"][column.name] = {"status": "failed", "why": first["error"]}
                log(f"  {label:<22} failed: {first['error']}")
                if references[side] is None:
                    outs[side]["error"] = f"the reference ({column.name}) failed: {first['error']}"
                continue
            if references[side] is None:
                references[side] = first["image"].astype(np.float64)
            check = agreement(references[side], first["image"], column.tier)
            if not check["ok"]:
                outs[side]["columns"][column.name] = {"status": "wrong", **check}
                log(f"  {label:<22} WRONG (not timed): {check['why']}")
                continue
            firsts[side] = first, check, label
        # the first run also warms caches (and on a GPU compiles the kernels): timed apart
        steady = {side: [] for side in firsts}
        for _ in range(opts.repeat):
            for side in firsts:
                run = column.run(sides[side], work, opts.timeout)
                if "error" not in run:
                    steady[side].append(run)
        for side, (first, check, label) in firsts.items():
            entry = timed_entry(first, steady[side] or [first], check)
            outs[side]["columns"][column.name] = entry
            log_entry(label, entry, log)
    for out in outs.values():
        timed = {k: v["wall"] for k, v in out["columns"].items() if v["status"] == "ok"}
        out["ratios"] = {a: {b: timed[b] / timed[a] for b in timed if b != a} for a in timed}
    return outs


def timed_entry(first, runs, check) -> dict:
    """A column's results on a case: median wall time of its steady runs, peak RSS, agreement,
    and for our own runs the phases and rates."""
    walls = [r["wall"] for r in runs]
    entry = {"status": "ok", "first_wall": first["wall"], "wall": statistics.median(walls), "walls": walls,
             "peak_rss": max(r["peak_rss"] for r in runs), **{k: v for k, v in check.items() if k != "why"}}
    profile = runs[-1].get("profile")
    if profile:
        entry["phases"] = phases(runs)
        entry["profile"] = profile
        entry["pixels_per_s"] = profile["pixels"] / entry["wall"]
        entry["evals_per_s"] = profile["evaluations"] / entry["wall"]
        if profile.get("kernel_seconds"):
            entry["kernel_evals_per_s"] = profile["evaluations"] / profile["kernel_seconds"]
    return entry


def log_entry(label, entry, log):
    profile = entry.get("profile")
    log(f"  {label:<22} {entry['wall']:9.3f} s  (first {entry['first_wall']:.3f} s)  "
        f"max_rel {entry['max_rel']:.1e}  rss {entry['peak_rss'] / 2**20:.0f} MiB"
        + (f"  {entry['evals_per_s']:.3g} evals/s" if profile else "")
        + (f"  kernel {profile['kernel_seconds']:.3f} s" if profile and profile.get("kernel_seconds") else ""))
    if profile:
        log(" " * 26 + "  ".join(f"{name} {seconds:.3f}" for name, seconds in entry["phases"].items()))


PHASES = ("setup", "render", "output")


def phases(runs) -> dict:
    """Median seconds of each phase of our runs; start-up is the rest of the wall time."""
    out = {"start-up": statistics.median(r["wall"] - sum(r["profile"][f"{p}_seconds"] for p in PHASES)
                                         for r in runs)}
    out.update({p: statistics.median(r["profile"][f"{p}_seconds"] for r in runs) for p in PHASES})
    return out

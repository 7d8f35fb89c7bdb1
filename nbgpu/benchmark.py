"""nbgpu's benchmark: our engines and other nanoBragg-compatible programs, side by side.

Every column renders the same command line as a fresh process (as a script would run it), after
a check that its image agrees with the reference (the C engine, double precision); a column that
disagrees is reported as wrong, not timed.  The first run (CuPy start-up, kernel compilation) is
reported apart from the steady state; times are medians of the repeats.  For our own columns the
wall time is split into phases (NBGPU_PROFILE): start-up (interpreter, imports, exit), setup
(flags, input files, tables), render, output (statistics, conversions, files).  Run as
`python bench/bench.py` or `nbgpu bench`.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
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


def find_inputs(explicit: str | None) -> Path:
    """A folder holding A.mat, scaled.hkl and p1_small.hkl (or their .gz)."""
    candidates = [Path(explicit)] if explicit else []
    candidates += [HERE.parent / "tests" / "golden" / "inputs", HERE.parents[1] / "shared" / "golden" / "inputs",
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


class Column:
    """One way of rendering: a command prefix, extra flags, an environment, a tolerance tier
    (every column's first run -- start-up, kernel compilation -- is reported apart)."""

    def __init__(self, name, command, extra=(), env=None, tier="exact", ours=False):
        self.name, self.command, self.extra, self.env = name, command, list(extra), env or {}
        self.tier, self.ours = tier, ours

    def run(self, args, work: Path, timeout: float) -> dict:
        """One fresh process; wall time, peak RSS and (for nbgpu) its profile."""
        for f in work.glob("*.bin"):
            if f.name != "Fdump.bin":
                f.unlink()
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
        if status != 0 or not (work / "floatimage.bin").exists():
            return {"error": f"exit status {status}: {stderr.strip().splitlines()[-1:] or ''}"}
        result = {"wall": wall, "peak_rss": peak_rss,
                  "image": np.fromfile(work / "floatimage.bin", np.float32)}
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


def nbgpu_command() -> list[str]:
    """How a user runs nbgpu: the installed command beside this Python, else `python -m nbgpu`."""
    script = Path(sys.executable).with_name("nbgpu")
    return [str(script)] if script.exists() else [sys.executable, "-m", "nbgpu"]


def make_columns(opts, gpu: bool) -> list[Column]:
    nbgpu = nbgpu_command()
    threads = sorted(set(opts.threads) if opts.threads else {os.cpu_count() or 1, 1}, reverse=True)
    # the C engine with every thread comes first: its image is the reference the others must match
    columns = [Column(f"nbgpu-c-{t}t", nbgpu, ["-backend", "c"], {"OMP_NUM_THREADS": str(t)}, ours=True)
               for t in threads]
    if gpu:
        columns += [Column("nbgpu-cuda-double", nbgpu, ["-backend", "cuda"], ours=True),
                    Column("nbgpu-cuda-single", nbgpu, ["-backend", "cuda", "-precision", "single"],
                           tier="fast", ours=True)]
    for spec in opts.ref:
        name, _, path = spec.partition("=")
        if not path or not shutil.which(path):
            raise SystemExit(f"bench: --ref {spec}: expected NAME=PATH of an executable")
        if "cuda" in name.lower():        # a GPU program: threads do not matter
            columns.append(Column(name, [path], tier="fast"))
        else:
            columns += [Column(f"{name}-{t}t", [path], env={"OMP_NUM_THREADS": str(t)}) for t in threads]
    return columns


def bench_case(args, columns, work, opts, log) -> dict:
    """Run every column on one case: check each image against the reference, then time it."""
    out, reference = {"columns": {}}, None
    for column in columns:
        first = column.run(args, work, opts.timeout)
        if "error" in first:
            out["columns"][column.name] = {"status": "failed", "why": first["error"]}
            log(f"  {column.name:<22} failed: {first['error']}")
            if reference is None:
                return {"error": f"the reference ({column.name}) failed: {first['error']}", **out}
            continue
        if reference is None:
            reference = first["image"].astype(np.float64)
        check = agreement(reference, first["image"], column.tier)
        if not check["ok"]:
            out["columns"][column.name] = {"status": "wrong", **check}
            log(f"  {column.name:<22} WRONG (not timed): {check['why']}")
            continue
        # the first run also warms caches (and on a GPU compiles the kernels): timed apart
        steady = [r for r in (column.run(args, work, opts.timeout) for _ in range(opts.repeat)) if "error" not in r]
        runs = steady or [first]
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
        out["columns"][column.name] = entry
        log(f"  {column.name:<22} {entry['wall']:9.3f} s  (first {entry['first_wall']:.3f} s)  "
            f"max_rel {entry['max_rel']:.1e}  rss {entry['peak_rss'] / 2**20:.0f} MiB"
            + (f"  {entry['evals_per_s']:.3g} evals/s" if profile else "")
            + (f"  kernel {profile['kernel_seconds']:.3f} s" if profile and profile.get("kernel_seconds") else ""))
        if profile:
            log(" " * 26 + "  ".join(f"{name} {seconds:.3f}" for name, seconds in entry["phases"].items()))
    timed = {k: v["wall"] for k, v in out["columns"].items() if v["status"] == "ok"}
    out["ratios"] = {a: {b: timed[b] / timed[a] for b in timed if b != a} for a in timed}
    return out


PHASES = ("setup", "render", "output")


def phases(runs) -> dict:
    """Median seconds of each phase of our runs; start-up is the rest of the wall time."""
    out = {"start-up": statistics.median(r["wall"] - sum(r["profile"][f"{p}_seconds"] for p in PHASES)
                                         for r in runs)}
    out.update({p: statistics.median(r["profile"][f"{p}_seconds"] for r in runs) for p in PHASES})
    return out


def plot(results, path: Path, log):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("(matplotlib is not installed: no plot; pip install matplotlib)")
        return
    names = [n for n in results["cases"] if "columns" in results["cases"][n]]
    columns = sorted({c for n in names for c, v in results["cases"][n]["columns"].items() if v["status"] == "ok"})
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 1.2), 4))
    width = 0.8 / max(1, len(columns))
    for i, column in enumerate(columns):
        walls = [results["cases"][n]["columns"].get(column, {}).get("wall", np.nan) for n in names]
        ax.bar(np.arange(len(names)) + i * width, walls, width, label=column)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("wall time per image (s)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    log(f"plot: {path}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="nbgpu bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small versions of the cases (a CPU, under 2 minutes)")
    ap.add_argument("--ref", action="append", default=[], metavar="NAME=PATH",
                    help="another nanoBragg-compatible program to time (repeatable); names containing 'cuda' "
                         "are run once, others at 1 and all CPU threads")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed runs per column after the first (default 3); the wall time is their median")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per run")
    ap.add_argument("--threads", type=lambda text: [int(t) for t in text.split(",")], default=None,
                    metavar="N[,N...]", help="OpenMP thread counts of the CPU columns (default: 1 and all)")
    ap.add_argument("--inputs", help="folder with A.mat, scaled.hkl, p1_small.hkl")
    ap.add_argument("--json", type=Path, help="write all results here")
    ap.add_argument("--plot", type=Path, help="write a PNG bar chart here (needs matplotlib)")
    ap.add_argument("--kernel-report", action="store_true",
                    help="instead of timing: registers, spills and occupancy of the CUDA kernel's variants on "
                         "sm_90, from nvcc (no GPU needed); exit status 1 when one is over the register budget or spills")
    ap.add_argument("--all-variants", action="store_true",
                    help="with --kernel-report: all 192 variants (slow) instead of a covering set")
    ap.add_argument("--sweep", action="store_true",
                    help="instead of the cases: a rotation sweep of --frames frames as nbgpu batch, as an "
                         "nbgpu.Simulator script and as shell loops of nbgpu and of each --ref (name the "
                         "canonical program nanoBragg), at the first --threads count (default: all)")
    ap.add_argument("--frames", type=int, default=100, help="frames of --sweep (default 100)")
    ap.add_argument("--cluster", action="store_true",
                    help="instead of the cases: nbgpu batch with --workers against in-process (1 thread), "
                         "jobs of >= 0.3 s: parallel efficiency and per-task overhead (needs nbgpu[cluster])")
    ap.add_argument("--workers", type=int, default=2, help="Dask workers of --cluster (default 2)")
    ap.add_argument("--jobs", type=int, default=40, help="jobs of --cluster (default 40)")
    opts = ap.parse_args(argv)
    if opts.kernel_report:
        return kernel_report_main(opts)
    log = lambda text: print(text, flush=True)
    if opts.sweep or opts.cluster:
        return sweep_main(opts, argv, log)

    from .engines import cuda_unavailable
    gpu = not cuda_unavailable()
    selected = cases(opts.quick)
    if opts.cases:
        wanted = opts.cases.split(",")
        unknown = [n for n in wanted if n not in selected]
        if unknown:
            raise SystemExit(f"bench: unknown case(s) {unknown}; known: {sorted(selected)}")
        selected = {n: selected[n] for n in wanted}
    columns = make_columns(opts, gpu)
    results = {"command": " ".join(["nbgpu bench"] + (argv if argv is not None else sys.argv[1:])),
               "environment": environment(), "quick": opts.quick, "repeat": opts.repeat, "cases": {}}
    log(f"bench: {len(selected)} cases x {len(columns)} columns on {results['environment'].get('cpu')}, "
        f"GPU: {results['environment'].get('gpu')}")
    inputs = find_inputs(opts.inputs)
    with tempfile.TemporaryDirectory(prefix="nbgpu-bench-") as tmp:
        work = Path(tmp)
        stage_inputs(inputs, work)
        for name, args in selected.items():
            log(f"{name}: {' '.join(args)}")
            results["cases"][name] = bench_case(args, columns, work, opts, log)
            if opts.json:            # after every case: a run cut short keeps what it measured
                write_json(results, opts.json)
    if opts.json:
        log(f"results: {opts.json}")
    if opts.plot:
        plot(results, opts.plot, log)
    print_ratios(results, log)
    print_summary(results, log)
    return 0


def write_json(results, path: Path):
    """The results as JSON, written to a temporary name and renamed (never half a file)."""
    serializable = json.loads(json.dumps(results, default=float))
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(serializable, indent=1))
    partial.replace(path)


def sweep_main(opts, argv, log) -> int:
    """--sweep and --cluster: many jobs one way against another."""
    from .bench_cluster import run_cluster_bench
    from .bench_sweep import run_sweep
    results = {"command": " ".join(["nbgpu bench"] + (argv if argv is not None else sys.argv[1:])),
               "environment": environment()}
    name, run = ("cluster", run_cluster_bench) if opts.cluster else ("sweep", run_sweep)
    opts.frames = opts.jobs if opts.cluster else opts.frames
    try:
        results[name] = run(opts, stage_inputs, find_inputs, nbgpu_command, log)
    except RuntimeError as exc:
        raise SystemExit(f"bench: {exc}")
    if opts.json:
        write_json(results, opts.json)
        log(f"results: {opts.json}")
    return 0


def kernel_report_main(opts) -> int:
    from .kernel_report import kernel_report, print_report
    try:
        rows = kernel_report(every=opts.all_variants, jobs=os.cpu_count() or 1)
    except RuntimeError as exc:
        raise SystemExit(f"bench: {exc}")
    print_report(rows, lambda text: print(text, flush=True))
    if opts.json:
        write_json({"command": "nbgpu bench --kernel-report", "kernels": rows}, opts.json)
    return 1 if any(row["status"] != "ok" for row in rows) else 0


def print_summary(results, log):
    """One table: our wall time over every other program's, per case and thread count
    (below 1: we are faster), then our phases."""
    names = [n for n in results["cases"] if results["cases"][n].get("ratios")]
    if not names:
        return
    timed = {n: {c: v["wall"] for c, v in results["cases"][n]["columns"].items() if v["status"] == "ok"}
             for n in names}
    ours = sorted({c for n in names for c in timed[n] if c.startswith("nbgpu-")})
    others = sorted({c for n in names for c in timed[n] if not c.startswith("nbgpu-")})
    pairs = [(a, b) for a in ours for b in others
             if a.rsplit("-", 1)[-1] == b.rsplit("-", 1)[-1] or not b.endswith("t")]
    if pairs:
        log("\nwall time ratio (ours / theirs, median of the runs; below 1 is faster)")
        log(f"{'case':<16}" + "".join(f"{a + ' / ' + b:>34}" for a, b in pairs))
        for n in names:
            log(f"{n:<16}" + "".join(f"{timed[n][a] / timed[n][b]:>34.2f}" if a in timed[n] and b in timed[n]
                                     else f"{'-':>34}" for a, b in pairs))
    log("\nphases of our runs, seconds (start-up = interpreter, imports, exit)")
    log(f"{'case':<16}{'column':<20}" + "".join(f"{p:>10}" for p in ("start-up",) + PHASES) + f"{'wall':>10}")
    for n in names:
        for c in ours:
            entry = results["cases"][n]["columns"].get(c, {})
            if "phases" in entry:
                log(f"{n:<16}{c:<20}" + "".join(f"{v:>10.3f}" for v in entry["phases"].values())
                    + f"{entry['wall']:>10.3f}")


def print_ratios(results, log):
    """How many times faster each column is than each other one, per case."""
    for name, case in results["cases"].items():
        ratios = case.get("ratios") or {}
        if len(ratios) < 2:
            continue
        names = list(ratios)
        log(f"\n{name}: speed-up of the row over the column (time of column / time of row)")
        log(" " * 24 + "".join(f"{n[:14]:>15}" for n in names))
        for a in names:
            log(f"{a:<24}" + "".join(f"{ratios[a].get(b, 1.0):>15.2f}" for b in names))

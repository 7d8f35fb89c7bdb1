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
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from nbgpu.bench import cluster, sweep
from nbgpu.bench.cases import (PANEL_TARGET, cases, environment, find_inputs, panel_cases, stage_inputs,
                               stage_panel_inputs, stage_suite_inputs, suite_cases)
from nbgpu.bench.columns import PHASES, bench_side_by_side, make_columns


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
    ap.add_argument("--cases", default="", help="comma-separated case names (default: nanoBragg's; 'suite' adds "
                                                "nonBragg's and noisify's cases, 'panels' a four-panel -geom render "
                                                "timed against a one-panel render of as many pixels)")
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

    from nbgpu.engine.select import cuda_unavailable
    gpu = not cuda_unavailable()
    known = {name: ("nanoBragg", args) for name, args in cases(opts.quick).items()}
    selected = dict(known)
    groups = {"suite": suite_cases(), "panels": {n: ("nanoBragg", a) for n, a in panel_cases(opts.quick).items()}}
    for group in groups.values():
        known.update(group)
    if opts.cases:
        wanted = [n for word in opts.cases.split(",") for n in (groups[word] if word in groups else [word])]
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise SystemExit(f"bench: unknown case(s) {unknown}; known: {sorted(known)}, 'suite' or 'panels'")
        selected = {n: known[n] for n in wanted}
    programs = {program for program, _ in selected.values()}
    columns = {program: make_columns(opts, gpu, program) for program in sorted(programs)}
    # the panels pair is timed against itself (nbgpu's one-panel run), side by side, run for run
    pair = [n for n in groups["panels"] if n in selected]
    batches = [[n] for n in selected if n not in pair] + ([pair] if pair else [])
    results = {"command": " ".join(["nbgpu bench"] + (argv if argv is not None else sys.argv[1:])),
               "environment": environment(), "quick": opts.quick, "repeat": opts.repeat, "cases": {}}
    log(f"bench: {len(selected)} cases, columns {', '.join(c.name for c in columns.get('nanoBragg', []))} "
        f"on {results['environment'].get('cpu')}, GPU: {results['environment'].get('gpu')}")
    if pair and opts.ref:
        log(f"bench: {', '.join(pair)}: our columns only (--ref programs do not read -geom)")
    inputs = find_inputs(opts.inputs) if "nanoBragg" in programs else None
    with tempfile.TemporaryDirectory(prefix="nbgpu-bench-") as tmp:
        work = Path(tmp)
        if inputs is not None:
            stage_inputs(inputs, work)
        if programs - {"nanoBragg"}:
            stage_suite_inputs(work)
        if pair:
            stage_panel_inputs(work, opts.quick)
        for batch in batches:
            program = selected[batch[0]][0]
            for name in batch:
                log(f"{name}: {program} {' '.join(selected[name][1])}")
            batch_columns = [c for c in columns[program] if c.ours or batch is not pair]
            outs = bench_side_by_side({n: selected[n][1] for n in batch}, batch_columns, work, opts, log)
            for name, out in outs.items():
                results["cases"][name] = dict(out, program=program)
            if len(pair) == 2 and batch is pair:
                results["pairs"] = {"panels": pair_ratios(results["cases"], *pair)}
            if opts.json:            # after every case: a run cut short keeps what it measured
                write_json(results, opts.json)
    if opts.json:
        log(f"results: {opts.json}")
    if opts.plot:
        plot(results, opts.plot, log)
    print_ratios(results, log)
    print_summary(results, log)
    print_pairs(results, log)
    return 0


def write_json(results, path: Path):
    """The results as JSON, written to a temporary name and renamed (never half a file)."""
    serializable = json.loads(json.dumps(results, default=float))
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(serializable, indent=1))
    partial.replace(path)


def sweep_main(opts, argv, log) -> int:
    """--sweep and --cluster: many jobs one way against another."""
    results = {"command": " ".join(["nbgpu bench"] + (argv if argv is not None else sys.argv[1:])),
               "environment": environment()}
    name, run = ("cluster", cluster.run_cluster_bench) if opts.cluster else ("sweep", sweep.run_sweep)
    opts.frames = opts.jobs if opts.cluster else opts.frames
    try:
        results[name] = run(opts, log)
    except RuntimeError as exc:
        raise SystemExit(f"bench: {exc}")
    if opts.json:
        write_json(results, opts.json)
        log(f"results: {opts.json}")
    return 0


def kernel_report_main(opts) -> int:
    from nbgpu.bench.kernels import amorphous_report, kernel_report, print_one_build, print_report, psf_report
    try:
        rows = kernel_report(every=opts.all_variants, jobs=os.cpu_count() or 1)
        nonbragg, psf = amorphous_report(), psf_report()
    except RuntimeError as exc:
        raise SystemExit(f"bench: {exc}")
    print_report(rows, lambda text: print(text, flush=True))
    print_one_build(nonbragg, lambda text: print(text, flush=True), "nonBragg")
    print_one_build(psf, lambda text: print(text, flush=True), "noisify's PSF")
    if opts.json:
        write_json({"command": "nbgpu bench --kernel-report", "kernels": rows, "nonbragg_kernel": nonbragg,
                    "psf_kernel": psf}, opts.json)
    return 1 if any(row["status"] != "ok" for row in rows + [nonbragg, psf]) else 0


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


def pair_ratios(cases, multi: str, one: str) -> dict:
    """Per column timed on both: the multi-panel case's median wall time and render phase over the
    one-panel case's (the reference is nbgpu's own one-panel run, not another program)."""
    out = {"multi": multi, "one": one, "target": PANEL_TARGET, "columns": {}}
    for column, a in cases[multi]["columns"].items():
        b = cases[one]["columns"].get(column, {})
        if a["status"] == "ok" and b.get("status") == "ok":
            entry = {"multi_wall": a["wall"], "one_wall": b["wall"], "ratio": a["wall"] / b["wall"]}
            if "phases" in a and "phases" in b:
                entry["render_ratio"] = a["phases"]["render"] / b["phases"]["render"]
            out["columns"][column] = entry
    return out


def print_pairs(results, log):
    """The panels pair: multi-panel over one-panel, per column (issue 22: at most 1.1)."""
    for pair in results.get("pairs", {}).values():
        log(f"\nmulti-panel ({pair['multi']}) over one-panel ({pair['one']}), the same rendered pixels; reference: "
            f"nbgpu's own one-panel run (medians of {results['repeat']} alternating runs; target <= {pair['target']:g})")
        log(f"{'column':<20}{'multi-panel (s)':>16}{'ref: nbgpu one-panel (s)':>26}{'multi/one wall':>16}"
            f"{'multi/one render':>18}  target")
        for column, entry in pair["columns"].items():
            render = f"{entry['render_ratio']:>18.3f}" if "render_ratio" in entry else f"{'-':>18}"
            log(f"{column:<20}{entry['multi_wall']:>16.3f}{entry['one_wall']:>26.3f}{entry['ratio']:>16.3f}"
                f"{render}  {'met' if entry['ratio'] <= pair['target'] else 'MISSED'}")


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

"""`nbgpu bench --cluster`: nbgpu batch on a local Dask cluster against the in-process batch.

Parallel efficiency: the same jobs (each >= 0.3 s on one thread) as `nbgpu batch` in one process
with one OpenMP thread, and with `--workers N` (N single-threaded workers), wall times side by
side, cluster start-up included: efficiency = T(in-process) / (N x T(workers)).  Per-task
overhead: tiny jobs both ways, less each way's start-up (a batch of one tiny job).
"""
from __future__ import annotations

import os
from pathlib import Path

from nbgpu.bench.cases import nbgpu_command
from nbgpu.bench.sweep import inputs_folder, median_wall, same_files

HEAVY = ("-mat A.mat -hkl p1_small.hkl -N 10 -oversample 7 -detpixels 512 -pixel 0.2 -distance 100 -phisteps 2 "
         "-phi {phi:g} -osc 0.2 -seed {n} -floatfile f{n:03d}.bin -intfile i{n:03d}.img -noisefile n{n:03d}.img "
         "-nopgm -noprogress")
TINY = ("-mat A.mat -hkl p1_small.hkl -N 2 -oversample 1 -detpixels 8 -pixel 0.4 -distance 100 -seed {n} "
        "-floatfile f{n:03d}.bin -intfile i{n:03d}.img -noisefile n{n:03d}.img -nopgm -noprogress")
TARGET_EFFICIENCY = 0.8


def job_file(folder: Path, template: str, count: int):
    (folder / "jobs.txt").write_text("".join(template.format(phi=n * 0.2, n=n) + "\n" for n in range(count)))


def run_cluster_bench(opts, log) -> dict:
    import tempfile
    workers, jobs = opts.workers, opts.frames
    nbgpu = nbgpu_command()
    one_thread = dict(os.environ, OMP_NUM_THREADS="1")
    ways = {"in-process, 1 thread": (nbgpu + ["batch", "jobs.txt"], one_thread),
            f"--workers {workers}": (nbgpu + ["batch", "jobs.txt", "--workers", str(workers)], dict(os.environ))}
    folders = {way: way.replace(" ", "_").replace(",", "") for way in ways}
    results = {"workers": workers, "jobs": jobs, "job": HEAVY, "walls": {}, "tiny": {}}
    log(f"cluster: {jobs} jobs of 512x512 pixels, oversample 7, 2 phi steps; {workers} Dask workers")
    with tempfile.TemporaryDirectory(prefix="nbgpu-cluster-") as tmp:
        work = Path(tmp)
        inputs = inputs_folder(work, opts)
        for template, count, into in ((HEAVY, jobs, results["walls"]), (TINY, 40, results["tiny"]),
                                      (TINY, 1, results.setdefault("start_up", {}))):
            for way, (command, env) in ways.items():
                into[way] = median_wall(command, work, folders[way], inputs, env, opts.repeat, opts.timeout,
                                        lambda folder: job_file(folder, template, count))
            if template is HEAVY:
                here, there = (work / folders[way] for way in ways)
                names = [p.name for p in here.iterdir() if p.suffix in (".bin", ".img")]
                results["identical"] = not same_files(here, there, names)
    inproc, cluster = (results["walls"][way] for way in ways)
    results["seconds_per_job_one_thread"] = inproc / jobs
    results["efficiency"] = inproc / (workers * cluster)
    tiny_in, tiny_cluster = ((results["tiny"][way] - results["start_up"][way]) / 39 for way in ways)
    results["task_overhead_ms"] = (tiny_cluster * workers - tiny_in) * 1000
    for way in ways:
        log(f"  {way:<22} {results['walls'][way]:8.2f} s   tiny jobs {results['tiny'][way]:6.2f} s   "
            f"start-up {results['start_up'][way]:5.2f} s")
    log(f"  files identical both ways: {results['identical']}")
    verdict = "met" if results["efficiency"] >= TARGET_EFFICIENCY else "MISSED"
    log(f"\nparallel efficiency {results['efficiency']:.2f} (target >= {TARGET_EFFICIENCY}: {verdict}); "
        f"{results['seconds_per_job_one_thread']:.2f} s a job on one thread; per-task overhead "
        f"{results['task_overhead_ms']:.1f} ms")
    return results

#!/usr/bin/env python3
"""The CUDA engine's behaviour on a GPU, beyond its images (bench/gpu_check.sh's `engine` step):

  fault      a launch that faults (a bad table address) ends as one engine error, not a traceback
  auto       "-backend auto" keeps a small job on the CPU, and takes the GPU for a large one
  threads    two threads rendering at once give the images they give one after the other
  progress   the meter of a "heavy" render moves while the kernel runs
  cancel     Ctrl-C during that render stops it within a fraction of a second (exit 130)
  panels     a four-panel detector (-geom, rotated and tilted panels, a bad region, interpolation
             switched off in two panels) rendered in one call: each panel the CUDA engine's render
             of its equivalent one-panel argv bit for bit, the whole within the exact tier of the
             C engine's, the switch-off at the C engine's pixel (panels 512 x 384, 64 x 48 with --quick)
  psf        noisify's point-spread function on the GPU (-backend cuda) gives the C engine's image
             to the bit (2048^2, 512^2 with --quick; the bench's PSF and a wide one, with and without
             noise); the PSF's
             time on each, in one process (the GPU's first call, with its kernel build, apart)

    python bench/gpu_engine_check.py OUT.json [--backend cuda|c] [--quick]

--backend c (the dry run on a machine without a GPU) runs what the C engine can (progress,
cancel, auto; threads, panels and psf over the host emulation) and marks the rest skipped.  Exit status 1 when a
check fails.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nbgpu.bench.cases import HEAVY, find_inputs, stage_inputs, stage_suite_inputs  # noqa: E402

SMALL = "-cell 30 30 30 90 90 90 -default_F 100 -N 5 -distance 60 -detpixels 16 -nonoise -noprogress"
FAULT = """
import sys
from nbgpu.engine import cuda as engine_cuda
from nbgpu.engine.cuda import CudaEngine
from nbgpu.base.errors import EngineError
from nbgpu.run.simulate import simulate_argv
from nbgpu.engine.c import CEngine
quiet = lambda *a, **k: None
problem = simulate_argv(sys.argv[1:], quiet, quiet, write_files=False, engine=CEngine()).problem
packed = engine_cuda.pack_problem
engine_cuda.pack_problem = lambda problem, pointers: packed(problem, dict(pointers, Fhkl=8))
try:
    simulate_argv(sys.argv[1:], quiet, quiet, write_files=False, engine=CudaEngine("double"))
except EngineError as exc:
    print("EngineError:", exc)
    sys.exit(3)
print("rendered without a fault")
"""

# tests/test_panels.py's four panels, in pixels of 1/64 of its panels' width (`scale` pixels a
# unit, the pixel size scaled to match: the same detector, finer): (min_fs, min_ss, width,
# height, corner_x, corner_y, fs, ss, a setting of its own)
FOUR_PANELS = ((0, 0, 64, 48, -70, 5, "+1.0x +0.0y", "+0.0x -1.0y", ""),
               (64, 0, 64, 48, 6, 60, "+0.9848x -0.1736y", "-0.1736x -0.9848y", "coffset = 0.002"),
               (0, 48, 64, 48, 60, -8, "+0.0x -1.0y +0.05z", "-1.0x +0.0y", "clen = 0.11"),
               (64, 48, 56, 40, -5, -62, "-0.7071x -0.7071y", "+0.7071x -0.7071y -0.1z", ""))
# with this grid and tests/test_panels.py's crystal, interpolation switches off in panels 1 and 3 only
PANEL_GRID = ((-4, 4), (-6, 4), (-6, 6))
PANEL_CRYSTAL = ("-cell 40 50 60 90 90 90 -N 5 -misset 10 20 30 -interpolate -phi 5 -osc 1 -phisteps 2 -mosaic 0.5 "
                 "-mosaic_dom 2 -oversample 1 -nonoise -noprogress")


def four_panels(scale: int) -> str:
    """The CrystFEL file of FOUR_PANELS, with a bad region in panel 1."""
    lines = ["photon_energy = 12000", f"res = {10000 * scale}", "clen = 0.1"]
    for i, (f0, s0, width, height, x, y, fs, ss, own) in enumerate(FOUR_PANELS):
        lines += [f"p{i}/min_fs = {f0 * scale}", f"p{i}/max_fs = {(f0 + width) * scale - 1}",
                  f"p{i}/min_ss = {s0 * scale}", f"p{i}/max_ss = {(s0 + height) * scale - 1}",
                  f"p{i}/corner_x = {x * scale}", f"p{i}/corner_y = {y * scale}", f"p{i}/fs = {fs}",
                  f"p{i}/ss = {ss}"] + ([f"p{i}/{own}"] if own else [])
    lines += [f"bad/min_fs = {69 * scale}", f"bad/max_fs = {74 * scale - 1}", f"bad/min_ss = {10 * scale}",
              f"bad/max_ss = {21 * scale - 1}", "bad/panel = p1"]
    return "\n".join(lines) + "\n"


def nbgpu(args, work, env=None, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "nbgpu", *args], cwd=work, env=dict(os.environ, **(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def meter_lines(process, stop_at=None):
    """(seconds since start, line) of each stdout line; with stop_at, returns at the first
    meter line at or past that percentage."""
    started, lines = time.monotonic(), []
    for line in process.stdout:
        lines.append((time.monotonic() - started, line.rstrip()))
        if stop_at is not None and line.endswith("% done\n") and int(line.split("%")[0]) >= stop_at:
            break
    return lines


def check_progress(args, work, backend):
    process = nbgpu(args + ["-backend", backend], work)
    lines = meter_lines(process)
    process.wait(timeout=600)
    marks = [(t, line) for t, line in lines if line.endswith("% done")]
    if process.returncode != 0 or len(marks) < 3:
        return {"ok": False, "why": f"exit {process.returncode}, {len(marks)} meter lines",
                "stderr": process.stderr.read()[-500:]}
    span = marks[-1][0] - marks[0][0]
    end = lines[-1][0]
    # the meter moves while the render runs: its lines are spread out, not printed at the end
    ok = span >= 0.3 * (end - marks[0][0]) and len({round(t, 2) for t, _ in marks}) >= 3
    return {"ok": ok, "meter_lines": len(marks), "meter_span_s": span, "run_s": end,
            "marks": [(round(t, 3), line) for t, line in marks]}


def check_cancel(args, work, backend):
    process = nbgpu(args + ["-backend", backend], work)
    before = meter_lines(process, stop_at=10)
    asked = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    latency = time.monotonic() - asked
    # the latency includes the process's exit: the render itself stops within a pixel
    ok = process.returncode == 130 and "interrupted" in stderr and latency < 1.5
    return {"ok": ok, "exit": process.returncode, "latency_s": latency, "at": before[-1][1] if before else None,
            "stderr": stderr.strip()[-300:]}


def check_fault(work):
    done = subprocess.run([sys.executable, "-c", FAULT, *"-cell 35 40 45 88 92 95 -hkl p1_small.hkl -N 6 -distance 70 "
                           "-detpixels 256 -nonoise -noprogress".split()], cwd=work, capture_output=True, text=True,
                          timeout=120)
    ok = done.returncode == 3 and "EngineError: the CUDA" in done.stdout
    return {"ok": ok, "exit": done.returncode, "stdout": done.stdout.strip()[-400:], "stderr": done.stderr[-400:]}


def check_threads(work, backend):
    import numpy as np
    from nbgpu.engine.cuda import CudaEngine
    from nbgpu.engine.cuda_devices import HostDevice
    from nbgpu.run.simulate import simulate_argv
    quiet = lambda *a, **k: None
    jobs = [f"-cell 35 40 45 88 92 95 -hkl p1_small.hkl -N {n} -misset 10 {n} 3 -distance 70 -detpixels 512 "
            "-nonoise -noprogress".split() for n in (4, 7)]
    device = (lambda: None) if backend == "cuda" else (lambda: HostDevice("double"))
    os.chdir(work)
    alone = [simulate_argv(job, quiet, quiet, write_files=False, engine=CudaEngine(device=device())).image
             for job in jobs]
    together = {}

    def render(index):
        together[index] = simulate_argv(jobs[index], quiet, quiet, write_files=False,
                                        engine=CudaEngine(device=device())).image
    threads = [threading.Thread(target=render, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    same = [bool(np.array_equal(alone[i], together.get(i))) for i in range(len(jobs))]
    return {"ok": all(same), "identical": same, "device": "GPU" if backend == "cuda" else "host emulation"}


def check_panels(work, backend, quick):
    import numpy as np
    from nbgpu.bench.columns import agreement
    from nbgpu.engine.c import CEngine
    from nbgpu.engine.cuda import CudaEngine
    from nbgpu.engine.cuda_devices import HostDevice
    from nbgpu.run.simulate import simulate_argv
    from nbgpu.setup.panels import equivalent_argv
    quiet = lambda *a, **k: None
    (work / "four.geom").write_text(four_panels(1 if quick else 8))
    (h0, h1), (k0, k1), (l0, l1) = PANEL_GRID
    (work / "grid.hkl").write_text("".join(f"{h} {k} {l} {10 + abs(h) + 2 * abs(k) + 3 * abs(l)}\n"
                                           for h in range(h0, h1 + 1) for k in range(k0, k1 + 1)
                                           for l in range(l0, l1 + 1)))
    args = ["-geom", "four.geom", "-hkl", "grid.hkl"] + PANEL_CRYSTAL.split()
    device = (lambda: None) if backend == "cuda" else (lambda: HostDevice("double"))
    os.chdir(work)
    timed = {}

    def render(words, engine, name=None):
        started = time.perf_counter()
        result = simulate_argv(words, quiet, quiet, write_files=False, engine=engine)
        if name:
            timed[name] = round(time.perf_counter() - started, 4)
        return result
    multi = render(args, CudaEngine(device=device()), "cuda_s")
    c = render(args, CEngine(), "c_s")
    singles = [render(equivalent_argv(multi.setup, i), CudaEngine(device=device()))
               for i in range(multi.setup.panels.count)]
    # the one-panel runs know no bad region: compared outside it
    rendered = np.frombuffer(multi.setup.panels.mask, np.uint8).reshape(multi.panels.shape) != 0
    same = [bool(np.array_equal(multi.panels[i][:s, :f][rendered[i][:s, :f]].view(np.uint32),
                                one.image[rendered[i][:s, :f]].view(np.uint32)))
            for i, ((f, s), one) in enumerate(zip(multi.setup.panels.sizes, singles))]
    switched = [one.rendered.interpolate_off_at for one in singles]
    tier = agreement(c.image.ravel().astype(np.float64), multi.image.ravel(), "exact")
    off = (multi.rendered.interpolate_off_at, c.rendered.interpolate_off_at)
    ok = all(same) and tier["ok"] and off[0] == off[1] >= 0 and min(switched) < 0 <= max(switched)
    return {"ok": ok, "device": "GPU" if backend == "cuda" else "host emulation", "pixels": multi.image.size,
            "panels_identical": same, "panel_switch_off": switched, "switch_off": off, "exact_tier": tier, **timed}


def check_auto(work, backend):
    small = nbgpu(SMALL.split(), work)
    _, small_err = small.communicate(timeout=120)
    large = nbgpu(SMALL.split(), work, env={"NBGPU_AUTO_GPU_SECONDS": "0"})
    _, large_err = large.communicate(timeout=120)
    if backend == "cuda":
        ok = "a small job" in small_err and "rendering with the CUDA engine" in large_err
    else:
        ok = "rendering with the C engine" in small_err and "rendering with the C engine" in large_err
    return {"ok": ok and small.returncode == 0 and large.returncode == 0, "small": small_err.strip(),
            "forced": large_err.strip()}


def check_psf(work, backend, quick):
    import numpy as np
    from nbgpu.engine import psf_cuda, select
    from nbgpu.run.noisify import noisify_image
    if backend != "cuda":           # the dry run: the GPU's path over the host emulation
        select.cuda_unavailable = lambda: ""
        psf_cuda.CupyPsf = psf_cuda.HostPsf
    stage_suite_inputs(work)
    image = np.fromfile(work / "spots2048.bin", np.float32).reshape(2048, 2048)
    if quick:                       # the dry run: the host emulation's gather is one core's loop
        image = np.ascontiguousarray(image[:512, :512])
    out, same = {"pixels": image.size}, []
    for name, fwhm in (("bench", 100), ("wide", 300 if quick else 600)):
        for nonoise in (True, False):
            words = dict(seed=7, psf="gauss", psf_fwhm=fwhm, write=None, nonoise=nonoise)
            runs = {}
            for engine in ("c", "cuda", "cuda"):       # the GPU twice: its first call builds the kernel
                started = time.perf_counter()
                result = noisify_image(image, backend=engine, **words)
                seconds = time.perf_counter() - started
                key = engine if engine not in runs else "cuda_warm"
                runs[key] = (seconds, result.noise_array() if not nonoise else result.noiseless_array())
            label = f"{name}{'_nonoise' if nonoise else ''}"
            same.append(all(np.array_equal(runs["c"][1], runs[k][1]) for k in ("cuda", "cuda_warm")))
            out[label] = {"c_s": round(runs["c"][0], 4), "cuda_first_s": round(runs["cuda"][0], 4),
                          "cuda_warm_s": round(runs["cuda_warm"][0], 4), "identical": same[-1]}
    return {"ok": all(same), "device": "GPU" if backend == "cuda" else "host emulation", **out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--backend", choices=("cuda", "c"), default="cuda")
    ap.add_argument("--quick", action="store_true", help="the bench's quick heavy case (a CPU's size)")
    opts = ap.parse_args()
    heavy = HEAVY.format(dom=4, n=96, px=0.25) if opts.quick else HEAVY.format(dom=50, n=1024, px=0.05)
    args = heavy.split() + ["-nonoise", "-floatfile", "heavy.bin", "-nopgm"]
    results = {"backend": opts.backend, "heavy": heavy}
    # the quick checks first: a time box that runs out still leaves their results
    checks = {"fault": lambda work: check_fault(work) if opts.backend == "cuda" else {"skipped": "needs a GPU"},
              "auto": lambda work: check_auto(work, opts.backend),
              "threads": lambda work: check_threads(work, opts.backend),
              "panels": lambda work: check_panels(work, opts.backend, opts.quick),
              "progress": lambda work: check_progress(args, work, opts.backend),
              "cancel": lambda work: check_cancel(args, work, opts.backend),
              "psf": lambda work: check_psf(work, opts.backend, opts.quick)}
    with tempfile.TemporaryDirectory(prefix="nbgpu-engine-check-") as tmp:
        work = Path(tmp)
        stage_inputs(find_inputs(None), work)
        for name, check in checks.items():
            started = time.monotonic()
            try:
                result = check(work)
            except Exception as exc:          # a check that breaks is a failed check, and the rest still run
                result = {"ok": False, "why": f"{type(exc).__name__}: {exc}"}
            result["seconds"] = round(time.monotonic() - started, 3)
            results[name] = result
            verdict = "skipped" if "skipped" in result else ("ok" if result["ok"] else "FAILED")
            detail = {k: v for k, v in result.items() if k not in ("ok", "marks", "stderr", "stdout")}
            print(f"{name:<9} {verdict:<8} {json.dumps(detail)[:300]}", flush=True)
            opts.out.write_text(json.dumps(results, indent=1))
    failed = [name for name, r in results.items() if isinstance(r, dict) and r.get("ok") is False]
    print("engine checks:", "all pass" if not failed else "failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

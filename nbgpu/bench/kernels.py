"""Registers, spills and occupancy of the CUDA kernel's variants on sm_90 (H100/H200), from nvcc.

No GPU is needed: nvcc -Xptxas -v reports what each variant of nb_render_pixels uses, compiled
as the engine compiles it (the same source and options, CuPy's -ftz=true, and the register cap
of REGISTER_BUDGET when the first build is over it).  `nbgpu bench --kernel-report` prints it.
"""
from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbgpu.engine.cuda_kernels import REGISTER_BUDGET, THREADS, Variant, compile_options, kernel_source, within_budget

# sm_90: 64K 32-bit registers and at most 64 warps and 32 blocks per multiprocessor; registers
# are given to warps in units of 256
SM90 = {"registers": 65536, "warps": 64, "blocks": 32, "unit": 256}
PTXAS = re.compile(r"entry function 'nb_render_pixels'.*?(\d+) bytes stack frame, (\d+) bytes spill stores, "
                   r"(\d+) bytes spill loads.*?Used (\d+) registers", re.S)


def occupancy(registers: int, threads: int = THREADS) -> float:
    """Resident warps per multiprocessor over the maximum, as the registers allow."""
    warps = threads // 32
    per_warp = -(-registers * 32 // SM90["unit"]) * SM90["unit"]
    blocks = min(SM90["registers"] // (per_warp * warps), SM90["blocks"], SM90["warps"] // warps)
    return blocks * warps / SM90["warps"]


def common(variant: Variant) -> bool:
    """nanoBragg's usual features: Kahn factor 0 (its default), flat detector, no absorption."""
    return variant.polar == 1 and not variant.curved and not variant.absorb


def variants(every: bool = False) -> list[Variant]:
    """Every variant (192), or a covering set: each shape, with and without interpolation,
    with nanoBragg's usual features and with every other feature on."""
    if every:
        return [Variant(*values) for values in itertools.product(*Variant.CHOICES.values())]
    out = []
    for shape, interpolate in itertools.product(Variant.CHOICES["shape"], Variant.CHOICES["interpolate"]):
        out.append(Variant(shape, interpolate, curved=0, absorb=0, polar=1, dmin=0))
        out.append(Variant(shape, interpolate, curved=1, absorb=1, polar=2, dmin=1))
    return out


def ptxas(nvcc: str, source: Path, options, kernel_name: str, what: str, work: Path) -> dict:
    """The registers, spills and stack ptxas reports for `kernel_name` built from `source` with
    the engine's options and CuPy's -ftz=true, for sm_90."""
    result = subprocess.run([nvcc, "-cubin", "-arch=sm_90", *options, "-ftz=true", "-Xptxas", "-v",
                             "-o", str(work / "kernel.cubin"), str(source)], capture_output=True, text=True,
                            timeout=600)
    pattern = re.compile(PTXAS.pattern.replace("nb_render_pixels", kernel_name), re.S)
    match = pattern.search(result.stderr)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"nvcc failed for {what}: {result.stderr[-2000:]}")
    stack, stores, loads, registers = (int(g) for g in match.groups())
    return {"registers": registers, "spill_stores": stores, "spill_loads": loads, "stack": stack}


def ptxas_figures(nvcc: str, source: Path, precision: str, variant: Variant, cap: int | None, work: Path) -> dict:
    return ptxas(nvcc, source, compile_options(precision, variant, cap), "nb_render_pixels",
                 f"{variant} ({precision})", work)


def measure(variant: Variant, precision: str, nvcc: str, text: str) -> dict:
    """The figures of one variant of the kernel source `text` as the engine builds it (within_budget)."""
    budget = REGISTER_BUDGET[precision]
    with tempfile.TemporaryDirectory(prefix="nbgpu-kernel-") as folder:
        work = Path(folder)
        source = work / "nb_render.cu"
        source.write_text(text)
        figures, capped = within_budget(lambda cap: ptxas_figures(nvcc, source, precision, variant, cap, work),
                                        lambda figures: figures["registers"], precision)
    spills = figures["spill_stores"] + figures["spill_loads"]
    status = "over" if figures["registers"] > budget else ("spills" if spills else "ok")
    return {"variant": dict(zip(Variant.__slots__, variant.key())), "precision": precision, "capped": capped,
            "budget": budget, "occupancy": occupancy(figures["registers"]), "status": status,
            "common": common(variant), **figures}


def kernel_report(every: bool = False, precisions=("double", "single"), jobs: int = 2, nvcc: str | None = None):
    """One row per variant and precision (see measure)."""
    nvcc = nvcc or shutil.which("nvcc")
    if nvcc is None:
        raise RuntimeError("nvcc is not on the PATH: the kernel report needs the CUDA toolkit")
    tasks, text = [(v, p) for v in variants(every) for p in precisions], kernel_source()
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(lambda task: measure(task[0], task[1], nvcc, text), tasks))


def print_report(rows, log):
    log(f"kernel nb_render_pixels on sm_90, {THREADS} threads a block (budget: "
        + ", ".join(f"{p} {b} registers, no spills" for p, b in REGISTER_BUDGET.items()) + ")")
    log(f"{'precision':<10}{'shape':>6}{'interp':>7}{'curved':>7}{'absorb':>7}{'polar':>6}{'dmin':>5}"
        f"{'regs':>6}{'capped':>7}{'spill B':>8}{'occupancy':>10}  status")
    for row in rows:
        v = row["variant"]
        log(f"{row['precision']:<10}{v['shape']:>6}{v['interpolate']:>7}{v['curved']:>7}{v['absorb']:>7}"
            f"{v['polar']:>6}{v['dmin']:>5}{row['registers']:>6}{'yes' if row['capped'] else '':>7}"
            f"{row['spill_stores'] + row['spill_loads']:>8}{row['occupancy']:>10.0%}  {row['status']}")


def one_build_report(engine, nvcc: str | None = None) -> dict:
    """A kernel with no variants, double (nonBragg's engine.amorphous_cuda, noisify's PSF
    engine.psf_cuda), as its engine builds it: the same source and options, CuPy's -ftz=true,
    capped at the double budget when over it."""
    nvcc = nvcc or shutil.which("nvcc")
    if nvcc is None:
        raise RuntimeError("nvcc is not on the PATH: the kernel report needs the CUDA toolkit")
    with tempfile.TemporaryDirectory(prefix="nbgpu-kernel-") as folder:
        work = Path(folder)
        source = work / engine.KERNEL
        source.write_text(engine.kernel_source())

        def figures(cap):
            options = engine.OPTIONS + ((f"--maxrregcount={cap}",) if cap else ())
            return ptxas(nvcc, source, options, engine.KERNEL_NAME, engine.KERNEL, work)
        found, capped = within_budget(figures, lambda f: f["registers"], "double")
    budget = REGISTER_BUDGET["double"]
    spills = found["spill_stores"] + found["spill_loads"]
    status = "over" if found["registers"] > budget else ("spills" if spills else "ok")
    return {"kernel": engine.KERNEL_NAME, "precision": "double", "capped": capped, "budget": budget,
            "occupancy": occupancy(found["registers"]), "status": status, **found}


def amorphous_report(nvcc: str | None = None) -> dict:
    """nonBragg's kernel (nb_amorphous.cu)."""
    from nbgpu.engine import amorphous_cuda
    return one_build_report(amorphous_cuda, nvcc)


def psf_report(nvcc: str | None = None) -> dict:
    """noisify's point-spread function (nb_psf.cu)."""
    from nbgpu.engine import psf_cuda
    return one_build_report(psf_cuda, nvcc)


def print_one_build(row, log, program: str):
    log(f"kernel {row['kernel']} ({program}) on sm_90, double: {row['registers']} registers"
        f"{' (capped)' if row['capped'] else ''}, {row['spill_stores'] + row['spill_loads']} spill bytes, "
        f"occupancy {row['occupancy']:.0%}  {row['status']}")


def print_amorphous(row, log):
    print_one_build(row, log, "nonBragg")

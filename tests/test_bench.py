"""bench/: runs, checks images before timing them, reports ratios and writes JSON."""
import json
import os
import stat
import sys

import pytest

from helpers import LOCAL_SUITE
from nbgpu.bench.cases import cases
from nbgpu.bench.columns import agreement
from nbgpu.bench.main import main


def program(path, extra=""):
    """A nanoBragg-compatible program for --ref: nbgpu itself, optionally made to disagree."""
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nbgpu "$@" -backend c {extra}\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_quick_bench_times_agreeing_columns_and_refuses_wrong_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = program(tmp_path / "same")
    bad = program(tmp_path / "other", "-fluence 1e20")
    out = tmp_path / "out.json"
    assert main(["--quick", "--cases", "sweep-512", "--ref", f"twin={good}", "--ref", f"off={bad}",
                 "--inputs", str(LOCAL_SUITE / "inputs"), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    columns = result["cases"]["sweep-512"]["columns"]
    threads = os.cpu_count()
    assert columns[f"nbgpu-c-{threads}t"]["status"] == "ok"
    assert columns[f"twin-{threads}t"]["status"] == "ok" and columns[f"twin-{threads}t"]["max_rel"] == 0.0
    assert columns[f"off-{threads}t"]["status"] == "wrong" and "wall" not in columns[f"off-{threads}t"]
    ours = columns[f"nbgpu-c-{threads}t"]
    assert ours["profile"]["pixels"] == 512 * 512 and ours["evals_per_s"] > 0 and ours["peak_rss"] > 0
    ratios = result["cases"]["sweep-512"]["ratios"]
    assert abs(ratios[f"nbgpu-c-{threads}t"][f"twin-{threads}t"] * ratios[f"twin-{threads}t"][f"nbgpu-c-{threads}t"]
               - 1) < 1e-9
    assert result["environment"]["cpus"] == threads and result["quick"] is True


def test_agreement_tiers():
    import numpy as np
    reference = np.linspace(0, 1, 10000)
    assert agreement(reference, reference.astype(np.float32), "exact")["ok"]
    noisy = reference * (1 + 5e-4)
    assert not agreement(reference, noisy, "exact")["ok"] and agreement(reference, noisy, "fast")["ok"]


def test_every_case_of_the_issue_is_there():
    for quick in (True, False):
        names = set(cases(quick))
        assert {"supervisor", "heavy", "interp", "shapes-gauss", "shapes-tophat"} <= names
        assert any(n.startswith("sweep-") for n in names)
    assert {"sweep-256", "sweep-4096"} <= set(cases(False))


def test_sweep_compares_one_process_with_one_per_frame(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    twin, off = program(tmp_path / "same"), program(tmp_path / "other", "-fluence 1e20")
    out = tmp_path / "sweep.json"
    assert main(["--sweep", "--frames", "3", "--repeat", "1", "--ref", f"nanoBragg={twin}", "--ref", f"off={off}",
                 "--inputs", str(LOCAL_SUITE / "inputs"), "--json", str(out)]) == 0
    sweep = json.loads(out.read_text())["sweep"]
    assert sweep["frames"] == 3 and set(sweep["walls"]) == {"nbgpu batch", "Simulator", "nbgpu loop",
                                                            "nanoBragg loop", "off loop"}
    assert sweep["identical"] == {"Simulator": True, "nbgpu loop": True, "nanoBragg loop": True, "off loop": False}
    assert set(sweep["ratios"]) == {"nbgpu batch / nanoBragg loop", "nbgpu batch / nbgpu loop",
                                    "Simulator / nbgpu batch"}
    assert all(entry["ratio"] > 0 for entry in sweep["ratios"].values())


def test_cluster_bench_measures_efficiency_and_overhead(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cluster.json"
    assert main(["--cluster", "--jobs", "2", "--repeat", "1", "--inputs", str(LOCAL_SUITE / "inputs"),
                 "--json", str(out)]) == 0
    cluster = json.loads(out.read_text())["cluster"]
    assert cluster["identical"] is True and cluster["workers"] == 2 and cluster["jobs"] == 2
    assert cluster["efficiency"] > 0 and "task_overhead_ms" in cluster
    assert set(cluster["walls"]) == {"in-process, 1 thread", "--workers 2"}


def test_refs_go_to_their_programs_cases():
    from nbgpu.bench.cases import suite_cases
    from nbgpu.bench.columns import applies
    assert applies("nanoBraggCUDA", "nanoBragg") and applies("canonical", "nanoBragg")
    assert applies("nonBragg", "nonBragg") and not applies("nonBragg", "nanoBragg")
    assert applies("noisify-c", "noisify") and not applies("noisify-c", "nonBragg")
    programs = {program for program, _ in suite_cases().values()}
    assert programs == {"nonBragg", "noisify"}
    # the issue's sizes: nonBragg >= 1024^2 with oversampling, noisify 2048^2 with and without a PSF
    args = {name: " ".join(words) for name, (_, words) in suite_cases().items()}
    assert "-detpixels 1024" in args["nonbragg-water"] and "-oversample 2" in args["nonbragg-water"]
    assert "-psf" in args["noisify-psf"] and "-psf" not in args["noisify-plain"]


def test_panels_pair_times_four_panels_against_one_of_as_many_pixels(tmp_path, monkeypatch):
    """--cases panels: the -geom render and its one-panel reference, our columns only, a ratio."""
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "panels.json"
    assert main(["--quick", "--cases", "panels", "--repeat", "1", "--threads", "1", "--ref",
                 f"twin={program(tmp_path / 'same')}", "--inputs", str(LOCAL_SUITE / "inputs"),
                 "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    multi, one = result["cases"]["panels-4x256"], result["cases"]["panels-1x512"]
    assert set(multi["columns"]) == set(one["columns"]) == {"nbgpu-c-1t"}      # no --ref: it has no -geom
    assert multi["columns"]["nbgpu-c-1t"]["profile"]["pixels"] == one["columns"]["nbgpu-c-1t"]["profile"]["pixels"] \
        == 512 * 512
    pair = result["pairs"]["panels"]
    assert (pair["multi"], pair["one"], pair["target"]) == ("panels-4x256", "panels-1x512", 1.1)
    entry = pair["columns"]["nbgpu-c-1t"]
    assert entry["ratio"] == pytest.approx(entry["multi_wall"] / entry["one_wall"])
    assert entry["render_ratio"] > 0

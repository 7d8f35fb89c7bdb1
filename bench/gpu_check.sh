#!/usr/bin/env bash
# bench/gpu_check.sh -- what nbgpu checks on an NVIDIA GPU, as one command of at most 540 s.
#
#   bench/gpu_check.sh OUT [--wheels DIR] [--nanobragg PATH] [--nanobraggcuda PATH]
#                          [--golden-tool PATH] [--suite DIR] [--nonbragg-suite DIR] [--noisify-suite DIR]
#                          [--frames N] [--total SECONDS]
#                          [--budget STEP=SECONDS]... [--only STEP,...] [--dry-run]
#
# Run from the repository root.  OUT ends up holding two files, both rewritten after every step,
# so that whatever stops the run (a step's time box, the whole command's), what was measured
# comes back:
#   summary.txt        the budget, and one line per step: outcome, seconds, its key figure
#   gpu_check.tar.gz   every step's log and JSON so far
# Correctness first, then speed, then the profiler:
#   env      nvidia-smi (persistence mode, clocks), Python, CuPy, nvcc; a bare CuPy start, timed
#   install  cffi/pycparser from --wheels; the C engine built in place; a process then holds the
#            GPU open, so that the driver stays initialised between the many short nbgpu
#            processes (the CuPy start timed again)
#   golden   the golden suite, -backend cuda, exact tier, four processes at once, through tee; beside
#            it nonBragg's (--nonbragg-suite, default ../shared/golden-nonbragg), -backend cuda, exact,
#            then noisify's (--noisify-suite, default ../shared/golden-noisify), -backend cuda: its PSF on the GPU
#   single   every fourth golden case, -backend cuda -precision single, fast tier
#   engine   bench/gpu_engine_check.py: progress and Ctrl-C on "heavy", a faulting launch,
#            two threads, a four-panel -geom detector in one call (each panel its one-panel render
#            bit for bit, the C engine's image within the exact tier), the small-job rule of
#            -backend auto, noisify's PSF on the GPU against the C engine (same image, both timed)
#   bench    nbgpu bench --quick cases against --nanobragg and --nanobraggcuda, programs built
#            outside this repository (waiting up to 90 s for them to appear: they may still be
#            building when the check starts); JSON after each case
#   sweep    nbgpu bench --sweep: --frames frames as a batch, a Simulator, per-frame loops
#   ncu      one Nsight Compute report of one launch of the render kernel, when ncu is there
# --only runs those steps (after env and install, which every run needs): a second, shorter call
# that reruns what failed.  Without a GPU (or with --dry-run) every step still runs, with -backend c in place of cuda and
# no profiler: the dry run that shows the plumbing, the budgets and what comes back.
set -u
OUT=${1:?usage: bench/gpu_check.sh OUT [--wheels DIR] [--nanobragg PATH] [--dry-run] ...}
shift
WHEELS="" NANOBRAGG="" NANOBRAGGCUDA="" GOLDEN_TOOL="" SUITE="" NB_SUITE="" NZ_SUITE="" FRAMES=30 TOTAL=540 DRY="" ONLY=""
STEPS="env install golden single engine bench sweep ncu"
declare -A BUDGET=([env]=20 [install]=45 [golden]=120 [single]=45 [engine]=60 [bench]=140 [sweep]=45 [ncu]=40)
while [ $# -gt 0 ]; do
    case "$1" in
        --wheels) WHEELS=$2; shift 2 ;;
        --nanobragg) NANOBRAGG=$2; shift 2 ;;
        --nanobraggcuda) NANOBRAGGCUDA=$2; shift 2 ;;
        --golden-tool) GOLDEN_TOOL=$2; shift 2 ;;
        --suite) SUITE=$2; shift 2 ;;
        --nonbragg-suite) NB_SUITE=$2; shift 2 ;;
        --noisify-suite) NZ_SUITE=$2; shift 2 ;;
        --frames) FRAMES=$2; shift 2 ;;
        --total) TOTAL=$2; shift 2 ;;
        --budget) BUDGET[${2%%=*}]=${2#*=}; shift 2 ;;
        --only) ONLY=",$2,"; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        *) echo "gpu_check: unknown option $1" >&2; exit 2 ;;
    esac
done
STARTED=$(date +%s)
DEADLINE=$(( STARTED + TOTAL - 10 ))        # the last 10 s: the final summary and tarball
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d /tmp/nbgpu-check.XXXXXX)    # everything but the two files that come back
mkdir -p "$OUT"
rm -f "$OUT/summary.txt" "$OUT/gpu_check.tar.gz"
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT:/tmp/nbgpu-site${PYTHONPATH:+:$PYTHONPATH}"
[ -n "$GOLDEN_TOOL" ] || GOLDEN_TOOL="$ROOT/../shared/tools/golden.py"
[ -f "$GOLDEN_TOOL" ] || GOLDEN_TOOL="$ROOT/.check/golden.py"
[ -n "$NB_SUITE" ] || NB_SUITE="$ROOT/../shared/golden-nonbragg"
[ -n "$NZ_SUITE" ] || NZ_SUITE="$ROOT/../shared/golden-noisify"
[ -n "$SUITE" ] || { [ -d "$ROOT/../shared/golden/cases" ] && SUITE="$ROOT/../shared/golden" || SUITE="$ROOT/tests/golden"; }
: > "$WORK/steps.txt"
HOLDER=""

budget_line() {
    local line="" sum=0 name
    for name in $STEPS; do line+="$name ${BUDGET[$name]} + "; sum=$(( sum + BUDGET[$name] )); done
    echo "budget: ${line% + } = $sum s, within $TOTAL s (each step also stops at the deadline)"
}

summary() {   # OUT/summary.txt and OUT/gpu_check.tar.gz from what WORK holds now
    {
        echo "nbgpu GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - STARTED )) s so far${DRY:+ (dry run: -backend c in place of cuda)}"
        echo "repository: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        budget_line
        cat "$WORK/steps.txt"
        echo
        grep -h -E '^name|^NVIDIA|bare CuPy|^golden_(double|single|nonbragg|noisify):|^(progress|cancel|fault|threads|panels|auto|psf) |engine checks:|^bench |frames/s|^ncu:' \
            "$WORK"/env.log "$WORK"/install.log "$WORK"/golden.log "$WORK"/single.log "$WORK"/engine.log \
            "$WORK"/bench.log "$WORK"/sweep.log "$WORK"/ncu.log 2>/dev/null | cut -c1-220
    } > "$WORK/summary.txt"
    cp "$WORK/summary.txt" "$OUT/summary.txt.partial" && mv "$OUT/summary.txt.partial" "$OUT/summary.txt"
    tar -czf "$OUT/gpu_check.tar.gz.partial" -C "$WORK" . 2>/dev/null &&
        mv "$OUT/gpu_check.tar.gz.partial" "$OUT/gpu_check.tar.gz"
}

step() {      # step NAME FUNCTION: run it within its budget and the deadline, log to WORK/NAME.log
    local name=$1 function=$2 begin=$(date +%s)
    local seconds=${BUDGET[$name]} left=$(( DEADLINE - $(date +%s) ))
    if [ -n "$ONLY" ] && [ "$name" != env ] && [ "$name" != install ] && [[ "$ONLY" != *",$name,"* ]]; then
        skip "$name" "not in --only"
        return 0
    fi
    [ "$left" -lt "$seconds" ] && seconds=$left
    if [ "$seconds" -lt 5 ]; then
        printf '%-8s %4s s  %-24s %4d s  %s\n' "$name" "${BUDGET[$name]}" "skipped" 0 "out of time" >> "$WORK/steps.txt"
        summary
        return 1
    fi
    set -o pipefail
    STEP_SECONDS=$(( seconds - 3 )) timeout --kill-after=3 "$(( seconds - 3 ))" bash -c "$function" 2>&1 |
        tee "$WORK/$name.log" > /dev/null
    local status=$?
    set +o pipefail
    local outcome="ok"
    [ $status -eq 0 ] || outcome="failed (exit $status)"
    { [ $status -eq 124 ] || [ $status -eq 137 ]; } && outcome="timed out after $(( seconds - 3 )) s"
    printf '%-8s %4s s  %-24s %4d s  %s\n' "$name" "${BUDGET[$name]}" "$outcome" $(( $(date +%s) - begin )) \
        "$(grep -E '^golden_(double|single):|checks:|bare CuPy|built|results:|frames/s|ncu:' "$WORK/$name.log" | tail -1 | cut -c1-110)" \
        >> "$WORK/steps.txt"
    summary
    return $status
}

skip() {      # skip NAME WHY
    printf '%-8s %4s s  %-24s %4d s  %s\n' "$1" "${BUDGET[$1]}" "skipped" 0 "$2" >> "$WORK/steps.txt"
    summary
}

finish() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
    summary
    rm -rf "$WORK"
}
trap finish EXIT
trap 'exit 143' TERM INT

cupy_start() {   # a fresh process: import, runtime, context and first allocation, each timed
    "$PYTHON" - "$1" <<'EOF'
import sys, time
t0 = time.perf_counter()
try:
    import cupy
    t1 = time.perf_counter()
    cupy.cuda.runtime.getDeviceCount()
    t2 = time.perf_counter()
    cupy.zeros(1)
    cupy.cuda.Device().synchronize()
    t3 = time.perf_counter()
    print(f"bare CuPy start ({sys.argv[1]}): {t3 - t0:.2f} s = import {t1 - t0:.2f} + runtime {t2 - t1:.2f} "
          f"+ context and first allocation {t3 - t2:.2f}")
except Exception as exc:
    print(f"bare CuPy start ({sys.argv[1]}): unavailable: {type(exc).__name__}: {exc}")
EOF
}

environment() {
    echo "== nvidia-smi"
    nvidia-smi --query-gpu=name,driver_version,persistence_mode,compute_mode,clocks.sm,clocks.max.sm,memory.total \
        --format=csv 2>&1 || echo "nvidia-smi: not available"
    nvidia-smi 2>&1 | head -20
    echo "== python"; "$PYTHON" --version
    echo "== nvcc"; nvcc --version 2>&1 | tail -2
    echo "== ncu"; ncu --version 2>&1 | tail -1
    echo "== cpus"; nproc
    echo "== cupy"
    "$PYTHON" -c "import cupy; r = cupy.cuda.runtime; print('cupy', cupy.__version__, 'runtime', r.runtimeGetVersion(), 'driver', r.driverGetVersion())" 2>&1 | tail -1
    cupy_start "cold"
}

install() {
    if ! "$PYTHON" -c "import cffi" 2>/dev/null; then
        [ -n "$WHEELS" ] || { echo "cffi is missing and no --wheels DIR was given"; return 1; }
        "$PYTHON" -m pip install -q --no-index --no-deps --target /tmp/nbgpu-site "$WHEELS"/*.whl || return 1
    fi
    if "$PYTHON" -c "import nbgpu._nbcore" 2>/dev/null; then
        echo "the C engine is already built"
    else
        "$PYTHON" csrc/nbcore_build.py > "$WORK/c-build.log" 2>&1 && "$PYTHON" -c "import nbgpu._nbcore" &&
            echo "the C engine built" || { tail -5 "$WORK/c-build.log"; return 1; }
    fi
    return 0
}

hold_gpu() {     # a process keeping a CUDA context open, until the check ends
    [ -n "$DRY" ] && return 0
    "$PYTHON" -c "import cupy, time; cupy.zeros(1); cupy.cuda.Device().synchronize(); time.sleep(3600)" \
        > "$WORK/holder.log" 2>&1 &
    HOLDER=$!
    sleep 3
    cupy_start "GPU held open by another process" >> "$WORK/install.log"
}

golden_groups() {   # golden_groups NAME EXTRA TIER EVERY [SUITE CMD]: the suite's cases (every EVERY-th), four processes at once
    local name=$1 extra=$2 tier=$3 every=$4 suite=${5:-$SUITE} cmd=${6:-"$PYTHON -m nbgpu"} i=0 group
    local groups=("" "" "" "")
    for id in $(ls "$suite/cases"); do
        if [ $(( i % every )) -eq 0 ]; then
            groups[$(( (i / every) % 4 ))]+=" -k $id"
            echo "$id" >> "$WORK/$name.wanted"
        fi
        i=$(( i + 1 ))
    done
    # the golden tool writes its JSON at its end: stop it in time to read what it did
    for group in 0 1 2 3; do
        [ -n "${groups[$group]}" ] || continue
        timeout "$(( STEP_SECONDS > 9 ? STEP_SECONDS - 8 : 1 ))" "$PYTHON" "$GOLDEN_TOOL" --suite "$suite" --cmd "$cmd" \
            --extra "$extra" --tier "$tier" ${groups[$group]} --json "$WORK/${name}_$group.json" 2>&1 |
            tee "$WORK/${name}_$group.log" | grep -v '^PASS' &
    done
    wait
    "$PYTHON" - "$WORK" "$name" <<'EOF'
import glob, json, sys
from pathlib import Path
work, name = Path(sys.argv[1]), sys.argv[2]
wanted = (work / f"{name}.wanted").read_text().split()
results = {}
for group in sorted(work.glob(f"{name}_*.log")):     # PASS/FAIL lines: there even when a group was stopped
    for line in group.read_text().splitlines():
        words = line.split()
        if len(words) > 1 and words[0] in ("PASS", "FAIL") and words[1] in wanted:
            results[words[1]] = {"id": words[1], "ok": words[0] == "PASS", "line": line}
    report = group.with_suffix(".json")
    if report.exists():
        for r in json.loads(report.read_text())["results"]:
            results[r["id"]] = r
(work / f"{name}.json").write_text(json.dumps(results, indent=1))
failed = sorted(i for i, r in results.items() if not r["ok"])
worst = max((r.get("metrics", {}).get("max_rel", 0) or 0 for r in results.values()), default=0)
missing = len(set(wanted) - set(results))
print(f"{name}: {len(results) - len(failed)}/{len(wanted)} cases pass, largest max_rel {worst:.2e}"
      + (f"; failed: {' '.join(failed)}" if failed else "") + (f"; {missing} not run (time)" if missing else ""))
sys.exit(1 if failed or missing else 0)
EOF
}

golden() {
    [ -f "$GOLDEN_TOOL" ] || { echo "no golden tool at $GOLDEN_TOOL (give --golden-tool)"; return 1; }
    # nonBragg's suite beside nanoBragg's (four more processes, the same time limit); its line
    # is printed first, so that the step's key figure stays nanoBragg's
    local status=0 nonbragg=""
    if [ -d "$NB_SUITE/cases" ]; then
        { golden_groups golden_nonbragg "-backend $BACKEND" exact 1 "$NB_SUITE" "$PYTHON -m nbgpu.cli.nonbragg"
          echo $? > "$WORK/golden_nonbragg.status"; } > "$WORK/golden_nonbragg.out" 2>&1 &
        nonbragg=1
    else
        echo "golden_nonbragg: no suite at $NB_SUITE (give --nonbragg-suite)"
    fi
    # and noisify's (33 short cases; with -backend cuda its PSF cases spread on the GPU)
    local noisify=""
    if [ -d "$NZ_SUITE/cases" ]; then
        { golden_groups golden_noisify "-backend $BACKEND" exact 1 "$NZ_SUITE" "$PYTHON -m nbgpu.cli.noisify"
          echo $? > "$WORK/golden_noisify.status"; } > "$WORK/golden_noisify.out" 2>&1 &
        noisify=1
    else
        echo "golden_noisify: no suite at $NZ_SUITE (give --noisify-suite)"
    fi
    golden_groups golden_double "-backend $BACKEND" exact 1 > "$WORK/golden_double.out" 2>&1 || status=1
    wait          # (golden_groups' own wait may have reaped them already: their status is in a file)
    if [ -n "$nonbragg" ]; then
        [ "$(cat "$WORK/golden_nonbragg.status" 2>/dev/null)" = 0 ] || status=1
        cat "$WORK/golden_nonbragg.out"
    fi
    if [ -n "$noisify" ]; then
        [ "$(cat "$WORK/golden_noisify.status" 2>/dev/null)" = 0 ] || status=1
        cat "$WORK/golden_noisify.out"
    fi
    cat "$WORK/golden_double.out"
    return $status
}

single() {
    golden_groups golden_single "-backend $BACKEND -precision single" fast 4
}

engine() {
    "$PYTHON" bench/gpu_engine_check.py "$WORK/engine_check.json" --backend "$BACKEND" ${DRY:+--quick}
}

references() {   # --ref options for bench.py: the reference programs given that exist
    [ -n "$NANOBRAGG" ] && [ -x "$NANOBRAGG" ] && printf -- '--ref nanoBragg=%s ' "$NANOBRAGG"
    [ -n "$NANOBRAGGCUDA" ] && [ -x "$NANOBRAGGCUDA" ] && printf -- '--ref nanoBraggCUDA=%s ' "$NANOBRAGGCUDA"
}

bench() {
    local path end=$(( $(date +%s) + 20 ))       # a program still being built: up to 20 s more, for both
    for path in "$NANOBRAGG" "$NANOBRAGGCUDA"; do
        while [ -n "$path" ] && [ ! -x "$path" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
        [ -z "$path" ] || [ -x "$path" ] || echo "reference program missing: $path"
    done
    echo "references: $(references)"
    "$PYTHON" bench/bench.py --quick --cases supervisor,heavy,interp,sweep-2048 --repeat 1 --timeout 60 \
        --threads "$(nproc)" $(references) --json "$WORK/bench.json"
    local status=$?
    "$PYTHON" - "$WORK/bench.json" <<'EOF'
import json, sys
for name, case in json.load(open(sys.argv[1]))["cases"].items():
    cells = []
    for column, entry in case.get("columns", {}).items():
        if entry.get("status") != "ok":
            cells.append(f"{column} {entry.get('status')}")
            continue
        kernel = (entry.get("profile") or {}).get("kernel_seconds")
        cells.append(f"{column} {entry['wall']:.2f} s" + (f" (kernel {kernel:.4f} s)" if kernel else ""))
    print(f"bench {name}: " + ", ".join(cells))
EOF
    return $status
}

sweep() {
    "$PYTHON" bench/bench.py --sweep --frames "$FRAMES" --repeat 1 --threads "$(nproc)" --timeout 40 \
        $(references | grep -o -- '--ref nanoBragg=[^ ]*') --json "$WORK/sweep.json"
}

nsight() {
    local case="-cell 50 50 50 90 90 90 -default_F 100 -N 10 -detpixels 1024 -pixel 0.1 -nonoise -noprogress"
    mkdir -p "$WORK/scratch"
    (cd "$WORK/scratch" && ncu --clock-control none -k regex:nb_render_pixels -c 1 --set basic -o ../ncu_render -f \
        "$PYTHON" -m nbgpu $case -backend cuda -floatfile f.bin -intfile i.img -nopgm > /dev/null) &&
    ncu --import "$WORK/ncu_render.ncu-rep" --page details > "$WORK/ncu_details.txt" &&
    echo "ncu: $(grep -E 'Duration|Registers Per Thread|Achieved Occupancy' "$WORK/ncu_details.txt" | tr -s ' ' | paste -sd ';')"
    local status=$?
    rm -rf "$WORK/scratch"
    return $status
}

GPU=$("$PYTHON" -c "import cupy; print('yes' if cupy.cuda.runtime.getDeviceCount() > 0 else 'no CUDA device')" 2>&1 | tail -1)
[ "$GPU" = "yes" ] || DRY=1
BACKEND=cuda
[ -n "$DRY" ] && BACKEND=c
export OUT ROOT PYTHON WORK WHEELS GOLDEN_TOOL SUITE NB_SUITE NZ_SUITE NANOBRAGG NANOBRAGGCUDA FRAMES BACKEND DRY
export -f environment cupy_start install golden_groups golden single engine references bench sweep nsight
summary
step env environment
step install install && hold_gpu
step golden golden
step single single
step engine engine
step bench bench
step sweep sweep
if [ -n "$DRY" ]; then skip ncu "dry run"
elif command -v ncu > /dev/null; then step ncu nsight
else skip ncu "ncu is not on the PATH"; fi
finish
trap - EXIT
cat "$OUT/summary.txt"
echo "files: $(ls "$OUT" | tr '\n' ' ')"
# the exit status: 1 when a step failed or ran out of time
! grep -qE '^[a-z]+ +[0-9]+ s  (failed|timed out)' "$OUT/summary.txt"

#!/usr/bin/env bash
# bench/gpu_check.sh -- everything nbgpu checks on an NVIDIA GPU, in one call of at most ~9 minutes.
#
#   bench/gpu_check.sh OUT [--nanobragg PATH] [--nanobraggcuda PATH] [--wheels DIR]
#                          [--golden-tool PATH] [--suite DIR] [--cases LIST]
#
# Run from the repository root.  Each step has a time box; OUT/summary.txt is rewritten after
# every step (a run cut short still says what finished), and every step's output and JSON lands
# in OUT.  On a machine without a GPU the GPU steps are reported as skipped, never run
# (NBGPU_CHECK_FORCE=1 runs them anyway, to try this script).
#   env       nvidia-smi, Python, CuPy, nvcc and driver versions
#   install   the C engine built in place; cffi/pycparser from --wheels when pip has no index
#   pytest    pytest -m gpu
#   golden    the golden suite with -backend cuda (exact tier), and -precision single (fast tier)
#   bench     nbgpu bench against the reference programs given (built outside this repository),
#             GPU kernel times per case; kernels.json: registers and occupancy per variant
#   sweep     nbgpu bench --sweep: 100 frames as nbgpu batch, a Simulator script and per-frame loops
#   ncu       one Nsight Compute report of the kernels, when ncu is on the PATH
set -u
OUT=${1:?usage: bench/gpu_check.sh OUT [--nanobragg PATH] [--nanobraggcuda PATH] [--wheels DIR] ...}
shift
NANOBRAGG="" NANOBRAGGCUDA="" WHEELS="" GOLDEN_TOOL="" SUITE="" CASES="heavy,supervisor,sweep-4096"
while [ $# -gt 0 ]; do
    case "$1" in
        --nanobragg) NANOBRAGG=$2; shift 2 ;;
        --nanobraggcuda) NANOBRAGGCUDA=$2; shift 2 ;;
        --wheels) WHEELS=$2; shift 2 ;;
        --golden-tool) GOLDEN_TOOL=$2; shift 2 ;;
        --suite) SUITE=$2; shift 2 ;;
        --cases) CASES=$2; shift 2 ;;
        *) echo "gpu_check: unknown option $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUT"
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
# the checkout (the C engine is built in place) and where carried wheels are installed
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT:/tmp/nbgpu-site${PYTHONPATH:+:$PYTHONPATH}"
[ -n "$GOLDEN_TOOL" ] || GOLDEN_TOOL="$ROOT/../shared/tools/golden.py"
[ -n "$SUITE" ] || { [ -d "$ROOT/../shared/golden/cases" ] && SUITE="$ROOT/../shared/golden" || SUITE="$ROOT/tests/golden"; }
SUMMARY="$OUT/summary.txt"
STARTED=$(date +%s)
: > "$OUT/steps.txt"

summary() {   # rewrite the summary from the steps so far
    {
        echo "nbgpu GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - STARTED )) s so far"
        echo "repository: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
        cat "$OUT/steps.txt"
    } > "$SUMMARY.partial" && mv "$SUMMARY.partial" "$SUMMARY"
}

step() {      # step NAME SECONDS FUNCTION: run it time-boxed, log to OUT/NAME.log, note the outcome
    local name=$1 seconds=$2 function=$3
    local begin=$(date +%s)
    timeout --kill-after=10 "$seconds" bash -c "$function" > "$OUT/$name.log" 2>&1
    local status=$?
    local outcome="ok"
    [ $status -eq 0 ] || outcome="failed (exit $status)"
    [ $status -eq 124 ] || [ $status -eq 137 ] && outcome="timed out after ${seconds} s"
    printf '%-10s %-28s %4d s  %s\n' "$name" "$outcome" $(( $(date +%s) - begin )) \
        "$(grep -E 'passed|failed|cases pass|error' "$OUT/$name.log" | tail -1 | cut -c1-120)" >> "$OUT/steps.txt"
    summary
    return $status
}

skip() {      # skip NAME WHY
    printf '%-10s %-28s %4d s  %s\n' "$1" "skipped" 0 "$2" >> "$OUT/steps.txt"
    summary
}

environment() {
    echo "== nvidia-smi"; nvidia-smi || echo "nvidia-smi: not available"
    echo "== python"; "$PYTHON" --version
    echo "== nvcc"; nvcc --version 2>&1 | tail -2 || echo "nvcc: not available"
    echo "== cupy"
    "$PYTHON" - <<'EOF'
try:
    import cupy
    runtime = cupy.cuda.runtime
    print("cupy", cupy.__version__, "runtime", runtime.runtimeGetVersion(), "driver", runtime.driverGetVersion())
    props = runtime.getDeviceProperties(0)
    print("device", props["name"], "multiprocessors", props["multiProcessorCount"])
except Exception as exc:
    print("cupy: unavailable:", type(exc).__name__, exc)
EOF
}

install() {
    if "$PYTHON" -c "import nbgpu._nbcore" 2>/dev/null; then
        echo "the C engine is already built"
        return 0
    fi
    if ! "$PYTHON" -c "import cffi" 2>/dev/null; then
        [ -n "$WHEELS" ] || { echo "cffi is missing and no --wheels DIR was given"; return 1; }
        "$PYTHON" -m pip install -q --no-index --no-deps --target /tmp/nbgpu-site "$WHEELS"/*.whl || return 1
    fi
    if ! "$PYTHON" -c "import setuptools" 2>/dev/null; then
        echo "setuptools is missing: cffi needs it to build the C engine on Python >= 3.12 (carry its wheel in --wheels)"
        return 1
    fi
    "$PYTHON" csrc/nbcore_build.py > /dev/null && "$PYTHON" -c "import nbgpu._nbcore; print('C engine built')"
}

golden() {
    [ -f "$GOLDEN_TOOL" ] || { echo "no golden tool at $GOLDEN_TOOL (give --golden-tool)"; return 1; }
    "$PYTHON" "$GOLDEN_TOOL" --suite "$SUITE" --cmd "$PYTHON -m nbgpu" --extra "-backend cuda" --tier exact \
        --json "$OUT/golden_cuda_double.json" | tail -3
    "$PYTHON" "$GOLDEN_TOOL" --suite "$SUITE" --cmd "$PYTHON -m nbgpu" --extra "-backend cuda -precision single" \
        --tier fast --json "$OUT/golden_cuda_single.json" | tail -3
    "$PYTHON" - "$OUT" <<'EOF'
import json, sys
for name in ("golden_cuda_double", "golden_cuda_single"):
    d = json.load(open(f"{sys.argv[1]}/{name}.json"))
    print(name, sum(r["ok"] for r in d["results"]), "/", len(d["results"]), "cases pass")
    if not all(r["ok"] for r in d["results"]):
        sys.exit(1)
EOF
}

bench() {
    local refs=()
    [ -n "$NANOBRAGG" ] && refs+=(--ref "nanoBragg=$NANOBRAGG")
    [ -n "$NANOBRAGGCUDA" ] && refs+=(--ref "nanoBraggCUDA=$NANOBRAGGCUDA")
    "$PYTHON" bench/bench.py --kernel-report --json "$OUT/kernels.json" | tail -4
    "$PYTHON" bench/bench.py --cases "$CASES" --repeat 1 --threads "$(nproc)" "${refs[@]}" --json "$OUT/bench.json"
    "$PYTHON" - "$OUT/bench.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for name, case in d["cases"].items():
    for column, entry in case.get("columns", {}).items():
        kernel = entry.get("profile", {}).get("kernel_seconds")
        print(f"{name:<12} {column:<22} wall {entry.get('wall', float('nan')):.3f} s"
              + (f"  kernel {kernel:.4f} s" if kernel else "") + f"  {entry.get('status')}")
EOF
}

sweep() {      # frames per second of a 100-frame sweep in one process (the default engine: CUDA here)
    local refs=()
    [ -n "$NANOBRAGG" ] && refs+=(--ref "nanoBragg=$NANOBRAGG")
    "$PYTHON" bench/bench.py --sweep --repeat 1 --threads "$(nproc)" "${refs[@]}" --json "$OUT/sweep.json"
}

nsight() {
    ncu --clock-control none -k regex:nb_ -c 2 --set basic -o "$OUT/ncu_kernels" -f \
        "$PYTHON" -m nbgpu -cell 50 50 50 90 90 90 -default_F 100 -N 10 -detpixels 1024 -pixel 0.1 \
        -nonoise -noprogress -backend cuda -floatfile /tmp/ncu.bin -intfile /tmp/ncu.img -nopgm &&
    ncu --import "$OUT/ncu_kernels.ncu-rep" --page details > "$OUT/ncu_details.txt"
}

run_pytest() {
    "$PYTHON" -m pytest -q -m gpu tests
}

export OUT ROOT PYTHON WHEELS GOLDEN_TOOL SUITE NANOBRAGG NANOBRAGGCUDA CASES
export -f environment install run_pytest golden bench sweep nsight
summary
step env 20 environment
GPU=$("$PYTHON" -c "from nbgpu.engines import cuda_unavailable; print(cuda_unavailable() or 'yes')" 2>/dev/null \
      || echo "nbgpu not importable yet")
step install 90 install || true
GPU=$("$PYTHON" -c "from nbgpu.engines import cuda_unavailable; print(cuda_unavailable() or 'yes')" 2>&1 | tail -1)
if [ "$GPU" != "yes" ] && [ -z "${NBGPU_CHECK_FORCE:-}" ]; then     # FORCE: run them anyway (tests of this script)
    for name in pytest golden bench sweep ncu; do skip "$name" "no GPU: $GPU"; done
else
    step pytest 150 run_pytest || true
    step golden 120 golden || true
    step bench 200 bench || true
    step sweep 45 sweep || true
    if command -v ncu > /dev/null; then step ncu 60 nsight || true; else skip ncu "ncu is not on the PATH"; fi
fi
summary
cat "$SUMMARY"

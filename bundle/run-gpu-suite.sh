#!/usr/bin/env bash
# Runs DeepTrain's whole GPU suite from the unpacked bundle: no .NET SDK needed, only an x64 Linux
# with an NVIDIA driver (and, for the CUDA cases, the CUDA runtime, cuBLAS and cuDNN: PyTorch's pip
# install brings them, and they are found through python3's site-packages).
#
#   ./run-gpu-suite.sh [RESULTS_DIR] [test runner args...]
#
# RESULTS_DIR (default ./gpu-results) receives: environment.txt, info.txt, <project>.trx and <project>.log
# for both test projects, acceptance.trx and acceptance.log (the slow GPU acceptance tests, trait
# Category=GpuAcceptance: fp16 ResNet-20 on Fashion-MNIST against fp32, a few minutes; they need the dataset —
# $DEEPTRAIN_DATA/fashion-mnist or /usr/share/datasets/fashion-mnist — and skip, saying so, without it), sanitizer-<project>.log (compute-sanitizer memcheck over the GPU test classes,
# when compute-sanitizer is on PATH), bench-*.txt (bench-kernels.txt: fused AdamW / unscale GB/s), gpu-vs-pytorch/
# (benchmarks/gpu_vs_pytorch.sh: DeepTrain against PyTorch on this GPU; results.md holds its tables in markdown),
# micro-bench/ (when run) and summary.txt. Extra arguments go to both xunit
# runners, e.g. -class '*Cuda*'.
# Environment knobs: ACCEPTANCE (`1` (default) or `0`: the acceptance stage), BENCH_STEPS (timed steps per `deeptrain bench`, default 20), BENCH_BATCH (default 128),
# SANITIZER (`memcheck` (default) or `none`), GPU_VS_PYTORCH (`1` (default) or `0`; its own knobs STEPS,
# WARMUP, PYTHON pass through), MICRO_BENCH (BenchmarkDotNet micro-benchmarks, in-process: `none`
# (default), `dry`, `short` or a filter run's job name; MICRO_FILTER selects them, default '*').
# Every stage runs whatever the earlier ones did; each one's exit status is in summary.txt.
# Exit status: 0 when no test failed and memcheck found no error (benchmark failures are recorded, not
# fatal), else 1.
set -uo pipefail
BUNDLE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
RESULTS=${1:-./gpu-results}
shift || true
mkdir -p "$RESULTS" || { echo "error: cannot create $RESULTS" >&2; exit 2; }
RESULTS=$(cd "$RESULTS" && pwd)
# shellcheck source=env.sh
. "$BUNDLE/env.sh"
cd "$RESULTS"   # anything a tool writes into its working folder lands beside the results

BENCH_STEPS=${BENCH_STEPS:-20}
BENCH_BATCH=${BENCH_BATCH:-128}
MICRO_BENCH=${MICRO_BENCH:-none}
SANITIZER=${SANITIZER:-memcheck}
GPU_VS_PYTORCH=${GPU_VS_PYTORCH:-1}
ACCEPTANCE=${ACCEPTANCE:-1}
# The slow acceptance tests run in their own stage (and never under compute-sanitizer); the other stages leave them out.
ACCEPTANCE_TRAIT="Category=GpuAcceptance"
# The GPU test classes compute-sanitizer runs, per project (xunit v3 runner filters).
declare -A GPU_FILTER=([DeepTrain.Tests]="-namespace DeepTrain.Tests.Cuda" [DeepTrain.Interop.Tests]="-class DeepTrain.Interop.Tests.KernelGpuTests")
SANITIZER_ERROR_RC=86   # memcheck's exit status when it found an error (--error-exitcode), told apart from the tests' own
MICRO_FILTER=${MICRO_FILTER:-*}
PROJECTS=(DeepTrain.Tests DeepTrain.Interop.Tests)

section() { printf '\n===== %s =====\n' "$*"; }
# run_logged NAME FILE CMD...: runs CMD, copies its output to RESULTS/FILE, records its exit status as NAME.
declare -A STATUS=()
run_logged() {
  local name=$1 file=$2; shift 2
  "$@" 2>&1 | tee "$RESULTS/$file"
  local rc=${PIPESTATUS[0]}
  STATUS[$name]=$rc
  echo "[exit status $rc]" | tee -a "$RESULTS/$file"
  return 0
}

section "environment"
{
  echo "bundle:        $BUNDLE"
  [ -f "$BUNDLE/BUNDLE-INFO" ] && sed 's/^/               /' "$BUNDLE/BUNDLE-INFO"
  echo "date:          $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host:          $(uname -srm)"
  echo "DOTNET_ROOT:   $DOTNET_ROOT"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
  echo "DEEPTRAIN_CUDA_LIB_DIR=${DEEPTRAIN_CUDA_LIB_DIR:-}"
  echo "DEEPTRAIN_PYTHON_SITE=${DEEPTRAIN_PYTHON_SITE:-}"
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 || true
  else
    echo "nvidia-smi:    not on PATH"
  fi
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import torch; print("torch:        ", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>/dev/null \
      || echo "torch:         not importable by $(command -v python3)"
  else
    echo "python3:       not on PATH"
  fi
  echo "cc:            $(command -v cc || command -v gcc || command -v clang || echo 'none (the interop conformance test skips)')"
} 2>&1 | tee "$RESULTS/environment.txt"

section "deeptrain info"
run_logged info info.txt "$BUNDLE/deeptrain" info

for p in "${PROJECTS[@]}"; do
  section "tests: $p"
  # xunit v3's own runner (each test project is an executable), as ./build.sh test runs it.
  run_logged "$p" "$p.log" "$BUNDLE/apps/$p/$p" -noColor -trx "$RESULTS/$p.trx" -trait- "$ACCEPTANCE_TRAIT" "$@"
done

if [ "$ACCEPTANCE" != 0 ]; then
  section "GPU acceptance tests: DeepTrain.Tests -trait $ACCEPTANCE_TRAIT (fp16 ResNet-20 on Fashion-MNIST vs fp32)"
  for d in "${DEEPTRAIN_DATA:-}/fashion-mnist" /usr/share/datasets/fashion-mnist; do
    [ -f "$d/train-images-idx3-ubyte.gz" ] && { echo "Fashion-MNIST: $d"; break; }
  done
  run_logged acceptance acceptance.log "$BUNDLE/apps/DeepTrain.Tests/DeepTrain.Tests" -noColor -trx "$RESULTS/acceptance.trx" \
    -trait "$ACCEPTANCE_TRAIT" -diagnostics
fi

# compute-sanitizer memcheck over the GPU test classes: out-of-bounds and misaligned device accesses,
# and CUDA API errors the tests' own assertions cannot see (no leak check: the runtime keeps the context
# to process exit, so every live allocation would read as a leak). Slow (every kernel is instrumented), so only
# the GPU classes; the log holds the tool's report, the .trx the tests' outcome under it.
if [ "$SANITIZER" != none ]; then
  if command -v compute-sanitizer >/dev/null 2>&1; then
    for p in "${PROJECTS[@]}"; do
      section "compute-sanitizer memcheck: $p (${GPU_FILTER[$p]})"
      # shellcheck disable=SC2086  # the filter is two words on purpose
      run_logged "sanitizer-$p" "sanitizer-$p.log" compute-sanitizer --tool memcheck \
        --error-exitcode "$SANITIZER_ERROR_RC" --target-processes all \
        "$BUNDLE/apps/$p/$p" -noColor -trx "$RESULTS/sanitizer-$p.trx" -trait- "$ACCEPTANCE_TRAIT" ${GPU_FILTER[$p]}
    done
  else
    section "compute-sanitizer: not on PATH, memcheck skipped"
    echo "compute-sanitizer is not on PATH (it ships with the CUDA toolkit: add its bin/ to PATH to run memcheck)" \
      | tee "$RESULTS/sanitizer-skipped.txt"
  fi
fi

# Training-step throughput on synthetic data (README: `deeptrain bench`); a failed run's output is recorded all the same.
bench_common=(--model resnet20 --input 1x28x28 --batch-size "$BENCH_BATCH" --steps "$BENCH_STEPS")
section "bench: resnet20 on cpu"
run_logged bench-cpu bench-cpu.txt "$BUNDLE/deeptrain" bench "${bench_common[@]}" --device cpu
section "bench: resnet20 on cuda"
run_logged bench-cuda bench-cuda.txt "$BUNDLE/deeptrain" bench "${bench_common[@]}" --device cuda
section "bench: resnet20 on cuda, per layer kind"
run_logged bench-cuda-profile bench-cuda-profile.txt "$BUNDLE/deeptrain" bench "${bench_common[@]}" --device cuda --profile
section "bench: resnet20 on cuda, NHWC"
run_logged bench-cuda-nhwc bench-cuda-nhwc.txt "$BUNDLE/deeptrain" bench "${bench_common[@]}" --device cuda --layout nhwc
section "bench: resnet20 on cuda, NHWC fp16 with the loss scaler, AdamW"
run_logged bench-cuda-fp16 bench-cuda-fp16.txt "$BUNDLE/deeptrain" bench "${bench_common[@]}" --device cuda --layout nhwc --precision fp16 --optimizer adamw
# Fused AdamW / unscale bandwidth against a device-to-device copy (fails with "CUDA unavailable: …" without a GPU).
section "bench-kernels: fused AdamW and unscale, GB/s and fraction of copy"
run_logged bench-kernels bench-kernels.txt "$BUNDLE/deeptrain" bench-kernels

if [ "$GPU_VS_PYTORCH" != 0 ]; then
  section "benchmarks/gpu_vs_pytorch.sh: DeepTrain against PyTorch on this GPU"
  run_logged gpu-vs-pytorch gpu-vs-pytorch.txt env DEEPTRAIN="$BUNDLE/deeptrain" \
    bash "$BUNDLE/benchmarks/gpu_vs_pytorch.sh" "$RESULTS/gpu-vs-pytorch"
fi

if [ "$MICRO_BENCH" != none ]; then
  section "micro-benchmarks (BenchmarkDotNet, in-process, job $MICRO_BENCH, filter $MICRO_FILTER)"
  mkdir -p "$RESULTS/micro-bench"
  # In-process: BenchmarkDotNet's default toolchain would build a project with the .NET SDK.
  run_logged micro-bench micro-bench.txt "$BUNDLE/apps/DeepTrain.Benchmarks/DeepTrain.Benchmarks" \
    --inProcess --job "$MICRO_BENCH" --filter "$MICRO_FILTER" --artifacts "$RESULTS/micro-bench"
fi

section "summary"
{
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$RESULTS" "${PROJECTS[@]}" $([ "$ACCEPTANCE" != 0 ] && echo acceptance) <<'PY'
import collections, os, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
results, projects = sys.argv[1], sys.argv[2:]
tp = tf = ts = 0
for p in projects:
    path = os.path.join(results, p + ".trx")
    try:
        root = ET.parse(path).getroot()
        c = root.find("t:ResultSummary/t:Counters", ns).attrib
    except Exception as e:
        print(f"{p}: no test report ({e})")
        tf += 1
        continue
    passed = int(c.get("passed", 0))
    failed = sum(int(c.get(k, 0)) for k in ("failed", "error", "timeout", "aborted"))
    skipped = int(c.get("notExecuted", 0)) + int(c.get("notRunnable", 0))
    tp, tf, ts = tp + passed, tf + failed, ts + skipped
    print(f"{p}: {passed} passed, {failed} failed, {skipped} skipped")
    reasons, failures = collections.Counter(), []
    for r in root.iterfind(".//t:UnitTestResult", ns):
        outcome = r.get("outcome")
        text = r.findtext("t:Output/t:ErrorInfo/t:Message", "", ns) or r.findtext("t:Output/t:StdOut", "", ns) or ""
        first = (text.strip().splitlines() or [""])[0]
        if outcome == "NotExecuted":
            reasons[first[:200]] += 1
        elif outcome in ("Failed", "Error", "Timeout", "Aborted"):
            failures.append(f"{r.get('testName')}: {first[:200]}")
    for reason, n in reasons.most_common():
        print(f"    skipped x{n}: {reason}")
    for f in failures:
        print(f"    FAILED {f}")
print(f"total: {tp} passed, {tf} failed, {ts} skipped")
PY
  else
    tp=0 tf=0 ts=0
    for p in "${PROJECTS[@]}" $([ "$ACCEPTANCE" != 0 ] && echo acceptance); do
      trx="$RESULTS/$p.trx"
      if [ -f "$trx" ]; then
        counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
        get() { printf '%s' "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
        np=$(get passed) nf=$(( $(get failed) + $(get error) )) ns=$(get notExecuted)
        echo "$p: $np passed, $nf failed, $ns skipped (python3 absent: no skip reasons)"
        tp=$((tp + np)) tf=$((tf + nf)) ts=$((ts + ns))
      else
        echo "$p: no test report"; tf=$((tf + 1))
      fi
    done
    echo "total: $tp passed, $tf failed, $ts skipped"
  fi
  for name in info "${PROJECTS[@]}" acceptance sanitizer-DeepTrain.Tests sanitizer-DeepTrain.Interop.Tests bench-cpu bench-cuda \
      bench-cuda-profile bench-cuda-nhwc bench-cuda-fp16 bench-kernels gpu-vs-pytorch micro-bench; do
    [ -n "${STATUS[$name]+x}" ] && printf '%-24s exit status %s\n' "$name" "${STATUS[$name]}"
  done
  echo "results: $RESULTS"
} 2>&1 | tee "$RESULTS/summary.txt"

rc=0
for p in "${PROJECTS[@]}"; do
  [ "${STATUS[$p]}" -ne 0 ] && rc=1
  [ "${STATUS[sanitizer-$p]:-0}" -eq "$SANITIZER_ERROR_RC" ] && rc=1
done
[ "${STATUS[acceptance]:-0}" -ne 0 ] && rc=1
exit $rc

#!/usr/bin/env bash
# The whole GPU check as ONE budgeted run on a borrowed GPU machine (issue #9). The device tool gives 15 minutes in
# all, 10 per command, 64 MiB carried in and 8 files of at most 16 MiB back from $OUT, so this script:
#   - needs only what `./build.sh device-pack` writes to artifacts/device-pack/ (the bundle and a Fashion-MNIST
#     subset) beside the tracked tree: no .NET SDK, no network;
#   - runs its stages in priority order under a wall-clock budget, each with its own cap, and skips (with a note) a
#     stage that what is left of the budget cannot hold;
#   - rewrites its few result files in OUT_DIR before and after every stage, so a run cut off still returns what
#     it finished.
#
# Usage (README, "Checking a GPU in one run"):
#   bash bundle/device-check.sh [OUT_DIR]          from the source tree, with artifacts/device-pack/ present
#   ./device-check.sh [OUT_DIR]                    from an unpacked bundle (DEVICE_CHECK_DATA names the data)
# OUT_DIR defaults to $OUT (the device tool's folder), else ./device-check-results. It receives at most four
# files: summary.txt (every stage's verdict, test counts, failures, skip reasons, memcheck's verdict, the ratio
# tables), environment.txt (GPU, driver, CUDA, cuDNN, cuBLAS, NVRTC, glibc, `deeptrain info`), results.md (the
# tables in markdown, for docs/gpu-status.md and benchmarks/README.md) and results.tar.xz (every log and TRX file).
#
# Stages, in priority order (name: what; the seconds it needs to be worth starting / its cap):
#   env:         environment.txt and `deeptrain info`                                          5 / 45
#   conformance: binding conformance against this machine's real cudnn*.h, nccl.h, cuBLAS, cudart 15 / 60
#   tests:       the GPU correctness tests: kernels against their CPU twins, then DeepTrain.Tests (CUDA
#                against CPU, mixed precision, and the CPU cases, which take seconds; not the
#                Tooling tests of the scripts)                                                  45 / 210
#   bench-*:     DeepTrain against PyTorch on this GPU (benchmarks/gpu_vs_pytorch.sh), one pair each:
#                r50-fp16-nhwc (ResNet-50 224² b256 fp16 NHWC vs AMP channels_last), r56-fp16-nhwc (CIFAR
#                ResNet-56 b128 fp16), r50-fp32-nchw (ResNet-50 b64 fp32), kernels (fused AdamW and
#                unscale GB/s vs a device copy and torch.optim.AdamW(fused=True)); peak memory of each side  20 / 75 each
#   memcheck:    compute-sanitizer memcheck over the kernel tests                               30 / 120
#   acceptance:  fp16 ResNet-20 on the Fashion-MNIST subset against fp32 (trait GpuAcceptance)  60 / 180
#   inference:   DeepTrain's InferenceSession against PyTorch eager (torch.no_grad) on cuda, the issue-11 configurations
#                (benchmarks/InferenceBench latency: ResNet-20 1x28x28 and ResNet-56 3x32x32 at batch 1, 8, 64, ResNet-50
#                3x224x224 at 1 and 16), sides alternating over INFER_ROUNDS rounds of INFER_ITERS passes; last, with
#                what the budget has left (ONNX Runtime's CUDA provider is not on that machine: no ORT side); the
#                sessions' GPU contexts copy through their pinned staging (CudaStaging), whose correctness and
#                allocation tests (CudaInferenceSessionTests) run in the tests stage           30 / 150
# Stages run only when named in DEVICE_CHECK_STAGES: bench-r20-fp32-nchw, bench-r20-fp32-nhwc, bench-r50-fp32-nhwc
# (the other pairs of gpu_vs_pytorch.sh) and profile (`deeptrain bench --profile`: time per layer kind, ResNet-50
# fp16 NHWC b256). With a large budget and every stage named, this is the whole GPU suite for a machine of your own:
#   DEVICE_CHECK_BUDGET_S=7200 DEVICE_CHECK_STAGES="$(./device-check.sh --list-all)" ./device-check.sh DIR
# Environment: DEVICE_CHECK_BUDGET_S (default 480), DEVICE_CHECK_STAGES (default: all, in the order above; names
# separated by spaces), DEVICE_CHECK_CAP_<stage> and DEVICE_CHECK_NEED_<stage> (seconds; '-' in a name becomes '_'),
# DEVICE_CHECK_PACK (default <tree>/artifacts/device-pack), DEVICE_CHECK_DATA (a folder holding fashion-mnist/;
# default the pack's datasets/), DEVICE_CHECK_WORK (scratch; default $TMPDIR/deeptrain-device-check), BENCH_STEPS
# (default 50), BENCH_WARMUP (default 10), INFER_ROUNDS (default 3), INFER_ITERS (default 30).
# Exit status: 0 when every stage ran and passed; 1 when one failed, timed out, found no GPU or was skipped for the
# budget; 2 when the bundle or OUT_DIR is unusable.
set -uo pipefail
START=$(date +%s)
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
BUDGET_S=${DEVICE_CHECK_BUDGET_S:-480}
DEFAULT_STAGES="env conformance tests bench-r50-fp16-nhwc bench-r56-fp16-nhwc bench-r50-fp32-nchw bench-kernels memcheck acceptance inference"
ALL_STAGES="env conformance tests bench-r50-fp16-nhwc bench-r56-fp16-nhwc bench-r50-fp32-nchw bench-kernels bench-r20-fp32-nchw bench-r20-fp32-nhwc bench-r50-fp32-nhwc profile memcheck acceptance inference"
[ "${1:-}" = --list-all ] && { echo "$ALL_STAGES"; exit 0; }
STAGES=${DEVICE_CHECK_STAGES:-$DEFAULT_STAGES}
BENCH_STEPS=${BENCH_STEPS:-50}
BENCH_WARMUP=${BENCH_WARMUP:-10}
INFER_ROUNDS=${INFER_ROUNDS:-3}
INFER_ITERS=${INFER_ITERS:-30}
SANITIZER_ERROR_RC=86   # memcheck's exit status when it found an error, told apart from the tests' own
ACCEPTANCE_TRAIT="Category=GpuAcceptance"
TOOLING_TRAIT="Category=Tooling"   # tests of the project's scripts (this one included): CI's business, not the GPU's

die() { echo "device-check: error: $*" >&2; exit 2; }
case $BUDGET_S in ''|*[!0-9]*) die "DEVICE_CHECK_BUDGET_S='$BUDGET_S' is not a whole number of seconds" ;; esac
for s in $STAGES; do
  case " $ALL_STAGES " in *" $s "*) ;; *) die "unknown stage '$s' in DEVICE_CHECK_STAGES; expected some of: $ALL_STAGES" ;; esac
done

OUT_DIR=${1:-${OUT:-./device-check-results}}
mkdir -p "$OUT_DIR" || die "cannot create the output folder '$OUT_DIR'"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
WORK=${DEVICE_CHECK_WORK:-${TMPDIR:-/tmp}/deeptrain-device-check}
LOGS=$WORK/logs
rm -rf "$LOGS"; mkdir -p "$LOGS" || die "cannot create the scratch folder '$LOGS'"

# The bundle: this script inside an unpacked bundle, or the source tree's device pack unpacked into WORK.
if [ -f "$HERE/BUNDLE-INFO" ]; then
  BUNDLE=$HERE
  DATA=${DEVICE_CHECK_DATA:-}
else
  PACK=${DEVICE_CHECK_PACK:-$(cd "$HERE/.." && pwd)/artifacts/device-pack}
  [ -f "$PACK/deeptrain-bundle.tar.xz" ] || die "no $PACK/deeptrain-bundle.tar.xz: run ./build.sh device-pack on the build machine and carry artifacts/device-pack"
  rm -rf "$WORK/bundle"; mkdir -p "$WORK/bundle"
  tar -xJf "$PACK/deeptrain-bundle.tar.xz" -C "$WORK/bundle" || die "cannot unpack $PACK/deeptrain-bundle.tar.xz"
  BUNDLE=$WORK/bundle/deeptrain-bundle
  DATA=${DEVICE_CHECK_DATA:-$PACK/datasets}
  # The tree came along: the conformance tests compare the bindings with native/include/deeptrain_kernels.h there.
  export DEEPTRAIN_SOURCE_DIR=${DEEPTRAIN_SOURCE_DIR:-$(cd "$HERE/.." && pwd)}
fi
[ -x "$BUNDLE/deeptrain" ] || die "$BUNDLE is not an unpacked DeepTrain bundle (no deeptrain launcher)"
# shellcheck source=env.sh
. "$BUNDLE/env.sh"
[ -n "$DATA" ] && export DEEPTRAIN_DATA=$DATA
PY=$(command -v python3 || true)

now() { date +%s; }
left() { echo $((BUDGET_S - ($(now) - START))); }

declare -A VERDICT=() NOTE=() SECS=()
ORDERED=()
GPU=unknown GPU_WHY=""

# limit CAP: the seconds a command may run: the stage's cap, less whatever of it is gone, within the budget.
STAGE_END=0
limit() { local l=$((STAGE_END - $(now))) b; b=$(left); [ "$b" -lt "$l" ] && l=$b; [ "$l" -lt 1 ] && l=1; echo "$l"; }

# run_cmd LOG CMD...: runs CMD under the stage's remaining time, output appended to LOGS/LOG; returns its status
# (124 when the time ran out).
run_cmd() {
  local log=$1; shift
  echo "\$ $*" >>"$LOGS/$log"
  timeout --kill-after=10 "$(limit)" "$@" >>"$LOGS/$log" 2>&1 </dev/null
  local rc=$?
  echo "[exit status $rc]" >>"$LOGS/$log"
  return $rc
}

# The per-report test table of summary.txt, recomputed once after each test stage (write_outputs only reads it).
refresh_test_table() {
  local trx=() s
  for s in conformance tests-kernels tests-engine memcheck acceptance; do [ -f "$LOGS/$s.trx" ] && trx+=("$LOGS/$s.trx"); done
  if [ ${#trx[@]} -gt 0 ] && [ -n "$PY" ]; then "$PY" "$BUNDLE/trx_summary.py" "${trx[@]}" 2>&1 | head -80 >"$LOGS/tests-table.txt"; fi
}

# trx_counts FILE...: "P passed, F failed, S skipped" and the first failures and skip reasons (bundle/trx_summary.py).
trx_counts() {
  if [ -n "$PY" ]; then "$PY" "$BUNDLE/trx_summary.py" --brief "$@" 2>&1
  else echo "no python3: see the TRX files in results.tar.xz"; fi
}

# tests_verdict GPU_STAGE RC TRX...: the verdict of a test stage from its runner's status and TRX files. A GPU stage
# on a machine without a usable GPU gets NO-GPU (its cases skipped, saying why), never ok.
tests_verdict() {
  local gpu_stage=$1 rc=$2; shift 2
  local counts; counts=$(trx_counts "$@")
  NOTE[$CUR]="$counts"
  refresh_test_table
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then VERDICT[$CUR]=TIMEOUT; NOTE[$CUR]="cut off after its cap; $counts"
  elif [ "$rc" != 0 ]; then VERDICT[$CUR]=FAILED
  elif [ "$gpu_stage" = gpu ] && [ "$GPU" = no ]; then VERDICT[$CUR]=NO-GPU
  else VERDICT[$CUR]=ok; fi
}

stage_env() {
  {
    echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host:        $(uname -srm); $(nproc) CPUs"
    sed 's/^/bundle:      /' "$BUNDLE/BUNDLE-INFO" 2>/dev/null
    echo "glibc:       $(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)"
    if command -v nvidia-smi >/dev/null 2>&1; then
      echo "gpu:         $(nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 | paste -sd ';')"
      echo "driver CUDA: $(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1)"
    else
      echo "gpu:         nvidia-smi not on PATH"
    fi
    echo "nvcc:        $(command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -1 || echo 'not on PATH')"
    echo "sanitizer:   $(command -v compute-sanitizer >/dev/null 2>&1 && compute-sanitizer --version 2>&1 | grep -i version | head -1 || echo 'not on PATH')"
    echo "cc:          $(command -v cc || command -v gcc || echo 'none: the cuDNN header conformance test will skip')"
    if [ -n "$PY" ]; then
      timeout 60 "$PY" - <<'PY' 2>&1
import importlib.metadata as md, os, site
try:
    import torch
    print(f"torch:       {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
          f"device {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none visible'}")
except Exception as e:
    print(f"torch:       not importable ({type(e).__name__}: {e})")
wheels = sorted(f"{d.metadata['Name']} {d.version}" for d in md.distributions()
                if (d.metadata["Name"] or "").lower().replace("_", "-").startswith(("nvidia-", "triton")))
print("wheels:      " + ("; ".join(wheels) if wheels else "no nvidia-* wheels"))
for s in site.getsitepackages():
    inc = os.path.join(s, "nvidia", "cudnn", "include")
    if os.path.isdir(inc):
        print(f"cudnn.h:     {inc}")
PY
    fi
    echo "DEEPTRAIN_DATA=${DEEPTRAIN_DATA:-} DEEPTRAIN_PYTHON_SITE=${DEEPTRAIN_PYTHON_SITE:-}"
    echo
    echo "\$ deeptrain info"
  } >"$LOGS/environment.txt" 2>&1
  timeout --kill-after=5 "$(limit)" "$BUNDLE/deeptrain" info >>"$LOGS/environment.txt" 2>&1 </dev/null
  local rc=$?
  echo "[exit status $rc]" >>"$LOGS/environment.txt"
  cp "$LOGS/environment.txt" "$OUT_DIR/environment.txt"
  if grep -Eq '^ +cuda:[0-9]+ +available:' "$LOGS/environment.txt"; then
    GPU=yes
  else
    GPU=no
    GPU_WHY="no usable GPU: $(grep -E '^ +cuda +probe:' "$LOGS/environment.txt" | head -1 | sed -E 's/^ +cuda +probe: *//' | cut -c1-240)"
    [ "$GPU_WHY" = "no usable GPU: " ] && GPU_WHY="no usable GPU (deeptrain info lists no available cuda device)"
  fi
  if [ "$rc" != 0 ]; then VERDICT[$CUR]=FAILED; NOTE[$CUR]="deeptrain info exited $rc"
  else VERDICT[$CUR]=ok; NOTE[$CUR]="GPU: $([ "$GPU" = yes ] && grep -E '^ +cuda:0 +available:' "$LOGS/environment.txt" | sed -E 's/^ +cuda:0 +available: *//' | cut -c1-160 || echo "$GPU_WHY")"; fi
}

stage_conformance() {
  local app=$BUNDLE/apps/DeepTrain.Interop.Tests/DeepTrain.Interop.Tests
  run_cmd conformance.log "$app" -noColor -trx "$LOGS/conformance.trx" \
    -class DeepTrain.Interop.Tests.ConformanceTests -class DeepTrain.Interop.Tests.CudnnSignatureTests \
    -class DeepTrain.Interop.Tests.EntryPointTests -class DeepTrain.Interop.Tests.AvailabilityTests \
    -class DeepTrain.Interop.Tests.KernelsTests -class DeepTrain.Interop.Tests.NcclHeaderTests
  local rc=$?
  tests_verdict cpu "$rc" "$LOGS/conformance.trx"
  # Without cudnn.h the cuDNN half skips: say so in the verdict rather than call it verified.
  if [ "${VERDICT[$CUR]}" = ok ] && grep -q 'cudnn.h was not found' "$LOGS/conformance.trx" 2>/dev/null; then
    VERDICT[$CUR]=PARTIAL; NOTE[$CUR]="${NOTE[$CUR]}; cuDNN not checked: cudnn.h not found"
  fi
}

stage_tests() {
  local rc1 rc2
  run_cmd tests-kernels.log "$BUNDLE/apps/DeepTrain.Interop.Tests/DeepTrain.Interop.Tests" -noColor \
    -trx "$LOGS/tests-kernels.trx" -class DeepTrain.Interop.Tests.KernelGpuTests -class DeepTrain.Interop.Tests.NcclTests
  rc1=$?
  # The whole engine suite: its GPU cases are spread over the backend theories, and the CPU cases take seconds.
  run_cmd tests-engine.log "$BUNDLE/apps/DeepTrain.Tests/DeepTrain.Tests" -noColor -trx "$LOGS/tests-engine.trx" \
    -trait- "$ACCEPTANCE_TRAIT" -trait- "$TOOLING_TRAIT"
  rc2=$?
  local rc=$rc2; [ "$rc1" != 0 ] && rc=$rc1
  [ "$rc1" = 124 ] || [ "$rc2" = 124 ] && rc=124
  tests_verdict gpu "$rc" "$LOGS/tests-kernels.trx" "$LOGS/tests-engine.trx"
}

# command_verdict RC WHY_FAILED WHAT_OK: the verdict of a GPU stage that runs commands rather than tests: TIMEOUT when
# its cap cut it off, NO-GPU (or FAILED where a GPU was found) with WHY_FAILED, else ok with WHAT_OK.
command_verdict() {
  local rc=$1
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then VERDICT[$CUR]=TIMEOUT; NOTE[$CUR]="cut off after its cap"
  elif [ "$rc" != 0 ]; then VERDICT[$CUR]=$([ "$GPU" = no ] && echo NO-GPU || echo FAILED); NOTE[$CUR]=$2
  else VERDICT[$CUR]=ok; NOTE[$CUR]=$3; fi
}

# One DeepTrain-vs-PyTorch pair through benchmarks/gpu_vs_pytorch.sh; the tables are rewritten from every pair so far.
BENCHED=""
stage_bench() {
  local config=${CUR#bench-}
  BENCHED="$BENCHED $config"
  run_cmd "$CUR.log" env DEEPTRAIN="$BUNDLE/deeptrain" CONFIGS="$config" TABLE_CONFIGS="$BENCHED" STEPS="$BENCH_STEPS" \
    WARMUP="$BENCH_WARMUP" bash "$BUNDLE/benchmarks/gpu_vs_pytorch.sh" "$LOGS/bench"
  local rc=$?
  # This pair's failures (gpu_vs_pytorch.sh lists them as '  <side>-<config>: exit status N: why').
  local fail; fail=$(grep -E "^  (deeptrain|pytorch)-$config: " "$LOGS/bench/summary.txt" 2>/dev/null | sed 's/^ *//' | cut -c1-150 | paste -sd ';')
  command_verdict "$rc" "${fail:-exit status $rc}" "figures in the tables below"
}

stage_profile() {
  run_cmd profile.log "$BUNDLE/deeptrain" bench --device cuda --model resnet50 --input 3x224x224 --batch-size 256 \
    --steps 20 --layout nhwc --precision fp16 --profile
  local rc=$?
  command_verdict "$rc" "$(grep -m1 -i error "$LOGS/profile.log" | cut -c1-200)" "time per layer kind in results.tar.xz (logs/profile.log)"
}

stage_memcheck() {
  if ! command -v compute-sanitizer >/dev/null 2>&1; then
    VERDICT[$CUR]=FAILED; NOTE[$CUR]="compute-sanitizer is not on PATH (it ships with the CUDA toolkit)"; return
  fi
  run_cmd memcheck.log compute-sanitizer --tool memcheck --error-exitcode "$SANITIZER_ERROR_RC" --target-processes all \
    "$BUNDLE/apps/DeepTrain.Interop.Tests/DeepTrain.Interop.Tests" -noColor -trx "$LOGS/memcheck.trx" \
    -class DeepTrain.Interop.Tests.KernelGpuTests
  local rc=$?
  local summary; summary=$(grep -Eo 'ERROR SUMMARY: [0-9]+ errors?' "$LOGS/memcheck.log" | tail -1)
  tests_verdict gpu "$rc" "$LOGS/memcheck.trx"
  if [ "$rc" = "$SANITIZER_ERROR_RC" ]; then VERDICT[$CUR]=FAILED; fi
  if [ -n "$summary" ]; then
    NOTE[$CUR]="memcheck $summary; ${NOTE[$CUR]}"
  elif [ "$rc" != 124 ]; then
    VERDICT[$CUR]=FAILED
    NOTE[$CUR]="compute-sanitizer gave no error summary (exit $rc): $(grep -vE '^(\$ |\[exit status)' "$LOGS/memcheck.log" | tail -1 | sed 's/^=* *//' | cut -c1-200)"
  fi
}

stage_acceptance() {
  if [ ! -f "${DEEPTRAIN_DATA:-/nonexistent}/fashion-mnist/train-images-idx3-ubyte.gz" ]; then
    VERDICT[$CUR]=FAILED; NOTE[$CUR]="no Fashion-MNIST at DEEPTRAIN_DATA='${DEEPTRAIN_DATA:-}' (./build.sh device-pack writes the subset)"; return
  fi
  run_cmd acceptance.log "$BUNDLE/apps/DeepTrain.Tests/DeepTrain.Tests" -noColor -trx "$LOGS/acceptance.trx" \
    -trait "$ACCEPTANCE_TRAIT" -diagnostics
  local rc=$?
  tests_verdict gpu "$rc" "$LOGS/acceptance.trx"
  local said; said=$(grep -Eo 'fp32 [0-9.]+ ?%, fp16 [0-9.]+ ?%[^]]*' "$LOGS/acceptance.log" | head -1)
  [ -n "$said" ] && NOTE[$CUR]="$said; ${NOTE[$CUR]}"
}

# The inference pairs on cuda, one InferenceBench run per configuration (each checks PyTorch's logits against DeepTrain's
# first); their summary lines go to summary.txt. A configuration that fails is noted and the next still runs.
stage_inference() {
  local app=$BUNDLE/apps/InferenceBench/InferenceBench failed="" ran=0 rc=0 cfg
  : >"$LOGS/inference-summary.txt"
  for cfg in "resnet20 1x28x28 1" "resnet20 1x28x28 8" "resnet20 1x28x28 64" "resnet56 3x32x32 1" "resnet56 3x32x32 8" \
             "resnet56 3x32x32 64" "resnet50 3x224x224 1" "resnet50 3x224x224 16"; do
    # shellcheck disable=SC2086
    set -- $cfg
    run_cmd inference.log "$app" latency "$1" "$2" "$3" 4 "$INFER_ROUNDS" "$INFER_ITERS" 5 --device cuda --torch "pytorch=${PY:-python3}"
    rc=$?
    grep -E '^(summary|check) ' "$LOGS/inference.log" | tail -n +1 >"$LOGS/inference-summary.txt.tmp" && mv -f "$LOGS/inference-summary.txt.tmp" "$LOGS/inference-summary.txt"
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && break
    if [ "$rc" = 0 ]; then ran=$((ran + 1)); else failed="$failed ${1}b$3"; fi
  done
  command_verdict "$rc" "failed:${failed:- none}; $(grep -m1 -iE 'error|exception' "$LOGS/inference.log" | cut -c1-160)" "$ran configurations; summary lines below"
  if [ "${VERDICT[$CUR]}" = ok ] && [ -n "$failed" ]; then VERDICT[$CUR]=$([ "$GPU" = no ] && echo NO-GPU || echo FAILED); NOTE[$CUR]="failed:$failed"; fi
}

# The four result files, rewritten whole each time (a run cut off keeps the last complete set).
write_outputs() {
  local running=${1:-}
  {
    echo "DeepTrain device check: $(head -1 "$BUNDLE/BUNDLE-INFO" 2>/dev/null); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "budget ${BUDGET_S} s, used $(( $(now) - START )) s; stages: $STAGES"
    [ -n "$running" ] && echo "RUNNING NOW: $running (a run cut off here returns the files as of this line)"
    printf '%-22s %-9s %6s  %s\n' stage verdict seconds note
    local s
    for s in "${ORDERED[@]}"; do n=${NOTE[$s]:-}; printf '%-22s %-9s %6s  %s\n' "$s" "${VERDICT[$s]:-?}" "${SECS[$s]:--}" "${n:0:400}"; done
    if [ -f "$LOGS/tests-table.txt" ]; then echo; echo "tests:"; cat "$LOGS/tests-table.txt"; fi
    if [ -f "$LOGS/bench/summary.txt" ]; then echo; echo "benchmarks (benchmarks/gpu_vs_pytorch.sh):"; cat "$LOGS/bench/summary.txt"; fi
    if [ -s "$LOGS/inference-summary.txt" ]; then echo; echo "inference on cuda (benchmarks/InferenceBench):"; cat "$LOGS/inference-summary.txt"; fi
  } >"$OUT_DIR/summary.txt.tmp" 2>&1
  mv -f "$OUT_DIR/summary.txt.tmp" "$OUT_DIR/summary.txt"
  {
    echo "# DeepTrain device check, $(date -u +%Y-%m-%d)"
    echo
    echo '```text'; cat "$OUT_DIR/summary.txt"; echo '```'
    [ -f "$LOGS/bench/results.md" ] && { echo; cat "$LOGS/bench/results.md"; }
  } >"$OUT_DIR/results.md.tmp" 2>&1
  mv -f "$OUT_DIR/results.md.tmp" "$OUT_DIR/results.md"
  # Logs and TRX files; a log over 4 MiB keeps its last 4 MiB so the archive stays far below 16 MiB.
  find "$LOGS" -type f -size +4M -exec sh -c 'tail -c 4194304 "$1" >"$1.cut" && mv -f "$1.cut" "$1"' _ {} \;
  tar -C "$WORK" -cf - logs 2>/dev/null | xz -6 -T0 >"$OUT_DIR/results.tar.xz.tmp" && mv -f "$OUT_DIR/results.tar.xz.tmp" "$OUT_DIR/results.tar.xz"
  rm -f "$OUT_DIR/results.tar.xz.tmp"
}

on_signal() { echo "device-check: interrupted" >&2; write_outputs "interrupted"; exit 1; }
trap on_signal INT TERM

defaults() {   # stage -> "need cap"
  case $1 in
    env) echo "5 45" ;; conformance) echo "15 60" ;; tests) echo "45 210" ;;
    bench-*) echo "20 75" ;; profile) echo "20 60" ;; memcheck) echo "30 120" ;; acceptance) echo "60 180" ;; inference) echo "30 150" ;;
  esac
}

rc=0
for CUR in $STAGES; do
  ORDERED+=("$CUR")
  read -r need cap <<<"$(defaults "$CUR")"
  var=${CUR//-/_}
  cap_var="DEVICE_CHECK_CAP_$var" need_var="DEVICE_CHECK_NEED_$var"
  cap=${!cap_var:-$cap}
  need=${!need_var:-$need}
  remaining=$(left)
  if [ "$remaining" -lt "$need" ]; then
    VERDICT[$CUR]=SKIPPED; NOTE[$CUR]="needs about ${need} s, ${remaining} s of the ${BUDGET_S} s budget left"; rc=1
    write_outputs
    continue
  fi
  [ "$cap" -gt "$remaining" ] && cap=$remaining
  STAGE_END=$(( $(now) + cap ))
  write_outputs "$CUR (cap ${cap} s)"
  echo "device-check: $CUR (cap ${cap} s, ${remaining} s of the budget left)" >&2
  t0=$(now)
  case $CUR in
    bench-*) stage_bench ;;
    *) "stage_$CUR" ;;
  esac
  SECS[$CUR]=$(( $(now) - t0 ))
  [ "${VERDICT[$CUR]}" = ok ] || rc=1
  write_outputs
done
cat "$OUT_DIR/summary.txt"
exit $rc

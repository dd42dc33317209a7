#!/usr/bin/env bash
# GPU training-step throughput of DeepTrain against PyTorch on the same GPU, same workloads, one run:
#   resnet20  3x32x32,   batch 128, fp32, NCHW and NHWC (PyTorch: channels_last)
#   resnet50  3x224x224, batch 64,  fp32, NCHW and NHWC
# Both sides time forward + cross-entropy + backward + SGD(0.01, momentum 0.9, wd 5e-4) on one synthetic
# batch resident on the GPU, after WARMUP untimed steps, over STEPS timed steps ending in a device sync.
# Then PyTorch's fused AdamW / unscale bandwidth (pytorch_fused_adamw.py), for the record.
# Prints a ratio table (deeptrain images/s / pytorch images/s) and writes everything to RESULTS_DIR.
#
# Usage (from the unpacked bundle, where this script is benchmarks/gpu_vs_pytorch.sh):
#   benchmarks/gpu_vs_pytorch.sh [RESULTS_DIR]          default ./gpu-vs-pytorch
# Environment: STEPS (default 50), WARMUP (default 10), PYTHON (default python3: needs a CUDA PyTorch),
#   DEEPTRAIN (the deeptrain launcher; default: the bundle's ./deeptrain beside benchmarks/, or the
#   source tree's artifacts/bundle/deeptrain-bundle/deeptrain after ./build.sh bundle),
#   MODELS (default "resnet20 resnet50"), LAYOUTS (default "nchw nhwc"), TF32 (PyTorch's --tf32, default
#   off: DeepTrain's CUDA backend keeps TF32 off for fp32 unless AllowTf32 is set, and `deeptrain bench`
#   has no option for it, so both sides do true fp32 math; `default` gives PyTorch its own defaults).
# Exit status: 0 when every run produced a figure, 1 otherwise (the table shows n/a for the missing ones).
set -uo pipefail
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
REF="$HERE/reference"
STEPS=${STEPS:-50}
WARMUP=${WARMUP:-10}
PYTHON=${PYTHON:-python3}
MODELS=${MODELS:-resnet20 resnet50}
LAYOUTS=${LAYOUTS:-nchw nhwc}
TF32=${TF32:-off}
if [ -z "${DEEPTRAIN:-}" ]; then
  for cand in "$HERE/../deeptrain" "$HERE/../artifacts/bundle/deeptrain-bundle/deeptrain"; do
    [ -x "$cand" ] && { DEEPTRAIN=$(readlink -f "$cand"); break; }
  done
fi
if [ -z "${DEEPTRAIN:-}" ] || [ ! -x "$DEEPTRAIN" ]; then
  echo "error: no deeptrain launcher: run this from the unpacked bundle (./build.sh bundle), or set DEEPTRAIN" >&2
  exit 2
fi
RESULTS=${1:-./gpu-vs-pytorch}
mkdir -p "$RESULTS" || { echo "error: cannot create $RESULTS" >&2; exit 2; }
RESULTS=$(cd "$RESULTS" && pwd)

input_of() { case $1 in resnet20) echo 3x32x32 ;; resnet50) echo 3x224x224 ;; *) echo "unknown model $1" >&2; return 1 ;; esac; }
batch_of() { case $1 in resnet20) echo 128 ;; resnet50) echo 64 ;; *) return 1 ;; esac; }

# run NAME CMD...: output to RESULTS/NAME.txt (and the terminal); the exit status to RESULTS/NAME.status.
run() {
  local name=$1; shift
  echo "\$ $*" | tee "$RESULTS/$name.txt"
  "$@" 2>&1 | tee -a "$RESULTS/$name.txt"
  local rc=${PIPESTATUS[0]}
  echo "$rc" >"$RESULTS/$name.status"
  echo "[exit status $rc]"
}

{
  echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "deeptrain: $DEEPTRAIN"
  echo "python:    $(command -v "$PYTHON" || echo "$PYTHON not found")"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  echo "steps $STEPS, warm-up $WARMUP, PyTorch TF32 $TF32"
} 2>&1 | tee "$RESULTS/environment.txt"

for m in $MODELS; do
  input=$(input_of "$m") || exit 2
  batch=$(batch_of "$m")
  for l in $LAYOUTS; do
    cl=(); [ "$l" = nhwc ] && cl=(--channels-last)
    run "pytorch-$m-$l" "$PYTHON" "$REF/pytorch_gpu_train.py" --model "$m" --input "$input" --batch "$batch" \
      --steps "$STEPS" --warmup "$WARMUP" --tf32 "$TF32" ${cl[@]+"${cl[@]}"}
    run "deeptrain-$m-$l" "$DEEPTRAIN" bench --device cuda --model "$m" --input "$input" --batch-size "$batch" \
      --steps "$STEPS" --warmup "$WARMUP" --layout "$l"
  done
done
run pytorch-fused-adamw "$PYTHON" "$REF/pytorch_fused_adamw.py"

# The table: deeptrain bench prints "... : <x> images/s, <y> ms/step, ..."; the PyTorch script one JSON line.
"$PYTHON" - "$RESULTS" "$MODELS" "$LAYOUTS" <<'PY' 2>&1 | tee "$RESULTS/summary.txt"
import json, os, re, sys
results, models, layouts = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def read(name):
    try:
        with open(os.path.join(results, name + ".txt")) as f:
            return f.read()
    except OSError:
        return ""
def ours(text):
    m = re.search(r":\s*([0-9.]+) images/s", text)
    return float(m.group(1)) if m else None
def theirs(text):
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None
missing = 0
print(f"{'model':<10} {'layout':<6} {'batch':>5} {'deeptrain img/s':>16} {'pytorch img/s':>14} {'ratio':>7}  pytorch peak MiB")
for m in models:
    for l in layouts:
        a, b = ours(read(f"deeptrain-{m}-{l}")), theirs(read(f"pytorch-{m}-{l}"))
        bi = b["images_per_s"] if b else None
        missing += (a is None) + (bi is None)
        ratio = f"{a / bi:.2f}" if a and bi else "n/a"
        peak = f"{b['peak_mem_bytes'] / 2**20:.0f}" if b and b.get("peak_mem_bytes") else "n/a"
        print(f"{m:<10} {l:<6} {(b or {}).get('batch', ''):>5} {a if a is not None else 'n/a':>16} {bi if bi is not None else 'n/a':>14} {ratio:>7}  {peak}")
first = next((theirs(read(f"pytorch-{m}-{l}")) for m in models for l in layouts if theirs(read(f"pytorch-{m}-{l}"))), None)
if first:
    print(f"pytorch {first['torch']}, CUDA {first['cuda']}, cuDNN {first['cudnn']}, {first['device']}; "
          f"cudnn.benchmark {first['cudnn_benchmark']}, TF32 conv {first['tf32_conv']} / matmul {first['tf32_matmul']}")
print("ratio = deeptrain / pytorch (above 1: DeepTrain is faster)")
for line in read("pytorch-fused-adamw").splitlines():
    if line.startswith("{"):
        r = json.loads(line)
        print(f"pytorch {r['kernel']:<12} {r['gb_s']:8.1f} GB/s  ({r['fraction_of_copy']:.2f} of copy, {r['ms']:.3f} ms, {r['params']} params)")
sys.exit(1 if missing else 0)
PY
exit "${PIPESTATUS[0]}"

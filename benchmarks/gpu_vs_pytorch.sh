#!/usr/bin/env bash
# DeepTrain against PyTorch on the same GPU, same workloads, one run (issues #3 item 10 and #4 item 6):
#   r20-fp32-nchw   resnet20 3x32x32   batch 128 fp32 NCHW     vs pytorch_gpu_train.py
#   r20-fp32-nhwc   resnet20 3x32x32   batch 128 fp32 NHWC     vs the same with --channels-last
#   r50-fp32-nchw   resnet50 3x224x224 batch 64  fp32 NCHW
#   r50-fp32-nhwc   resnet50 3x224x224 batch 64  fp32 NHWC
#   r50-fp16-nhwc   resnet50 3x224x224 batch 256 fp16 NHWC (dynamic loss scaler) vs --amp --channels-last (GradScaler)
#   r56-fp16-nhwc   resnet56 3x32x32   batch 128 fp16 NHWC (dynamic loss scaler) vs --amp --channels-last (GradScaler)
#   kernels         `deeptrain bench-kernels` (fused AdamW, AdamW + fp16 copy, unscale, D2D copy; GB/s and fraction
#                   of the copy) vs pytorch_fused_adamw.py (torch.optim.AdamW(fused=True), the AMP unscale, copy_)
# The training workloads time forward + cross-entropy + backward + SGD(0.01, momentum 0.9, wd 5e-4) on one synthetic
# batch resident on the GPU, after WARMUP untimed steps, over STEPS timed steps closed by a device sync (both sides).
# Every stage runs whatever the others did; its output and exit status are kept in RESULTS_DIR. At the end: one ratio
# table on the terminal (summary.txt) and the same as markdown (results.md), ready for docs/ and benchmarks/README.md.
#
# Usage (from the unpacked bundle, where this script is benchmarks/gpu_vs_pytorch.sh):
#   benchmarks/gpu_vs_pytorch.sh [RESULTS_DIR]          default ./gpu-vs-pytorch
# Environment: STEPS (default 50), WARMUP (default 10), PYTHON (default python3: needs a CUDA PyTorch; also writes the
#   table), DEEPTRAIN (the deeptrain launcher; default: the bundle's ./deeptrain beside benchmarks/, or the source
#   tree's artifacts/bundle/deeptrain-bundle/deeptrain after ./build.sh bundle), CONFIGS (default: all of the above,
#   space-separated names), KERNEL_PARAMS (default 25557032, ResNet-50's parameter count), TF32 (PyTorch's --tf32,
#   default off: DeepTrain's CUDA backend keeps TF32 off for fp32, and `deeptrain bench` has no option for it, so
#   both sides do true fp32 math; `default` gives PyTorch its own defaults), TABLE_CONFIGS (the configurations the
#   tables cover, default CONFIGS: bundle/device-check.sh runs one pair at a time and tables every pair so far).
# Exit status: 0 when every stage produced its figures, 1 otherwise (the tables show n/a and the failures list why),
#   2 for a usage error.
set -uo pipefail
HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
REF="$HERE/reference"
STEPS=${STEPS:-50}
WARMUP=${WARMUP:-10}
PYTHON=${PYTHON:-python3}
TF32=${TF32:-off}
KERNEL_PARAMS=${KERNEL_PARAMS:-25557032}
ALL_CONFIGS="r20-fp32-nchw r20-fp32-nhwc r50-fp32-nchw r50-fp32-nhwc r50-fp16-nhwc r56-fp16-nhwc kernels"
CONFIGS=${CONFIGS:-$ALL_CONFIGS}
TABLE_CONFIGS=${TABLE_CONFIGS:-$CONFIGS}
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

# config NAME -> "model input batch precision layout"
config() {
  case $1 in
    r20-fp32-nchw) echo "resnet20 3x32x32 128 fp32 nchw" ;;
    r20-fp32-nhwc) echo "resnet20 3x32x32 128 fp32 nhwc" ;;
    r50-fp32-nchw) echo "resnet50 3x224x224 64 fp32 nchw" ;;
    r50-fp32-nhwc) echo "resnet50 3x224x224 64 fp32 nhwc" ;;
    r50-fp16-nhwc) echo "resnet50 3x224x224 256 fp16 nhwc" ;;
    r56-fp16-nhwc) echo "resnet56 3x32x32 128 fp16 nhwc" ;;
    kernels) echo "kernels" ;;
    *) return 1 ;;
  esac
}
for c in $CONFIGS $TABLE_CONFIGS; do
  config "$c" >/dev/null || { echo "error: unknown configuration '$c' in CONFIGS or TABLE_CONFIGS; expected some of: $ALL_CONFIGS" >&2; exit 2; }
done

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
  echo "steps $STEPS, warm-up $WARMUP, PyTorch TF32 $TF32, kernel parameters $KERNEL_PARAMS"
  echo "configurations: $CONFIGS"
} 2>&1 | tee "$RESULTS/environment.txt"
run deeptrain-info "$DEEPTRAIN" info

for c in $CONFIGS; do
  if [ "$c" = kernels ]; then
    run "deeptrain-$c" "$DEEPTRAIN" bench-kernels --params "$KERNEL_PARAMS" --json
    run "pytorch-$c" "$PYTHON" "$REF/pytorch_fused_adamw.py" --params "$KERNEL_PARAMS"
    continue
  fi
  read -r model input batch precision layout <<<"$(config "$c")"
  py=(); [ "$layout" = nhwc ] && py+=(--channels-last); [ "$precision" = fp16 ] && py+=(--amp --amp-dtype float16)
  run "pytorch-$c" "$PYTHON" "$REF/pytorch_gpu_train.py" --model "$model" --input "$input" --batch "$batch" \
    --steps "$STEPS" --warmup "$WARMUP" --tf32 "$TF32" ${py[@]+"${py[@]}"}
  run "deeptrain-$c" "$DEEPTRAIN" bench --device cuda --model "$model" --input "$input" --batch-size "$batch" \
    --steps "$STEPS" --warmup "$WARMUP" --layout "$layout" --precision "$precision" --json
done

# The tables. Both sides print JSON lines with the same keys (training: images_per_s, ms_per_step, peak_mem_bytes,
# device; kernels: kernel, gb_s, fraction_of_copy).
summarise() {
  local details="" c
  for c in $TABLE_CONFIGS; do details+="$c:$(config "$c" | tr ' ' ':') "; done
  "$1" - "$RESULTS" "$details" <<'PY'
import json, os, sys
results = sys.argv[1]
detail = {d.split(":")[0]: d.split(":")[1:] for d in sys.argv[2].split()}   # name -> [model, input, batch, precision, layout]
configs = list(detail)
def read(name):
    try:
        with open(os.path.join(results, name + ".txt")) as f:
            return f.read()
    except OSError:
        return ""
def status(name):
    try:
        with open(os.path.join(results, name + ".status")) as f:
            return f.read().strip()
    except OSError:
        return "not run"
def rows(name):
    out = []
    for line in read(name).splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out
def why(name):
    """The last line that says what went wrong (error:, Exception, SystemExit text), else the last output line."""
    lines = [l for l in read(name).splitlines() if l.strip() and not l.startswith("$ ") and not l.startswith("[exit status")]
    for l in reversed(lines):
        if "error" in l.lower() or "exception" in l.lower() or "unavailable" in l.lower():
            return l.strip()[:300]
    return lines[-1].strip()[:300] if lines else "no output"
def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)
def mib(b):
    return None if not b else b / 2**20

missing, failures, train, kern = 0, [], [], []
for c in configs:
    for side in ("deeptrain", "pytorch"):
        s = status(f"{side}-{c}")
        if s != "0":
            failures.append((f"{side}-{c}", s, why(f"{side}-{c}")))
    if c == "kernels":
        ours = {r["kernel"]: r for r in rows("deeptrain-kernels")}
        theirs = {r["kernel"]: r for r in rows("pytorch-kernels")}
        for k, pk in (("copy", "copy"), ("adamw_fused", "adamw_fused"), ("adamw_fused_fp16_copy", None), ("unscale", "unscale")):
            a, b = ours.get(k), theirs.get(pk) if pk else None
            missing += (a is None) + (pk is not None and b is None)
            bpp = {"copy": "2/byte", "adamw_fused": "28", "adamw_fused_fp16_copy": "30", "unscale": "8"}[k]
            ratio = a["gb_s"] / b["gb_s"] if a and b and b["gb_s"] else None
            kern.append((k, bpp, a and a["gb_s"], a and a["fraction_of_copy"], b and b["gb_s"], b and b["fraction_of_copy"], ratio,
                         "PyTorch has no fused 16-bit copy" if pk is None else ""))
        continue
    a, b = (rows(f"deeptrain-{c}") or [None])[0], (rows(f"pytorch-{c}") or [None])[0]
    missing += (a is None) + (b is None)
    model, inp, batch, prec, layout = detail[c]
    ai, bi = a and a["images_per_s"], b and b["images_per_s"]
    train.append((model, inp, batch, prec if prec == "fp32" else f"{prec} / amp-{prec}", layout,
                  ai, bi, ai / bi if ai and bi else None, a and a.get("step_ms_median"), a and a.get("step_ms_p90"),
                  mib(a and a.get("peak_mem_bytes")), mib(b and b.get("peak_mem_bytes"))))

text, md = [], []
dev_ours = next((r.get("device") for c in configs for r in rows(f"deeptrain-{c}") if r.get("device")), None)
ref = next((r for c in configs for r in rows(f"pytorch-{c}") if r.get("torch")), None)
md.append("## DeepTrain vs PyTorch on the GPU\n")
md.append(f"- DeepTrain device: {dev_ours or 'n/a (no DeepTrain figure)'}")
if ref:
    md.append(f"- PyTorch {ref['torch']}, CUDA {ref.get('cuda')}, cuDNN {ref.get('cudnn', 'n/a')}, {ref.get('device')}"
              + (f"; cudnn.benchmark {ref['cudnn_benchmark']}, TF32 conv {ref['tf32_conv']} / matmul {ref['tf32_matmul']}" if "tf32_conv" in ref else ""))
else:
    md.append("- PyTorch: n/a (no PyTorch figure)")
if train:
    h = f"{'model':<9} {'input':<10} {'batch':>5} {'precision':<16} {'layout':<6} {'deeptrain img/s':>15} {'pytorch img/s':>13} {'ratio':>6} {'dt ms med/p90':>15} {'dt plan MiB':>11} {'pt peak MiB':>11}"
    text += [h]
    md += ["", "| model | input | batch | precision | layout | DeepTrain img/s | PyTorch img/s | ratio | DeepTrain step ms (median / p90) | DeepTrain planned peak MiB | PyTorch peak MiB |",
           "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for m, i, bt, p, l, ai, bi, r, med, p90, pa, pb in train:
        mp = f"{fmt(med, '.2f')} / {fmt(p90, '.2f')}"
        text.append(f"{m:<9} {i:<10} {bt:>5} {p:<16} {l:<6} {fmt(ai, '.1f'):>15} {fmt(bi, '.1f'):>13} {fmt(r, '.2f'):>6} {mp:>15} {fmt(pa, '.0f'):>11} {fmt(pb, '.0f'):>11}")
        md.append(f"| {m} | {i} | {bt} | {p} | {l} | {fmt(ai, '.1f')} | {fmt(bi, '.1f')} | {fmt(r, '.2f')} | {mp} | {fmt(pa, '.0f')} | {fmt(pb, '.0f')} |")
    text.append("ratio = deeptrain / pytorch images/s (above 1: DeepTrain is faster); DeepTrain's peak is its memory plan's, PyTorch's torch.cuda.max_memory_allocated")
    md += ["", "ratio = DeepTrain / PyTorch images per second (above 1: DeepTrain is faster). DeepTrain's peak is the memory plan's "
           "(known before the run); PyTorch's is `torch.cuda.max_memory_allocated` over the run."]
if kern:
    text += ["", f"{'kernel':<22} {'B/param':>7} {'deeptrain GB/s':>14} {'of copy':>7} {'pytorch GB/s':>12} {'of copy':>7} {'ratio':>6}"]
    md += ["", "| kernel | bytes per parameter | DeepTrain GB/s | of copy | PyTorch GB/s | of copy | ratio | note |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for k, bpp, ag, af, bg, bf, r, note in kern:
        text.append(f"{k:<22} {bpp:>7} {fmt(ag, '.1f'):>14} {fmt(af, '.3f'):>7} {fmt(bg, '.1f'):>12} {fmt(bf, '.3f'):>7} {fmt(r, '.2f'):>6}  {note}")
        md.append(f"| {k} | {bpp} | {fmt(ag, '.1f')} | {fmt(af, '.3f')} | {fmt(bg, '.1f')} | {fmt(bf, '.3f')} | {fmt(r, '.2f')} | {note} |")
    text.append("GB/s of compulsory traffic; 'of copy' = fraction of the device-to-device copy measured in the same run (issue #4's aim: 0.9 or more)")
    md += ["", "GB/s of the bytes each kernel must move (10⁹ B/s); \"of copy\": the fraction of a device-to-device copy's GB/s measured in "
           "the same run by the same side (issue #4 aims at 0.9 or more). Median of 5 timings (CUDA events) of 50 calls after 10 warm-up calls."]
if failures:
    text += ["", "failed stages:"] + [f"  {n}: exit status {s}: {w}" for n, s, w in failures]
    md += ["", "Failed stages:", ""] + [f"- `{n}`: exit status {s}: {w}" for n, s, w in failures]
print("\n".join(text))
with open(os.path.join(results, "results.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print(f"\nmarkdown: {os.path.join(results, 'results.md')}")
sys.exit(1 if missing or failures else 0)
PY
}
SUMMARY_PYTHON=$PYTHON
command -v "$SUMMARY_PYTHON" >/dev/null 2>&1 || SUMMARY_PYTHON=python3
if command -v "$SUMMARY_PYTHON" >/dev/null 2>&1; then
  summarise "$SUMMARY_PYTHON" 2>&1 | tee "$RESULTS/summary.txt"
  exit "${PIPESTATUS[0]}"
fi
echo "no python to write the tables (PYTHON=$PYTHON, python3 not found); the raw outputs are in $RESULTS" | tee "$RESULTS/summary.txt"
exit 1

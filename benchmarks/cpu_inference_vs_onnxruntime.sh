#!/usr/bin/env bash
# CPU inference, issue 11 item 7, one run: DeepTrain's InferenceSession (checkpoint loaded, layers fused) against ONNX Runtime
# (C#, CPU provider, ORT_ENABLE_ALL, intra-op threads = THREADS, inter-op 1) on the exported model and PyTorch 1.13 eager
# under torch.no_grad() (Debian's python3-torch) on the same checkpoint, the same thread count on every side.
# benchmarks/InferenceBench runs every side of a configuration in one process (PyTorch in a child it drives), checks each
# side's logits against DeepTrain's, then alternates the sides over ROUNDS rounds (the order rotating), each round timing
# ITERS forward passes after a warm-up; it prints every round, every round's ratios and the medians.
# PyTorch twice: "pytorch" configured at its best (torch.set_num_threads(THREADS), OMP_NUM_THREADS=THREADS, the OpenMP
# OpenBLAS from Debian's libopenblas0-openmp unpacked onto LD_LIBRARY_PATH, MALLOC_TRIM_THRESHOLD_=1073741824
# MALLOC_MMAP_THRESHOLD_=33554432, and OMP_WAIT_POLICY=PASSIVE: on a shared machine its spinning OpenMP workers otherwise
# lose their time slices, 2.7 ms against 49 ms p50 for ResNet-20 at batch 1 when measured here); "pytorch-as-installed"
# as apt installs it, at batch 1 of the CIFAR ResNets only (measured here it took 0.4 s a pass at batch 1 and 1.8 s at batch
# 64 for ResNet-20: at every configuration it would take most of the run).
# Then concurrency (CLIENTS threads sending one-sample requests to one shared session: DeepTrain without and with dynamic
# batching, ONNX Runtime's session) and a per-layer-kind profile of DeepTrain's forward, as compiled and as folded.
# Usage: bash benchmarks/cpu_inference_vs_onnxruntime.sh [rounds=3] [iters=20] [threads=2] [clients=8]
# MODELS (default "resnet20 resnet56 resnet50") picks the latency configurations; the concurrency and profile parts always run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
ITERS=${2:-20}
THREADS=${3:-2}
CLIENTS=${4:-8}
PY=/usr/bin/python3
$PY -c "import torch" 2>/dev/null || { echo "error: PyTorch is needed for the reference (Debian: apt-get install python3-torch)" >&2; exit 1; }
BLAS=${TMPDIR:-/tmp}/deeptrain-openblas-openmp
LIB=$BLAS/root/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -f "$LIB/libblas.so.3" ]; then
  mkdir -p "$BLAS"
  (cd "$BLAS" && apt-get download libopenblas0-openmp >/dev/null && dpkg -x libopenblas0-openmp_*.deb root) \
    || { echo "error: could not fetch libopenblas0-openmp (apt-get download) into $BLAS" >&2; exit 1; }
fi
dotnet build benchmarks/InferenceBench -c Release -v quiet -nologo -clp:NoSummary >/dev/null
BIN=benchmarks/InferenceBench/bin/Release/net10.0/InferenceBench
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
TUNED="env LD_LIBRARY_PATH=$LIB MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_MMAP_THRESHOLD_=33554432 OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=PASSIVE $PY"
MODELS=${MODELS:-resnet20 resnet56 resnet50}
latency() {
  local plain=(); [ "$3" = 1 ] && [ "$1" != resnet50 ] && plain=(--torch "pytorch-as-installed=$PY")
  "$BIN" latency "$1" "$2" "$3" "$THREADS" "$ROUNDS" "$4" "$5" --torch "pytorch=$TUNED" "${plain[@]}"
}
case " $MODELS " in *" resnet20 "*) for b in 1 8 64; do latency resnet20 1x28x28 "$b" "$ITERS" 3; done ;; esac
case " $MODELS " in *" resnet56 "*) for b in 1 8 64; do latency resnet56 3x32x32 "$b" "$ITERS" 3; done ;; esac
# ResNet-50 at 224x224 is ~4 GFLOP an image: few passes keep the run near ten minutes on two shared cores.
case " $MODELS " in *" resnet50 "*) latency resnet50 3x224x224 1 "$(( ITERS / 3 > 3 ? ITERS / 3 : 3 ))" 1; latency resnet50 3x224x224 16 3 1 ;; esac
for m in "resnet20 1x28x28" "resnet56 3x32x32"; do
  # shellcheck disable=SC2086
  "$BIN" concurrency $m "$CLIENTS" "$THREADS" "$ROUNDS" 25
done
"$BIN" profile resnet20 1x28x28 1 "$THREADS" 200
"$BIN" profile resnet20 1x28x28 64 "$THREADS" 5

#!/usr/bin/env bash
# CPU inference latency and throughput: DeepTrain's evaluation plan (Model.Compile(training: false); InferenceSession
# once it lands) against ONNX Runtime (C#, CPU provider, graph optimisation all) on the exported model with the same
# weights, the same thread count on both sides. Per configuration the sides alternate over ROUNDS rounds in one process
# (benchmarks/InferenceBench), each round timing ITERS forward passes after WARMUP; prints every round, then the medians
# and the ratio. p99 over ITERS samples is the largest but one per hundred (the maximum below 100 iterations).
# Usage: bash benchmarks/cpu_inference_vs_onnxruntime.sh [rounds=7] [iters=30] [threads=2]
# Not yet here (issue 11 item 7): the PyTorch 1.13 eager side, the concurrency and GPU pairs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
ITERS=${2:-30}
THREADS=${3:-2}
dotnet build benchmarks/InferenceBench -c Release -v quiet -nologo -clp:NoSummary >/dev/null
BIN=benchmarks/InferenceBench/bin/Release/net10.0/InferenceBench
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
run() { "$BIN" "$1" "$2" "$3" "$THREADS" "$ROUNDS" "$4" 2; }
for b in 1 8 64; do run resnet20 1x28x28 "$b" "$ITERS"; done
for b in 1 8 64; do run resnet56 3x32x32 "$b" "$ITERS"; done
# ResNet-50 at 224x224 is ~4 GFLOP an image: fewer iterations keep the run near ten minutes on two shared cores.
for b in 1 16; do run resnet50 3x224x224 "$b" "$(( ITERS / 6 > 3 ? ITERS / 6 : 3 ))"; done

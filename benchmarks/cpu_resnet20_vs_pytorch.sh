#!/usr/bin/env bash
# CPU training-step throughput of ResNet-20 (1x28x28, batch 128, 2 threads) against PyTorch on the same
# workload, measured in one run. Prints both figures and the ratio (DeepTrain / PyTorch).
# Usage: benchmarks/cpu_resnet20_vs_pytorch.sh [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
PY=/usr/bin/python3
$PY -c "import torch" 2>/dev/null || { echo "error: PyTorch is needed for the reference (Debian: apt-get install python3-torch)" >&2; exit 1; }
dotnet build src/DeepTrain.Cli -c Release -v quiet -nologo >/dev/null
ours=$(src/DeepTrain.Cli/bin/Release/net10.0/deeptrain bench --model resnet20 --input 1x28x28 --batch-size 128 --threads 2 --steps "$STEPS" --warmup 3)
theirs=$(OMP_NUM_THREADS=2 $PY benchmarks/reference/resnet20_cpu_train_step.py --threads 2 --batch-size 128 --steps "$STEPS" --warmup 3)
echo "deeptrain: $ours"
echo "pytorch:   $theirs"
a=$(echo "$ours" | sed -E 's/.*: ([0-9.]+) images\/s.*/\1/')
b=$(echo "$theirs" | sed -E 's/.*: ([0-9.]+) images\/s.*/\1/')
echo "ratio (deeptrain / pytorch images/s): $(python3 -c "print(f'{$a / $b:.2f}')")"

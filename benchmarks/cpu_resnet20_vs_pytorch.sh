#!/usr/bin/env bash
# CPU training-step throughput of ResNet-20 (1x28x28, batch 128, 2 threads) against PyTorch on the same
# workload, in one run. The two alternate for ROUNDS rounds (a shared VM's speed drifts), each round
# timing STEPS steps after 3 warm-up steps; prints every figure, the median of each side and the ratio.
# Usage: benchmarks/cpu_resnet20_vs_pytorch.sh [steps=20] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
ROUNDS=${2:-3}
PY=/usr/bin/python3
$PY -c "import torch" 2>/dev/null || { echo "error: PyTorch is needed for the reference (Debian: apt-get install python3-torch)" >&2; exit 1; }
dotnet build src/DeepTrain.Cli -c Release -v quiet -nologo -clp:NoSummary >/dev/null
ours=() theirs=()
for r in $(seq "$ROUNDS"); do
  o=$(src/DeepTrain.Cli/bin/Release/net10.0/deeptrain bench --model resnet20 --input 1x28x28 --batch-size 128 --threads 2 --steps "$STEPS" --warmup 3)
  t=$(OMP_NUM_THREADS=2 $PY benchmarks/reference/resnet20_cpu_train_step.py --threads 2 --batch-size 128 --steps "$STEPS" --warmup 3)
  echo "round $r deeptrain: $o"
  echo "round $r pytorch:   $t"
  ours+=("$(echo "$o" | sed -E 's/.*: ([0-9.]+) images\/s.*/\1/')")
  theirs+=("$(echo "$t" | sed -E 's/.*: ([0-9.]+) images\/s.*/\1/')")
done
python3 - "${ours[*]}" "${theirs[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"median images/s: deeptrain {ma:.1f}, pytorch {mb:.1f}; ratio (deeptrain / pytorch) {ma / mb:.2f}")
PY

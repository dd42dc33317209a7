#!/usr/bin/env bash
# CPU training-step throughput of ResNet-20 (1x28x28, batch 128, 2 threads) against PyTorch at its best and as
# installed: cpu_train_vs_pytorch.sh's r20 configuration (see there for the sides and what each configures).
# Usage: benchmarks/cpu_resnet20_vs_pytorch.sh [steps=10] [rounds=7]
set -euo pipefail
cd "$(dirname "$0")"
STEPS_r20=${1:-10} CONFIGS=r20 exec ./cpu_train_vs_pytorch.sh "${2:-7}"

#!/usr/bin/env bash
# Data-parallel scaling on this machine (issue 12 item 6): `deeptrain train` as 1 process and as `mpirun -n 2` ranks,
# every rank on one CPU thread (--threads 1) with the same per-rank batch (weak scaling, as DDP is measured), the
# 2-rank runs once with each bucket's all-reduce overlapping backward and once after backward (--no-overlap).
# Prints, per round and as medians: training images/s (all ranks' images over rank 0's training seconds), the scaling
# efficiency (2-rank images/s over twice the 1-rank figure) and the fraction of rank 0's step time spent waiting for
# gradient all-reduces after backward (the CLI's 'communication:' line). The sides alternate within every round, so
# a neighbour's load falls on all of them alike; on a shared machine say so beside the figures.
# Usage: benchmarks/data_parallel_scaling.sh [rounds=2] [model=resnet20] [batch-per-rank=64]
#   TRAIN_BATCHES=N  train on the first N global batches only (default 24: short runs)
#   EXTRA="..."      more train options for every run
#   DEEPTRAIN=path   run that binary instead of building
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
MODEL=${2:-resnet20}
BATCH=${3:-64}
TRAIN_BATCHES=${TRAIN_BATCHES:-24}
# shellcheck source=train_run_env.sh
. benchmarks/train_run_env.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader \
  OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_oob_tcp_if_include=lo
command -v mpirun >/dev/null || { echo "error: mpirun not found: ./build.sh mpi-deps installs Open MPI" >&2; exit 1; }

# --overfit-batches N keeps the first N batches of BATCH images: one process takes N steps, each of 2 ranks N/2 steps of BATCH.
common=(train --model "$MODEL" --data fashion-mnist --epochs 1 --threads 1 --eval-batch-size 1000 --seed 1 --overwrite)
run() {   # run NAME RANKS [options]: prints "images/s wait-fraction"
  local name=$1 ranks=$2; shift 2
  local log="$work/$name.log"
  local cmd=("$DEEPTRAIN" "${common[@]}" --batch-size "$BATCH" --overfit-batches "$TRAIN_BATCHES" --out "$work/$name" "$@" "${EXTRA_ARR[@]}")
  if [[ $ranks -gt 1 ]]; then mpirun -n "$ranks" --oversubscribe --bind-to none "${cmd[@]}" >"$log" 2>&1
  else "${cmd[@]}" >"$log" 2>&1; fi || { echo "error: $name failed:" >&2; tail -20 "$log" >&2; exit 1; }
  local ips wait
  ips=$(grep -E '^ +1 +[0-9.]+ ' "$log" | tail -1 | awk '{print $NF}')
  wait=$(grep -oE '[0-9.]+% of its' "$log" | grep -oE '^[0-9.]+' || echo 0)
  echo "$ips $wait"
}
# shellcheck disable=SC2206
EXTRA_ARR=(${EXTRA:-})
declare -a one two twoNo waitO waitN
printf '%5s %12s %12s %14s %10s %12s %14s\n' round "1 rank img/s" "2 ranks img/s" "no-overlap img/s" efficiency "wait overlap" "wait no-overlap"
for ((r = 1; r <= ROUNDS; r++)); do
  # Alternate the order every round.
  if ((r % 2)); then order=(one two twoNo); else order=(twoNo two one); fi
  for side in "${order[@]}"; do
    case $side in
      one) read -r a _ < <(run "one-$r" 1) ;;
      two) read -r b wo < <(run "two-$r" 2) ;;
      twoNo) read -r c wn < <(run "twoNo-$r" 2 --no-overlap) ;;
    esac
  done
  one+=("$a"); two+=("$b"); twoNo+=("$c"); waitO+=("$wo"); waitN+=("$wn")
  printf '%5d %12s %12s %14s %10s %11s%% %13s%%\n' "$r" "$a" "$b" "$c" "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", b/(2*a)}')" "$wo" "$wn"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END{print (NR%2)? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
m1=$(median "${one[@]}") m2=$(median "${two[@]}") m3=$(median "${twoNo[@]}")
printf 'median: 1 rank %s img/s, 2 ranks %s img/s (efficiency %s), 2 ranks without overlap %s img/s (overlap/no-overlap %s); wait %s%% with overlap, %s%% without\n' \
  "$m1" "$m2" "$(awk -v a="$m1" -v b="$m2" 'BEGIN{printf "%.2f", b/(2*a)}')" "$m3" "$(awk -v a="$m3" -v b="$m2" 'BEGIN{printf "%.2f", b/a}')" \
  "$(median "${waitO[@]}")" "$(median "${waitN[@]}")"

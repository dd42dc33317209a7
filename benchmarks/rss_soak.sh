#!/usr/bin/env bash
# Steady memory across epochs (issue 13 items 5 and 9): runs `deeptrain train` for each model and prints the
# process's resident set (VmRSS) and its peak so far (VmHWM) from /proc/<pid>/status at every epoch boundary,
# i.e. as each epoch's row appears in metrics.jsonl (after that epoch's training, evaluation and checkpoint). The run is
# asked for one epoch more than it is sampled for, and stopped with SIGTERM after the last sample, so that the last
# epoch's row is not the process's exit.
# RSS may grow during epoch 1 (plans, arenas, the loaders' rings and the GC heap are touched for the first
# time, evaluation included); from epoch 2 on it should stay flat: a rise per epoch is a leak.
# Usage: benchmarks/rss_soak.sh [models=lenet5,resnet20] [epochs=3]
#   TRAIN_BATCHES=N  train on only the first N batches each epoch (--overfit-batches) to keep a slow model's
#                    epochs short; the evaluation still covers the whole test set
#   THREADS=T        CPU threads (default 2); DEEPTRAIN=path runs that binary instead of building
#   EXTRA="..."      more train options (e.g. "--eval-batch-size 128": a smaller evaluation plan, a smaller first step)
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${1:-lenet5,resnet20}
EPOCHS=${2:-3}
THREADS=${THREADS:-2}
# shellcheck source=train_run_env.sh
. benchmarks/train_run_env.sh

mib() { awk -v k="$1" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$2/status" 2>/dev/null; }
threads() { awk '$1 == "Threads:" { print $2 }' "/proc/$1/status" 2>/dev/null; }

for model in ${MODELS//,/ }; do
  out="$work/$model"
  "$DEEPTRAIN" train --model "$model" --epochs $((EPOCHS + 1)) --threads "$THREADS" --seed 1 --out "$out" --overwrite "${extra[@]}" \
    >"$work/$model.log" 2>&1 &
  pid=$!
  seen=0 first="" stopped=""
  echo "$model: ${EPOCHS} epochs, ${THREADS} threads${TRAIN_BATCHES:+, $TRAIN_BATCHES training batches per epoch} (pid $pid)"
  # The first sample after the first step (its "initial loss" line): data loaded, the training plan compiled and run.
  while kill -0 "$pid" 2>/dev/null; do
    rows=$( [[ -f "$out/metrics.jsonl" ]] && wc -l <"$out/metrics.jsonl" || echo 0)
    if [[ -z "$first" ]] && grep -q '^initial loss' "$work/$model.log"; then
      first=$(mib VmRSS "$pid"); echo "  step 1   VmRSS ${first:-?} MiB  VmHWM $(mib VmHWM "$pid") MiB  threads $(threads "$pid")"
    fi
    while (( rows > seen && seen < EPOCHS )); do
      seen=$((seen + 1))
      echo "  epoch $seen  VmRSS $(mib VmRSS "$pid") MiB  VmHWM $(mib VmHWM "$pid") MiB  threads $(threads "$pid")"
    done
    if (( seen == EPOCHS )) && [[ -z "$stopped" ]]; then kill -TERM "$pid" 2>/dev/null || true; stopped=1; fi
    sleep 0.05
  done
  rc=0; wait "$pid" || rc=$?
  if (( seen < EPOCHS )); then echo "  deeptrain exited with $rc:"; tail -5 "$work/$model.log" | sed 's/^/    /'; fi
done

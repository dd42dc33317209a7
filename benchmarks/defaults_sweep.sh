#!/usr/bin/env bash
# Do the built-in models train with their defaults? (issue 13 item 4) One epoch of Fashion-MNIST per cell with no
# --lr or --schedule, so each model's own (ModelInfo.Training, `deeptrain models`) applies, for every model × seed ×
# thread count; prints the final training loss and test accuracy of each cell, or DIVERGED when the loss became
# NaN/∞, and a count at the end. Exit status 1 if any cell diverged or failed.
# Usage: benchmarks/defaults_sweep.sh [models=all] [seeds=1,2,3,4,5] [threads=1,2]
#   models           comma-separated names; "all" (the default) is every model `deeptrain models` lists. The full
#                    sweep is CPU-heavy: the ImageNet ResNets and ResNet-1202 take hours an epoch on 2 cores.
#   SHORT=1          the short mode, minutes per model: seeds 1 and 3, 1 thread, the first 50 batches of the epoch
#                    (TRAIN_BATCHES, unless set). Seed 3 and 1 thread are the cells where LeNet-5's old rate (0.1)
#                    went to NaN, and a schedule over 50 steps warms up faster than a full epoch's, so a default that
#                    diverges tends to show here first. Positional seeds/threads still override it.
#   TRAIN_BATCHES=N  train on only the first N batches (--overfit-batches; the schedule then spans N steps, which
#                    makes the warm-up steeper than a full epoch's: a harder test, not an easier one)
#   EXTRA="..."      more train options for every cell (e.g. "--lr 0.1" to see the old LeNet-5 rate diverge)
#   DEEPTRAIN=path   run that binary instead of building
set -euo pipefail
cd "$(dirname "$0")/.."
MODELS=${1:-all}
if [[ "${SHORT:-0}" == 1 ]]; then
  SEEDS=${2:-1,3}
  THREADS=${3:-1}
  TRAIN_BATCHES=${TRAIN_BATCHES:-50}
else
  SEEDS=${2:-1,2,3,4,5}
  THREADS=${3:-1,2}
fi
# shellcheck source=train_run_env.sh
. benchmarks/train_run_env.sh
if [[ "$MODELS" == all ]]; then
  MODELS=$("$DEEPTRAIN" models | awk 'NR > 1 && NF == 0 { exit } NR > 1 { printf "%s%s", sep, $1; sep = "," }')
fi

cells=0 bad=0
printf '%-12s %4s %7s  %-9s %10s %8s  %s\n' model seed threads result "train loss" "test acc" "lr / schedule"
for model in ${MODELS//,/ }; do
  for seed in ${SEEDS//,/ }; do
    for t in ${THREADS//,/ }; do
      cells=$((cells + 1))
      log="$work/$model-$seed-$t.log"
      rc=0
      "$DEEPTRAIN" train --model "$model" --data fashion-mnist --epochs 1 --seed "$seed" --threads "$t" \
        --out "$work/run" --overwrite "${extra[@]}" >"$log" 2>&1 || rc=$?
      sched=$(grep -oE 'one-cycle max_lr=[^ ]+|(multistep|cosine|cosine-restarts|step|exponential|constant)[^|]*' "$log" | head -1 || true)
      row=$(grep -E '^ +1 +[0-9.naNinf-]+ ' "$log" | tail -1 || true)
      if (( rc == 0 )) && [[ -n "$row" ]]; then
        read -r _ loss acc _ tacc _ <<<"$row"
        if [[ "$loss" =~ ^[0-9.]+$ ]]; then result=ok; else result=DIVERGED; bad=$((bad + 1)); fi
        printf '%-12s %4s %7s  %-9s %10s %8s  %s\n' "$model" "$seed" "$t" "$result" "$loss" "$tacc" "$sched"
      elif grep -qE 'is (NaN|∞|-∞|infinite)|non-finite|NaN' "$log"; then
        bad=$((bad + 1))
        printf '%-12s %4s %7s  %-9s %10s %8s  %s  (%s)\n' "$model" "$seed" "$t" DIVERGED - - "$sched" "$(grep -m1 -oE 'epoch [0-9]+, batch [0-9]+' "$log")"
      else
        bad=$((bad + 1))
        printf '%-12s %4s %7s  %-9s  exit %s: %s\n' "$model" "$seed" "$t" FAILED "$rc" "$(grep -m1 '^error' "$log" || tail -1 "$log")"
      fi
    done
  done
done
echo "$cells cells, $((cells - bad)) trained, $bad diverged or failed${TRAIN_BATCHES:+ (first $TRAIN_BATCHES batches of each epoch)}"
(( bad == 0 ))

#!/usr/bin/env bash
# CPU training-step throughput, DeepTrain against PyTorch configured at its best on this machine and as installed.
# Per configuration (CONFIGS: r20 = ResNet-20 1x28x28 b128, r56 = ResNet-56 3x32x32 b128, r50 = ResNet-50 3x224x224
# b16) four sides run as separate processes, their order rotating every round, for ROUNDS rounds:
#   deeptrain          `deeptrain bench` (forward, cross-entropy, backward, SGD momentum; synthetic batch)
#   pytorch-installed  Debian's python3-torch as it comes (libtorch's BLAS through libblas.so.3: the netlib reference
#                      BLAS unless an alternative is installed; glibc malloc at its defaults)
#   pytorch-tuned      the same torch with OpenBLAS (Debian's libopenblas0-openmp, unpacked with apt-get download +
#                      dpkg -x into SCRATCH and put first on LD_LIBRARY_PATH) and an allocator that keeps freed memory:
#                      TUNED_MALLOC=env (MALLOC_TRIM_THRESHOLD_=1 GiB, MALLOC_MMAP_THRESHOLD_=32 MiB) or jemalloc
#                      (Debian's libjemalloc2, unpacked the same way, LD_PRELOAD); OMP_WAIT_POLICY=TUNED_OMP_WAIT
#                      (PASSIVE by default: on this shared 2-core VM, spinning OpenMP workers lost 3-5x to a busy
#                      neighbour in a 4-step probe, 57-110 against 253-308 images/s for ResNet-20; ACTIVE may win on
#                      an idle machine)
#   pytorch-tuned-jit  pytorch-tuned with the model as torch.jit.trace
# Every side prints its configuration; the PyTorch sides print the BLAS/OpenMP/allocator libraries the process really
# mapped (/proc/self/maps). Each round prints every side's images/s and the ratios deeptrain / side and deeptrain /
# best tuned PyTorch (the faster of eager and jit in that round); the end prints the medians. THREADS on every side.
# Usage: benchmarks/cpu_train_vs_pytorch.sh [rounds=7]    (CONFIGS="r20 r56 r50", THREADS=2, TUNED_MALLOC=env,
#        TUNED_OMP_WAIT=PASSIVE, SIDES="deeptrain pytorch-installed pytorch-tuned pytorch-tuned-jit", SCRATCH=/tmp/deeptrain-bench-deps;
#        STEPS_r20=10 WARMUP_r20=3 and likewise for r56 and r50 override a configuration's step counts)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-7}
CONFIGS=${CONFIGS:-r20 r56 r50}
THREADS=${THREADS:-2}
TUNED_MALLOC=${TUNED_MALLOC:-env}
TUNED_OMP_WAIT=${TUNED_OMP_WAIT:-PASSIVE}
SIDES=${SIDES:-deeptrain pytorch-installed pytorch-tuned pytorch-tuned-jit}
SCRATCH=${SCRATCH:-/tmp/deeptrain-bench-deps}
PY=/usr/bin/python3
ARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

# --- what the references need: torch (installed with apt when missing), OpenBLAS and jemalloc unpacked, not installed.
if ! $PY -c "import torch" 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-torch >&2
  else echo "error: PyTorch is needed for the reference (Debian: apt-get install python3-torch)" >&2; exit 1; fi
fi
unpack() {   # unpack <package>: apt-get download + dpkg -x into $SCRATCH/<package> (no installation, no root needed)
  local dir="$SCRATCH/$1"
  [ -f "$dir/.done" ] && return 0
  mkdir -p "$dir"
  (cd "$SCRATCH" && rm -f "$1"_*.deb && apt-get download "$1" >/dev/null && dpkg -x "$1"_*.deb "$1") || {
    echo "error: could not download or unpack the Debian package $1 (apt-get download $1)" >&2; exit 1; }
  touch "$dir/.done"
}
unpack libopenblas0-openmp
OPENBLAS_DIR="$SCRATCH/libopenblas0-openmp/usr/lib/$ARCH/openblas-openmp"
[ -f "$OPENBLAS_DIR/libblas.so.3" ] || { echo "error: $OPENBLAS_DIR/libblas.so.3 missing after unpacking libopenblas0-openmp" >&2; exit 1; }
# libopenblas0-openmp's own dependencies (libgomp1, libgfortran5) are unpacked beside it when not installed.
EXTRA_LIBS=""
for dep in libgomp1 libgfortran5; do
  if ! dpkg -s "$dep" >/dev/null 2>&1; then unpack "$dep"; EXTRA_LIBS="$EXTRA_LIBS:$SCRATCH/$dep/usr/lib/$ARCH"; fi
done
TUNED_ENV=(LD_LIBRARY_PATH="$OPENBLAS_DIR$EXTRA_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OMP_NUM_THREADS="$THREADS" OMP_WAIT_POLICY="$TUNED_OMP_WAIT")
case "$TUNED_MALLOC" in
  env) TUNED_ENV+=(MALLOC_TRIM_THRESHOLD_=1073741824 MALLOC_MMAP_THRESHOLD_=33554432) ;;
  jemalloc) unpack libjemalloc2; TUNED_ENV+=(LD_PRELOAD="$SCRATCH/libjemalloc2/usr/lib/$ARCH/libjemalloc.so.2") ;;
  *) echo "error: TUNED_MALLOC must be env or jemalloc, got '$TUNED_MALLOC'" >&2; exit 1 ;;
esac

dotnet build src/DeepTrain.Cli -c Release -v quiet -nologo -clp:NoSummary >/dev/null
DT=src/DeepTrain.Cli/bin/Release/net10.0/deeptrain
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "config deeptrain: $($DT --version 2>/dev/null | head -1 || echo deeptrain), .NET $(dotnet --version), CpuBackend.Threads $THREADS, fp32 NCHW, SGD momentum 0.9"
echo "config pytorch-tuned environment: ${TUNED_ENV[*]}"

config() {   # config <name>: model input batch classes steps warmup
  case "$1" in
    r20) echo "resnet20 1x28x28 128 10 ${STEPS_r20:-10} ${WARMUP_r20:-3}" ;;
    r56) echo "resnet56 3x32x32 128 10 ${STEPS_r56:-4} ${WARMUP_r56:-2}" ;;
    r50) echo "resnet50 3x224x224 16 1000 ${STEPS_r50:-2} ${WARMUP_r50:-1}" ;;
    *) echo "error: unknown configuration '$1' (r20, r56, r50)" >&2; exit 1 ;;
  esac
}
side() {   # side <name> <model> <input> <batch> <classes> <steps> <warmup>: prints the side's output
  local s=$1; shift
  local py=(benchmarks/reference/cpu_train_step.py --model "$1" --input "$2" --batch-size "$3" --classes "$4" --steps "$5" --warmup "$6" --threads "$THREADS" --label "$s")
  case "$s" in
    deeptrain) "$DT" bench --model "$1" --input "$2" --batch-size "$3" --classes "$4" --steps "$5" --warmup "$6" --threads "$THREADS" ;;
    pytorch-installed) OMP_NUM_THREADS="$THREADS" $PY "${py[@]}" ;;
    pytorch-tuned) env "${TUNED_ENV[@]}" $PY "${py[@]}" ;;
    pytorch-tuned-jit) env "${TUNED_ENV[@]}" $PY "${py[@]}" --jit ;;
    *) echo "error: unknown side '$s'" >&2; exit 1 ;;
  esac
}

read -ra sides <<< "$SIDES"
for c in $CONFIGS; do
  read -r model input batch classes steps warmup <<< "$(config "$c")"
  echo
  echo "== $c: $model $input batch $batch, $steps timed steps after $warmup warm-up, $ROUNDS rounds, $THREADS threads"
  results="$SCRATCH/results-$c.txt"; : > "$results"
  for r in $(seq "$ROUNDS"); do
    n=${#sides[@]}
    for i in $(seq 0 $((n - 1))); do
      s=${sides[$(( (i + r - 1) % n ))]}
      out=$(side "$s" "$model" "$input" "$batch" "$classes" "$steps" "$warmup")
      [ "$r" = 1 ] && echo "$out" | grep '^config' || true
      line=$(echo "$out" | grep 'images/s' | tail -1)
      echo "round $r $s: $line"
      echo "$r $s $(echo "$line" | sed -E 's/.*: ([0-9.]+) images\/s.*/\1/')" >> "$results"
    done
  done
  $PY - "$results" "$c" <<'PY'
import collections, statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(dict)
for r, side, v in rows: by[int(r)][side] = float(v)
def best(d): return max((d[s] for s in ("pytorch-tuned", "pytorch-tuned-jit") if s in d), default=None)
others = [s for s in dict.fromkeys(s for _, s, _ in rows) if s != "deeptrain"]
ratios = collections.defaultdict(list)
for r in sorted(by):
    d = by[r]
    if "deeptrain" not in d: continue
    parts = [f"/{s} {d['deeptrain'] / d[s]:.2f}" for s in others if s in d]
    b = best(d)
    if b: ratios["best tuned"].append(d["deeptrain"] / b); parts.append(f"/best-tuned {d['deeptrain'] / b:.2f}")
    for s in others:
        if s in d: ratios[s].append(d["deeptrain"] / d[s])
    print(f"round {r} ratios deeptrain" + ", ".join(parts))
meds = {s: statistics.median(by[r][s] for r in by if s in by[r]) for s in ["deeptrain"] + others}
print(f"{sys.argv[2]} median images/s: " + ", ".join(f"{s} {v:.1f}" for s, v in meds.items()))
print(f"{sys.argv[2]} median of per-round ratios (deeptrain / side): " + ", ".join(f"{s} {statistics.median(v):.2f} (range {min(v):.2f}-{max(v):.2f})" for s, v in ratios.items()))
PY
done

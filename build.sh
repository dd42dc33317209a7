#!/usr/bin/env bash
# DeepTrain build script. Targets: build, test, train, bench, native, pack, bundle, device-pack, clean, help.
# build.ps1 mirrors the same dotnet and cmake calls for Windows users.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
CONFIG=${CONFIG:-Release}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_dotnet() {
  command -v dotnet >/dev/null 2>&1 || { echo "error: the .NET 10 SDK is required (https://dot.net); 'dotnet' is not on PATH" >&2; exit 1; }
}

# The kernel library needs nvcc; without it the engine runs on the CPU backend alone.
build_native() {
  local nvcc
  nvcc=$(command -v nvcc || true)
  [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
  if [ -z "$nvcc" ]; then log "nvcc not found: skipping native/ (the CPU backend needs no native code)"; return 0; fi
  command -v cmake >/dev/null 2>&1 || { log "cmake not found: skipping native/"; return 0; }
  local hostcxx=""
  # Debian's CUDA 11.8 nvcc rejects gcc 12; clang 14 is what it accepts.
  if "$nvcc" --version | grep -q "release 11\." && command -v clang++-14 >/dev/null 2>&1; then hostcxx="-DCMAKE_CUDA_HOST_COMPILER=clang++-14"; fi
  log "native: cmake + $nvcc"
  cmake -S native -B native/build -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" $hostcxx >/dev/null
  cmake --build native/build -j"$(nproc)"
}

build() {
  need_dotnet
  log "dotnet build ($CONFIG)"
  dotnet build DeepTrain.sln -c "$CONFIG" -v quiet -nologo -clp:NoSummary
  build_native
}

# The NuGet packages: DeepTrain.Interop, DeepTrain (with runtimes/linux-x64/native/libdeeptrain_kernels.so when nvcc built
# it), DeepTrain.Hosting (dependency injection for inference), DeepTrain.Onnx (ONNX export)
# and the deeptrain command as a .NET tool (DeepTrain.Cli), each with its .snupkg, in $PACKAGE_OUT (artifacts/packages).
# Version 0.1.0-dev from Directory.Build.props; RELEASE=1 drops the suffix.
pack() {
  need_dotnet
  build_native
  local out=${PACKAGE_OUT:-$ROOT/artifacts/packages} p
  local version_args=()
  [ "${RELEASE:-}" = 1 ] && version_args=(-p:VersionSuffix=)
  rm -rf "$out"; mkdir -p "$out" || return 1
  for p in interop/DeepTrain.Interop src/DeepTrain src/DeepTrain.Hosting src/DeepTrain.Onnx src/DeepTrain.Cli; do
    log "dotnet pack $p ($CONFIG)"
    dotnet pack "$p" -c "$CONFIG" -o "$out" "${version_args[@]}" -v quiet -nologo -clp:NoSummary || { rm -rf "$out"; return 1; }
  done
  ls -l "$out" >&2
}

# Installs Debian's Fashion-MNIST package when the data is missing and we may (root on Debian).
ensure_fashion_mnist() {
  local dir=/usr/share/datasets/fashion-mnist
  [ -n "${DEEPTRAIN_DATA:-}" ] && [ -f "$DEEPTRAIN_DATA/fashion-mnist/train-images-idx3-ubyte.gz" ] && return 0
  [ -f "$dir/train-images-idx3-ubyte.gz" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's dataset-fashion-mnist"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null; }
  else
    cat >&2 <<MSG
error: Fashion-MNIST not found in $dir.
  On Debian: sudo apt-get install dataset-fashion-mnist
  Or download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
  t10k-labels-idx1-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist into
  \$DEEPTRAIN_DATA/fashion-mnist/ and set DEEPTRAIN_DATA.
MSG
    exit 1
  fi
}

# The MPI bindings' conformance and 2-rank tests need Open MPI's mpirun, mpicc and mpi.h (Debian: openmpi-bin,
# libopenmpi-dev). Install them when missing and we may (root with apt-get); otherwise those tests skip saying why.
ensure_openmpi() {
  command -v mpirun >/dev/null 2>&1 && command -v mpicc >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "Open MPI (mpirun, mpicc) missing and apt-get unavailable (or not root): the MPI tests will skip"
    return 0
  fi
  log "installing Debian's openmpi-bin and libopenmpi-dev (for the MPI binding tests)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openmpi-bin libopenmpi-dev >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openmpi-bin libopenmpi-dev >/dev/null; } \
    || log "installing Open MPI failed: the MPI tests will skip"
}

test() {
  need_dotnet
  # Four test projects: the engine's, the bindings' conformance (tests/DeepTrain.Interop.Tests), the example service over HTTP
  # (tests/DeepTrain.Serving.Tests: inference session, dependency injection), and the NuGet packages
  # as a user meets them (tests/DeepTrain.Package.Tests, on the packages this target packs first into artifacts/packages).
  local projects=(DeepTrain.Tests DeepTrain.Interop.Tests DeepTrain.Serving.Tests DeepTrain.Package.Tests)
  local p
  log "dotnet build tests ($CONFIG)"
  for p in "${projects[@]}"; do
    dotnet build "tests/$p" -c "$CONFIG" -v quiet -nologo -clp:NoSummary
  done
  ensure_openmpi
  build_native   # CI installs Debian's CUDA toolkit (.ci/run), so the kernel library always compiles there
  # A failed pack leaves no packages: the package tests then fail saying so, and the other suites still run.
  PACKAGE_OUT="$ROOT/artifacts/packages" pack || log "pack failed: the package tests will fail"
  export DEEPTRAIN_PACKAGES="$ROOT/artifacts/packages"
  local results="$ROOT/artifacts/test-results"
  rm -rf "$results"; mkdir -p "$results"
  local rc=0 one
  set +e
  for p in "${projects[@]}"; do
    log "running $p"
    # xunit v3's own runner (each test project is an executable); extra args are its filters, e.g. -class '*Conv*'.
    "tests/$p/bin/$CONFIG/net10.0/$p" -noColor -trx "$results/$p.trx" "$@"
    one=$?
    [ "$one" -ne 0 ] && rc=$one
  done
  set -e
  # The closing line CI reads: counts summed over every TRX report (one summariser for every script: bundle/trx_summary.py).
  local reports=()
  for p in "${projects[@]}"; do reports+=("$results/$p.trx"); done
  python3 bundle/trx_summary.py "${reports[@]}" || true
  return $rc
}

train() {
  need_dotnet
  ensure_fashion_mnist
  dotnet build src/DeepTrain.Cli -c Release -v quiet -nologo -clp:NoSummary
  local out="runs/resnet20-fashion-mnist"
  log "training ResNet-20 on Fashion-MNIST (CPU); results in $out"
  "src/DeepTrain.Cli/bin/Release/net10.0/deeptrain" train --model resnet20 --data fashion-mnist \
    --epochs "${EPOCHS:-4}" --batch-size 128 --lr 0.2 --schedule one-cycle --augment \
    --device cpu --seed 1 --out "$out" --overwrite "$@"
}

bench() {
  need_dotnet
  dotnet build benchmarks/DeepTrain.Benchmarks -c Release -v quiet -nologo -clp:NoSummary
  "benchmarks/DeepTrain.Benchmarks/bin/Release/net10.0/DeepTrain.Benchmarks" "$@"
}

# One archive that runs the test suites, the benchmarks and the CLI on an x64 Linux without the .NET SDK
# (a GPU machine): framework-dependent publishes under apps/, ONE copy of the shared runtime and hostfxr
# under dotnet/ (the launchers set DOTNET_ROOT to it), and libdeeptrain_kernels.so when nvcc built it.
# Scripts and notes come from bundle/. Builds into artifacts/ alone (its own obj/bin), not the projects' bin/.
bundle() {
  need_dotnet
  local stage="$ROOT/artifacts/bundle" name=deeptrain-bundle
  local out="$ROOT/artifacts/bundle/deeptrain-bundle" objs="$ROOT/artifacts/bundle-build" archive="$ROOT/artifacts/deeptrain-bundle.tar.xz"
  local apps=(src/DeepTrain.Cli tests/DeepTrain.Tests tests/DeepTrain.Interop.Tests benchmarks/DeepTrain.Benchmarks benchmarks/InferenceBench)
  rm -rf "$stage" "$archive"; mkdir -p "$out/apps"
  local a
  for a in "${apps[@]}"; do
    log "dotnet publish $a (Release, linux-x64, framework-dependent)"
    dotnet publish "$a" -c Release -r linux-x64 --no-self-contained --artifacts-path "$objs" -o "$out/apps/$(basename "$a")" \
      -p:SatelliteResourceLanguages=en -v quiet -nologo -clp:NoSummary
  done

  # The runtime the apps roll forward to: the newest 10.x Microsoft.NETCore.App beside this SDK, and its hostfxr.
  local dotnet_home ver fxr
  dotnet_home=$(dirname "$(readlink -f "$(command -v dotnet)")")
  ver=$(ls "$dotnet_home/shared/Microsoft.NETCore.App" | grep -E '^10\.' | sort -V | tail -1 || true)
  fxr=$(ls "$dotnet_home/host/fxr" | sort -V | tail -1)
  [ -n "$ver" ] && [ -n "$fxr" ] || { echo "error: no .NET 10 runtime or hostfxr under $dotnet_home" >&2; exit 1; }
  log "runtime: Microsoft.NETCore.App $ver, hostfxr $fxr (from $dotnet_home)"
  mkdir -p "$out/dotnet/shared/Microsoft.NETCore.App" "$out/dotnet/host/fxr"
  cp -a "$dotnet_home/shared/Microsoft.NETCore.App/$ver" "$out/dotnet/shared/Microsoft.NETCore.App/"
  cp -a "$dotnet_home/host/fxr/$fxr" "$out/dotnet/host/fxr/"
  cp "$dotnet_home/LICENSE.txt" "$dotnet_home/ThirdPartyNotices.txt" "$out/dotnet/" 2>/dev/null || true

  build_native
  if [ -f native/build/libdeeptrain_kernels.so ]; then
    mkdir -p "$out/lib"; cp native/build/libdeeptrain_kernels.so "$out/lib/"
  else
    log "native/build/libdeeptrain_kernels.so not built: the bundle has no kernel library"
  fi

  cp bundle/device-check.sh bundle/trx_summary.py bundle/deeptrain bundle/env.sh bundle/README.txt "$out/"
  chmod +x "$out/device-check.sh" "$out/deeptrain"
  # The GPU comparison with PyTorch (device-check.sh runs it): the script and the PyTorch references it calls.
  mkdir -p "$out/benchmarks/reference"
  cp benchmarks/gpu_vs_pytorch.sh "$out/benchmarks/"
  cp benchmarks/reference/cifar_resnet.py benchmarks/reference/pytorch_gpu_train.py benchmarks/reference/pytorch_fused_adamw.py \
    "$out/benchmarks/reference/"
  chmod +x "$out/benchmarks/gpu_vs_pytorch.sh"
  local commit dirty=""
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD 2>/dev/null || dirty=" (with uncommitted changes)"
  {
    echo "commit $commit$dirty"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
    echo "runtime Microsoft.NETCore.App $ver, hostfxr $fxr"
    if [ -d "$out/lib" ]; then echo "kernels lib/libdeeptrain_kernels.so"; else echo "kernels none"; fi
  } >"$out/BUNDLE-INFO"

  # The apps share many identical files (DeepTrain.dll, xunit, ...): hard-link them so tar stores each once.
  local f sum first
  declare -A firsts=()
  while IFS= read -r f; do
    sum=$(sha256sum "$f" | cut -d' ' -f1)
    first=${firsts[$sum]:-}
    if [ -n "$first" ]; then ln -f "$first" "$f"; else firsts[$sum]=$f; fi
  done < <(find "$out/apps" -type f | sort)

  log "writing $archive (xz -9)"
  tar -C "$stage" --owner=0 --group=0 --numeric-owner --sort=name -cf - "$name" | xz -9 -T1 >"$archive"
  local bytes
  bytes=$(stat -c %s "$archive")
  printf '%s: %s bytes (%s MiB); unpacked %s\n' "${archive#"$ROOT"/}" "$bytes" \
    "$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }')" "$(du -sh "$out" | cut -f1)"
  [ "$bytes" -le $((64 * 1024 * 1024)) ] || log "warning: over 64 MiB, the device tool cannot carry it"
}

# What one device-tool run carries for bundle/device-check.sh (README, "Checking a GPU in one run"): the bundle and
# a deterministic Fashion-MNIST subset in artifacts/device-pack/, checked against the tool's 64 MiB per call
# together with the files the tool copies anyway (git's tracked and untracked-but-not-ignored files).
DEVICE_CARRY_LIMIT=$((64 * 1024 * 1024))
device_pack() {
  bundle
  ensure_fashion_mnist
  local pack="$ROOT/artifacts/device-pack" src=/usr/share/datasets/fashion-mnist
  [ -n "${DEEPTRAIN_DATA:-}" ] && [ -f "$DEEPTRAIN_DATA/fashion-mnist/train-images-idx3-ubyte.gz" ] && src=$DEEPTRAIN_DATA/fashion-mnist
  rm -rf "$pack"; mkdir -p "$pack/datasets"
  mv "$ROOT/artifacts/deeptrain-bundle.tar.xz" "$pack/"
  python3 bundle/fashion_mnist_subset.py "$src" "$pack/datasets/fashion-mnist"
  local tree packed
  tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s -- 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
  packed=$(du -sb "$pack" | cut -f1)
  printf 'device pack: %s (%s bytes: bundle %s, data %s) + working tree %s bytes = %s of %s bytes the device tool carries\n' \
    "${pack#"$ROOT"/}" "$packed" "$(stat -c %s "$pack/deeptrain-bundle.tar.xz")" "$(du -sb "$pack/datasets" | cut -f1)" \
    "$tree" "$((packed + tree))" "$DEVICE_CARRY_LIMIT"
  if [ $((packed + tree)) -gt "$DEVICE_CARRY_LIMIT" ]; then
    echo "error: the device pack and the working tree exceed the device tool's 64 MiB per call" >&2
    exit 1
  fi
}

# The tracked public surfaces (TrackPublicApi): after a deliberate change to a library's public types or members, bring
# each PublicAPI.Unshipped.txt up to date from the analyzer's own findings (RS0016: a public symbol not listed, added with
# the exact text the analyzer prints; RS0017: a listed symbol that is gone, removed). Review the diff before committing.
public_api() {
  need_dotnet
  local log=artifacts/public-api-build.log
  mkdir -p artifacts
  dotnet build DeepTrain.sln -c "$CONFIG" -v quiet -nologo -p:TreatWarningsAsErrors=false -clp:NoSummary > "$log" 2>&1 || true
  python3 - "$log" <<'PY'
import re, sys, os
found = {}
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"(?:warning|error) (RS001[67]): Symbol '(.*?)' is (?:not part of the declared|part of the declared).*\[(.*?\.csproj)\]", line)
    if m: found.setdefault(os.path.dirname(m.group(3)), {"RS0016": set(), "RS0017": set()})[m.group(1)].add(m.group(2))
for folder, d in sorted(found.items()):
    path = os.path.join(folder, "PublicAPI.Unshipped.txt")
    lines = open(path, encoding="utf-8").read().split("\n")
    head = [l for l in lines if l.startswith("#")]
    body = {l for l in lines if l.strip() and not l.startswith("#")}
    body = (body - d["RS0017"]) | d["RS0016"]
    open(path, "w", encoding="utf-8").write("\n".join(head + sorted(body, key=lambda l: re.sub(r"^(const|static|override|abstract|virtual|readonly) ", "", l))) + "\n")
    print(f"{path}: +{len(d['RS0016'])} -{len(d['RS0017'])}")
PY
  git --no-pager diff --stat -- '*PublicAPI.*.txt' || true
}

clean() { rm -rf artifacts native/build; dotnet clean DeepTrain.sln -v quiet >/dev/null || true; }

usage() {
  cat <<USAGE
usage: ./build.sh <target> [args]
  build    build the solution (and native/ where nvcc exists)
  test     run the test suite; last line: "N passed, N failed, N skipped"
  train    the main job: ResNet-20 on Fashion-MNIST on this machine's CPU (extra args go to 'deeptrain train')
  bench    run benchmarks (args go to BenchmarkDotNet's switcher, e.g. --filter '*Conv*'; 'e2e' for end-to-end)
  native   build only the CUDA kernel library
  pack     NuGet packages in artifacts/packages/: DeepTrain.Interop, DeepTrain (with the kernel library when nvcc
           built it) and the deeptrain tool (dotnet tool install -g DeepTrain.Cli --add-source artifacts/packages
           --prerelease); RELEASE=1 drops the version's -dev suffix
  public-api  add new public symbols to each library's PublicAPI.Unshipped.txt (review the diff)
  mpi-deps install Open MPI (openmpi-bin, libopenmpi-dev) when missing, as test does
  bundle   artifacts/deeptrain-bundle.tar.xz: the tests, benchmarks and CLI with a private .NET runtime for a
           Linux x64 GPU machine without the SDK (unpack, then ./device-check.sh RESULTS_DIR)
  device-pack  the bundle and a Fashion-MNIST subset in artifacts/device-pack/, all that bundle/device-check.sh
           needs on a GPU machine (README, "Checking a GPU in one run"); fails if it cannot travel in one call
  clean    remove build outputs
USAGE
}

target=${1:-help}
shift || true
case "$target" in
  build) build ;;
  test) test "$@" ;;
  train) train "$@" ;;
  bench) bench "$@" ;;
  native) build_native ;;
  pack) pack ;;
  public-api) public_api ;;
  mpi-deps) ensure_openmpi ;;
  bundle) bundle ;;
  device-pack) device_pack ;;
  clean) clean ;;
  help|-h|--help) usage ;;
  *) echo "error: unknown target '$target'" >&2; usage >&2; exit 2 ;;
esac

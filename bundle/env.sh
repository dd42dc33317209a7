# Sourced by the bundle's scripts (deeptrain, device-check.sh): the private .NET runtime, the kernel
# library, and where the CUDA libraries are. Needs BUNDLE set to the bundle's root folder.

# The apps are framework-dependent; their apphost finds the runtime through DOTNET_ROOT. The
# architecture-specific variable wins over DOTNET_ROOT, so it is set too: a system .NET is never used.
export DOTNET_ROOT="$BUNDLE/dotnet"
export DOTNET_ROOT_X64="$BUNDLE/dotnet"
unset DOTNET_ROLL_FORWARD DOTNET_ROLL_FORWARD_TO_PRERELEASE
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_gcServer=0
# BenchmarkDotNet and xunit write temporary files; keep them out of a read-only bundle.
export TMPDIR="${TMPDIR:-/tmp}"

# native/build/libdeeptrain_kernels.so, when the bundle was built where nvcc exists.
if [ -d "$BUNDLE/lib" ]; then
  export LD_LIBRARY_PATH="$BUNDLE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# The bindings' resolver (interop/DeepTrain.Interop/NativeLibraryResolver.cs, CudaLibrarySelection.cs) loads
# the CUDA runtime, cuBLAS(Lt), NVRTC and cuDNN as one CUDA major's set, searching in order
# DEEPTRAIN_CUDA_LIB_DIR (which also pins the major), the system loader (asked for that major's names),
# CUDA_PATH/CUDA_HOME/usr/local/cuda, and NVIDIA's pip wheels (nvidia/cuda_runtime/lib, nvidia/cublas/lib,
# nvidia/cuda_nvrtc/lib, nvidia/cudnn/lib, nvidia/cu13/lib) under the site-packages folders named by
# DEEPTRAIN_PYTHON_SITE first. A mixed set is refused unless DEEPTRAIN_CUDA_ALLOW_MIXED=1. PyTorch's pip
# install brings those wheels: name its site-packages folders. A value the caller set is kept in front.
if [ -z "${DEEPTRAIN_SKIP_PYTHON_SITE:-}" ]; then
  _dt_py=$(command -v python3 || true)
  if [ -n "$_dt_py" ]; then
    _dt_sites=$("$_dt_py" - 2>/dev/null <<'PY'
import os, site
dirs = []
try: dirs += site.getsitepackages()
except Exception: pass
try: dirs.append(site.getusersitepackages())
except Exception: pass
print(os.pathsep.join(d for d in dirs if os.path.isdir(os.path.join(d, "nvidia"))))
PY
)
    if [ -n "$_dt_sites" ]; then
      export DEEPTRAIN_PYTHON_SITE="${DEEPTRAIN_PYTHON_SITE:+$DEEPTRAIN_PYTHON_SITE:}$_dt_sites"
    fi
  fi
  unset _dt_py _dt_sites
fi

// native/src/version.cu — the ABI version, the runtime the library was linked with, and its current device.
#include <cuda_runtime.h>
#include "deeptrain_kernels.h"

DT_EXPORT int32_t dt_abi_version(void) { return DT_KERNELS_ABI_VERSION; }

DT_EXPORT int32_t dt_cuda_runtime_version(void) {
    int v = 0;
    return cudaRuntimeGetVersion(&v) == cudaSuccess ? (int32_t)v : 0;
}

DT_EXPORT int32_t dt_set_device(int32_t device) { return (int32_t)cudaSetDevice((int)device); }

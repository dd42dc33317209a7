// native/src/version.cu — the ABI version and the runtime the library was linked with.
#include <cuda_runtime.h>
#include "deeptrain_kernels.h"

DT_EXPORT int32_t dt_abi_version(void) { return DT_KERNELS_ABI_VERSION; }

DT_EXPORT int32_t dt_cuda_runtime_version(void) {
    int v = 0;
    return cudaRuntimeGetVersion(&v) == cudaSuccess ? (int32_t)v : 0;
}

/* DeepTrain kernel library: the whole C ABI.
 * Every export takes device pointers, 64-bit counts, scalars and a cudaStream_t, returns the
 * cudaError_t of its launch as int32_t, and never prints, exits or synchronises. */
#ifndef DEEPTRAIN_KERNELS_H
#define DEEPTRAIN_KERNELS_H
#include <stdint.h>

#if defined(_WIN32)
#  define DT_EXPORT_ATTR __declspec(dllexport)
#else
#  define DT_EXPORT_ATTR __attribute__((visibility("default")))
#endif
#ifdef __cplusplus
#  define DT_EXPORT extern "C" DT_EXPORT_ATTR
#else
#  define DT_EXPORT DT_EXPORT_ATTR
#endif

/* ABI version: bumped whenever an export's signature or meaning changes. */
#define DT_KERNELS_ABI_VERSION 1

/* Returns DT_KERNELS_ABI_VERSION, so the bindings can refuse a mismatched library. */
DT_EXPORT int32_t dt_abi_version(void);

/* Returns the CUDA runtime version the library was built against (e.g. 11080), or 0. */
DT_EXPORT int32_t dt_cuda_runtime_version(void);

#endif

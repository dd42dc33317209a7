// native/src/common.cuh — helpers shared by every kernel family: launch geometry, half/bfloat16
// conversion of the fp32 master copy, and warp/block reductions. Internal only; nothing here is exported.
#pragma once
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdint.h>
#include "deeptrain_kernels.h"

static_assert(sizeof(__half) == 2 && sizeof(__nv_bfloat16) == 2, "16-bit types must be 2 bytes");
static_assert(DT_HALF_NONE == 0 && DT_HALF_F16 == 1 && DT_HALF_BF16 == 2, "ABI half kinds");
static_assert(DT_F32 == 0 && DT_F16 == 1 && DT_BF16 == 2, "ABI dtype codes (the managed DType order)");

// Grid-stride loop over [0, n) with 64-bit indices.
#define DT_FOR(i, n) \
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// Enough blocks to cover n with `threads` per block, capped so grid-stride loops do the rest
// (65535 keeps within every architecture's limits; 4096 blocks already saturate an H100).
inline unsigned dt_blocks(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b < 1) b = 1;
    if (b > 4096) b = 4096;
    return (unsigned)b;
}

// Writes the reduced-precision working copy of an fp32 master weight (round to nearest even).
__device__ __forceinline__ void dt_store_half(void* dst, int32_t kind, int64_t i, float x) {
    if (kind == DT_HALF_F16) ((__half*)dst)[i] = __float2half_rn(x);
    else if (kind == DT_HALF_BF16) ((__nv_bfloat16*)dst)[i] = __float2bfloat16_rn(x);
}

// True when the step must be skipped: a non-finite gradient was found (GradScaler semantics).
__device__ __forceinline__ bool dt_skip(const int32_t* found_inf) { return found_inf != nullptr && *found_inf != 0; }

__device__ __forceinline__ float dt_warp_sum(float x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

__device__ __forceinline__ float dt_warp_max(float x) {
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

// Block-wide reduction through shared memory; every thread gets the result. blockDim.x ≤ 1024.
template <bool IsMax>
__device__ float dt_block_reduce(float x) {
    __shared__ float partial[32];
    __shared__ float result;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    x = IsMax ? dt_warp_max(x) : dt_warp_sum(x);
    if (lane == 0) partial[warp] = x;
    __syncthreads();
    if (warp == 0) {
        float y = lane < warps ? partial[lane] : (IsMax ? -INFINITY : 0.f);
        y = IsMax ? dt_warp_max(y) : dt_warp_sum(y);
        if (lane == 0) result = y;
    }
    __syncthreads();
    return result;
}

// ---- dtype-generic storage (ABI v3): load any storage type as fp32, store fp32 rounded to nearest even ----
__device__ __forceinline__ float dt_to_f32(float x) { return x; }
__device__ __forceinline__ float dt_to_f32(__half x) { return __half2float(x); }
__device__ __forceinline__ float dt_to_f32(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T dt_from_f32(float x);
template <> __device__ __forceinline__ float dt_from_f32<float>(float x) { return x; }
template <> __device__ __forceinline__ __half dt_from_f32<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 dt_from_f32<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

template <typename T> __device__ __forceinline__ float dt_ld(const void* p, int64_t i) { return dt_to_f32(((const T*)p)[i]); }
template <typename T> __device__ __forceinline__ void dt_st(void* p, int64_t i, float x) { ((T*)p)[i] = dt_from_f32<T>(x); }

// Bytes per element of a DT_* code, or 0 when the code is unknown.
inline int64_t dt_dtype_size(int32_t dtype) { return dtype == DT_F32 ? 4 : (dtype == DT_F16 || dtype == DT_BF16) ? 2 : 0; }

// Calls f.template operator()<T>() with T the storage type of `dtype`; an unknown code is cudaErrorInvalidValue.
// Usage: return dt_dispatch(dtype, [&](auto tag) { using T = decltype(tag); ...; return (int32_t)cudaGetLastError(); });
template <typename F>
inline int32_t dt_dispatch(int32_t dtype, F&& f) {
    switch (dtype) {
    case DT_F32: return f(float{});
    case DT_F16: return f(__half{});
    case DT_BF16: return f(__nv_bfloat16{});
    default: return (int32_t)cudaErrorInvalidValue;
    }
}

// ---- IEEE arithmetic without contraction -------------------------------------------------------------
// nvcc fuses a*b + c into one FMA by default; the CPU twins (.NET, no FMA unless asked) round the product
// and the sum separately. Kernels that must match them bit for bit spell their arithmetic with these.
__device__ __forceinline__ float dt_fmul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ float dt_fadd(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ float dt_fsub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ float dt_fdiv(float a, float b) { return __fdiv_rn(a, b); }

// ---- deterministic reductions ------------------------------------------------------------------------
// Shuffle trees in a fixed order: for a fixed block size and a fixed assignment of elements to threads,
// the result is the same bits on every run and every GPU (no atomics anywhere).
__device__ __forceinline__ double dt_warp_sum_d(double x) {
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

// Block-wide double sum; the result is valid in thread 0 only. blockDim.x must be a multiple of 32, ≤ 1024.
// Safe to call repeatedly in one kernel (it synchronises before reusing its shared memory).
__device__ __forceinline__ double dt_block_sum_d(double x) {
    __shared__ double partial[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    x = dt_warp_sum_d(x);
    __syncthreads();   // a previous call's readers are done with partial[]
    if (lane == 0) partial[warp] = x;
    __syncthreads();
    double y = 0.0;
    if (warp == 0) {
        y = lane < warps ? partial[lane] : 0.0;
        y = dt_warp_sum_d(y);
    }
    return y;
}

// Blocks of a two-stage reduction over `count` elements: a function of the count alone (never of the
// device), so the partial sums, and the result's bits, are the same on every GPU. Each thread of the
// DT_REDUCE_THREADS-wide blocks reads at least 16 elements; at most DT_REDUCE_MAX_BLOCKS partials.
#define DT_REDUCE_THREADS 256
#define DT_REDUCE_MAX_BLOCKS 1024
inline unsigned dt_reduce_blocks(int64_t count) {
    int64_t b = (count + DT_REDUCE_THREADS * 16 - 1) / (DT_REDUCE_THREADS * 16);
    if (b < 1) b = 1;
    if (b > DT_REDUCE_MAX_BLOCKS) b = DT_REDUCE_MAX_BLOCKS;
    return (unsigned)b;
}

// Stage 2: one block of DT_REDUCE_MAX_BLOCKS threads sums `blocks` ≤ DT_REDUCE_MAX_BLOCKS partials in a
// fixed order and writes *out = (float)(Σ / divisor). (A template only so that each file instantiates it
// where it is used.)
template <int Threads = DT_REDUCE_MAX_BLOCKS>
__global__ void __launch_bounds__(Threads) dt_reduce_finish_kernel(const double* partials, int32_t blocks, float* out, double divisor) {
    double s = threadIdx.x < (unsigned)blocks ? partials[threadIdx.x] : 0.0;
    s = dt_block_sum_d(s);
    if (threadIdx.x == 0) *out = (float)(s / divisor);
}

// The end of stage 1: the block's double sum goes to partials[blockIdx.x], or, when there is no second
// stage (partials is null, one block), (float)(Σ / divisor) goes to *out. Every thread must call it.
__device__ __forceinline__ void dt_reduce_store(double s, double* partials, float* out, double divisor) {
    s = dt_block_sum_d(s);
    if (threadIdx.x != 0) return;
    if (partials) partials[blockIdx.x] = s;
    else *out = (float)(s / divisor);
}

// Stream-ordered scratch for the kernels' own temporaries (reduction partials, per-row results): cudaMallocAsync
// where the device has memory pools (no host sync, fine in graph capture), else cudaMalloc / cudaFree, which some
// vGPU, MIG and old-driver setups need (cudaDevAttrMemoryPoolsSupported == 0); cudaFree of such memory waits for
// the device, so the temporaries outlive the kernels that read them either way.
inline bool dt_device_has_pools() {
    int dev = 0, pools = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    return cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, dev) == cudaSuccess && pools != 0;
}

inline cudaError_t dt_scratch_alloc(void** p, size_t bytes, bool pools, cudaStream_t stream) {
    return pools ? cudaMallocAsync(p, bytes, stream) : cudaMalloc(p, bytes);
}

inline cudaError_t dt_scratch_free(void* p, bool pools, cudaStream_t stream) {
    return pools ? cudaFreeAsync(p, stream) : cudaFree(p);
}

// Runs a two-stage deterministic sum: launch(grid, partials_or_null) must launch stage 1 with `grid` blocks
// of DT_REDUCE_THREADS threads that writes its block sums to partials[blockIdx.x] (or, when partials is
// null and grid == 1, the finished value to its output itself). With more than one block the partials
// live in scratch from dt_scratch_alloc.
template <typename Launch>
inline int32_t dt_two_stage_sum(int64_t count, float* out, double divisor, cudaStream_t stream, Launch&& launch) {
    const unsigned grid = dt_reduce_blocks(count);
    if (grid == 1) {
        launch(1u, (double*)nullptr);
        return (int32_t)cudaGetLastError();
    }
    double* partials = nullptr;
    const bool pools = dt_device_has_pools();
    cudaError_t e = dt_scratch_alloc((void**)&partials, grid * sizeof(double), pools, stream);
    if (e != cudaSuccess) return (int32_t)e;
    launch(grid, partials);
    e = cudaGetLastError();
    if (e == cudaSuccess) {
        dt_reduce_finish_kernel<><<<1, DT_REDUCE_MAX_BLOCKS, 0, stream>>>(partials, (int32_t)grid, out, divisor);
        e = cudaGetLastError();
    }
    cudaError_t f = dt_scratch_free(partials, pools, stream);
    return (int32_t)(e != cudaSuccess ? e : f);
}

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

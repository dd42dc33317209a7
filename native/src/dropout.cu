// native/src/dropout.cu — inverted dropout (ABI v3) with the counter-based mask of CpuKernels.DropoutKeep,
// so the CPU and the GPU drop the same elements for the same seed, bit for bit:
//
//   z = seed + i·0x9E3779B97F4A7C15                 (mod 2^64; i = the element's memory index)
//   z = (z ^ (z >> 30))·0xBF58476D1CE4E5B9
//   z = (z ^ (z >> 27))·0x94D049BB133111EB
//   z =  z ^ (z >> 31)                               (the SplitMix64 finaliser)
//   keep(i) = (float)(z >> 40)·2^−24 ≥ p             (24 bits, exact in fp32)
//
//   y[i] = keep(i) ? x[i]·(1/(1 − p)) : 0            accumulate: y[i] = y[i] + that
//
// The same kernel is the backward (x = dy, y = dx). 1/(1 − p) is rounded once in fp32 on the host, as the
// CPU does; p = 1 drops everything (keep is never true), p = 0 keeps everything.
#include "common.cuh"

__device__ __forceinline__ bool dt_dropout_keep(uint64_t seed, int64_t i, float p) {
    uint64_t z = seed + (uint64_t)i * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return dt_fmul((float)(z >> 40), 1.0f / 16777216.0f) >= p;
}

template <typename T>
__global__ void dropout_kernel(const T* x, T* y, int64_t count, float p, float scale, uint64_t seed, int32_t accumulate) {
    DT_FOR(i, count) {
        float v = dt_dropout_keep(seed, i, p) ? dt_fmul(dt_to_f32(x[i]), scale) : 0.0f;
        if (accumulate) v = dt_fadd(dt_to_f32(y[i]), v);
        y[i] = dt_from_f32<T>(v);
    }
}

DT_EXPORT int32_t dt_dropout(const void* x, void* y, int32_t dtype, int64_t count, float p, uint64_t seed, int32_t accumulate,
                             cudaStream_t stream) {
    if (dt_dtype_size(dtype) == 0 || count < 0 || !(p >= 0.0f && p <= 1.0f)) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    const float scale = 1.0f / (1.0f - p);   // fp32 on the host, as CpuKernels' 1f / (1f - p); +inf for p = 1 (never used)
    return dt_dispatch(dtype, [&](auto tag) {
        using T = decltype(tag);
        dropout_kernel<T><<<dt_blocks(count, 256), 256, 0, stream>>>((const T*)x, (T*)y, count, p, scale, seed, accumulate);
        return (int32_t)cudaGetLastError();
    });
}

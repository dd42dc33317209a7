// native/src/loss_scale.cu — dynamic loss scaling on the device, as torch.cuda.amp.GradScaler does it.
//
//   unscale:  g ← g · (1/scale); found_inf ← 1 if any result is ±inf or NaN
//             (PyTorch: torch._amp_foreach_non_finite_check_and_unscale_)
//   update:   found_inf ? (scale ← scale·backoff, tracker ← 0)
//                       : (tracker ← tracker + 1; tracker ≥ interval ⇒ scale ← scale·growth, tracker ← 0)
//             (PyTorch: torch._amp_update_scale_; defaults growth 2, backoff 0.5, interval 2000, init 2^16)
//             growth ≥ 1 finite, 0 < backoff ≤ 1, interval ≥ 1: the rule of OperandChecks.ScalerFactors and
//             LossScalerOptions.Validate, so a static scale (growth 1, backoff 1, interval INT32_MAX) runs here too.
//             The tracker is counted in 64 bits and compared with ≥ (PyTorch: ==), as the CPU twin: a tracker
//             restored at or past a smaller interval grows at the next clean step instead of counting on to overflow.
//   scale:    x ← x · scale, the loss gradient before backward (PyTorch multiplies the loss: scaler.scale(loss))
//
// The scale, the growth tracker and the flag never leave the device, so a step needs no host sync.
#include "common.cuh"

__global__ void unscale_kernel(float* g, int64_t n, const float* scale, int32_t* found_inf) {
    const float inv = 1.0f / *scale;   // one reciprocal per thread: the same rounding PyTorch applies
    bool bad = false;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float x = g[i] * inv;
        bad |= !isfinite(x);
        g[i] = x;
    }
    if (bad) *found_inf = 1;   // every writer writes 1: the race is benign
}

// One block row per tensor (blockIdx.y), grid-stride within it (blockIdx.x).
__global__ void unscale_multi_kernel(float* const* ptrs, const int64_t* sizes, const float* scale, int32_t* found_inf) {
    float* g = ptrs[blockIdx.y];
    const int64_t n = sizes[blockIdx.y];
    const float inv = 1.0f / *scale;
    bool bad = false;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float x = g[i] * inv;
        bad |= !isfinite(x);
        g[i] = x;
    }
    if (bad) *found_inf = 1;
}

__global__ void scale_kernel(float* x, int64_t n, const float* scale) {
    const float s = *scale;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        x[i] = __fmul_rn(x[i], s);   // no contraction: the CPU twin rounds the same product
}

__global__ void update_scale_kernel(float* scale, int32_t* tracker, int32_t* found_inf, int64_t* step_count,
                                    float growth, float backoff, int32_t interval) {
    if (*found_inf) {
        *scale *= backoff;
        *tracker = 0;
    } else {
        int64_t t = (int64_t)*tracker + 1;   // 64 bits: INT32_MAX + 1 cannot overflow
        if (t >= interval) {
            float grown = *scale * growth;
            if (isfinite(grown)) *scale = grown;   // as PyTorch: never grow into inf
            t = 0;
        }
        *tracker = (int32_t)t;                     // t < interval ≤ INT32_MAX here
        if (step_count) *step_count += 1;
    }
    *found_inf = 0;
}

DT_EXPORT int32_t dt_unscale_f32(float* g, int64_t n, const float* scale, int32_t* found_inf, cudaStream_t stream) {
    if (n <= 0) return (int32_t)cudaSuccess;
    unscale_kernel<<<dt_blocks(n, 256), 256, 0, stream>>>(g, n, scale, found_inf);
    return (int32_t)cudaGetLastError();
}

DT_EXPORT int32_t dt_unscale_multi_f32(float* const* ptrs, const int64_t* sizes, int32_t count, const float* scale,
                                       int32_t* found_inf, cudaStream_t stream) {
    if (count <= 0) return (int32_t)cudaSuccess;
    // grid.y ≤ 65535 on every architecture: longer lists go in batches of 65535 tensors, one launch each.
    const int32_t per_launch = 65535;
    for (int32_t first = 0; first < count; first += per_launch) {
        const int32_t rows = count - first < per_launch ? count - first : per_launch;
        unscale_multi_kernel<<<dim3(64, (unsigned)rows), 256, 0, stream>>>(ptrs + first, sizes + first, scale, found_inf);
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return (int32_t)e;
    }
    return (int32_t)cudaSuccess;
}

DT_EXPORT int32_t dt_scale_by_f32(float* x, int64_t n, const float* scale, cudaStream_t stream) {
    if (n <= 0) return (int32_t)cudaSuccess;
    scale_kernel<<<dt_blocks(n, 256), 256, 0, stream>>>(x, n, scale);
    return (int32_t)cudaGetLastError();
}

DT_EXPORT int32_t dt_update_scale(float* scale, int32_t* growth_tracker, int32_t* found_inf, int64_t* step_count,
                                  float growth_factor, float backoff_factor, int32_t growth_interval, cudaStream_t stream) {
    // NaN fails every comparison; +∞ passes ≥ 1 and is refused by isfinite, as float.IsInfinity on the CPU.
    if (growth_interval < 1 || !(growth_factor >= 1.0f) || !isfinite(growth_factor) || !(backoff_factor > 0.0f && backoff_factor <= 1.0f))
        return (int32_t)cudaErrorInvalidValue;
    update_scale_kernel<<<1, 1, 0, stream>>>(scale, growth_tracker, found_inf, step_count, growth_factor, backoff_factor, growth_interval);
    return (int32_t)cudaGetLastError();
}

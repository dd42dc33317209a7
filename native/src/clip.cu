// native/src/clip.cu — clip-by-global-norm on the device (ABI v3), PyTorch's
// torch.nn.utils.clip_grad_norm_(params, max_norm) with its eps = 1e-6, without a host sync:
//
//   dt_global_norm_sq_f32:  *out = Σ x²      (call once per buffer into separate outputs, or once over a
//                                             flat gradient buffer; *out is WRITTEN)
//   dt_scale_by_norm_f32:   ‖g‖ = √(*norm_sq) in fp32;  c = max_norm / (‖g‖ + eps);  c = min(c, 1)
//                           (NaN stays NaN, as torch.clamp);  g ← c·g  (skipped where c = 1: g·1 = g)
//
// The sum is deterministic: each thread accumulates its squares in fp32 and folds them into a double
// every 32 elements; blocks reduce in double by a fixed shuffle tree and one final block sums the
// per-block partials in double (dt_two_stage_sum, block count a function of the count only). No atomics:
// the bits repeat on every run and every GPU.
#include "common.cuh"

__global__ void __launch_bounds__(DT_REDUCE_THREADS)
norm_sq_kernel(const float* x, int64_t count, double* partials, float* out) {
    double s = 0.0;
    float f = 0.0f;
    int k = 0;
    DT_FOR(i, count) {
        const float v = x[i];
        f = fmaf(v, v, f);
        if (++k == 32) { s += (double)f; f = 0.0f; k = 0; }
    }
    s += (double)f;
    dt_reduce_store(s, partials, out, 1.0);
}

__global__ void scale_by_norm_kernel(float* g, int64_t count, const float* norm_sq, float max_norm, float eps) {
    float c = __fdiv_rn(max_norm, __fadd_rn(__fsqrt_rn(*norm_sq), eps));
    if (c > 1.0f) c = 1.0f;
    if (c == 1.0f) return;
    DT_FOR(i, count) g[i] = __fmul_rn(g[i], c);
}

DT_EXPORT int32_t dt_global_norm_sq_f32(const float* x, int64_t count, float* out, cudaStream_t stream) {
    if (count < 0 || out == nullptr) return (int32_t)cudaErrorInvalidValue;
    // count = 0 runs too: it writes *out = 0, the sum of nothing.
    return dt_two_stage_sum(count, out, 1.0, stream, [&](unsigned grid, double* partials) {
        norm_sq_kernel<<<grid, DT_REDUCE_THREADS, 0, stream>>>(x, count, partials, out);
    });
}

DT_EXPORT int32_t dt_scale_by_norm_f32(float* g, int64_t count, const float* norm_sq, float max_norm, float eps,
                                       cudaStream_t stream) {
    if (count < 0 || norm_sq == nullptr) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    scale_by_norm_kernel<<<dt_blocks(count, 256), 256, 0, stream>>>(g, count, norm_sq, max_norm, eps);
    return (int32_t)cudaGetLastError();
}

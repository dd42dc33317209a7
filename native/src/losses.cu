// native/src/losses.cu — mean-reduced regression and binary losses (ABI v3), fp32; the CUDA twins of
// CpuBackend.MseLoss (F.mse_loss) and BceWithLogitsLoss (F.binary_cross_entropy_with_logits):
//
//   MSE:  d = p − t;  loss = (1/n)·Σ d²;  dpred = d·k,  k = (float)(2·scale/n)
//   BCE:  loss = (1/n)·Σ [max(z, 0) − z·t + log(1 + e^−|z|)]     (PyTorch's overflow-free form)
//         log(1 + e) = log(u)·e/(u − 1), u = 1 + e (Goldberg's log1p; e itself where u rounds to 1)
//         dz = (σ(z) − t)·k,  σ(z) = 1/(1 + e^−z),  k = (float)(scale/n)
//
// *loss is WRITTEN: per-thread sums in double, a fixed shuffle tree per block, and one final block over the
// per-block partials (common.cuh's dt_two_stage_sum; the number of blocks depends on n only), so the loss
// repeats bit for bit on every run and every GPU; no atomics. n = 0 writes NaN (the mean of nothing, as
// the CPU and PyTorch). The gradient may be the input itself (in place); NULL skips it.
#include "common.cuh"

__global__ void __launch_bounds__(DT_REDUCE_THREADS)
mse_kernel(const float* p, const float* t, int64_t count, float* dp, float k, double* partials, float* loss) {
    double s = 0.0;
    DT_FOR(i, count) {
        const float d = dt_fsub(p[i], t[i]);
        s += (double)dt_fmul(d, d);
        if (dp) dp[i] = dt_fmul(d, k);
    }
    dt_reduce_store(s, partials, loss, (double)count);
}

__global__ void __launch_bounds__(DT_REDUCE_THREADS)
bce_kernel(const float* z, const float* t, int64_t count, float* dz, float k, double* partials, float* loss) {
    double s = 0.0;
    DT_FOR(i, count) {
        const float zi = z[i], ti = t[i];
        const float e = expf(-fabsf(zi)), u = dt_fadd(1.0f, e);
        const float log1p = u == 1.0f ? e : dt_fdiv(dt_fmul(logf(u), e), dt_fsub(u, 1.0f));
        const float relu = zi > 0.0f ? zi : (isnan(zi) ? zi : 0.0f);
        s += (double)dt_fadd(dt_fsub(relu, dt_fmul(zi, ti)), log1p);
        if (dz) dz[i] = dt_fmul(dt_fsub(dt_fdiv(1.0f, dt_fadd(1.0f, expf(-zi))), ti), k);
    }
    dt_reduce_store(s, partials, loss, (double)count);
}

DT_EXPORT int32_t dt_mse(const float* pred, const float* target, int64_t count, float* loss, float* dpred, float scale,
                         cudaStream_t stream) {
    if (count < 0 || loss == nullptr) return (int32_t)cudaErrorInvalidValue;
    const float k = count == 0 ? 0.0f : (float)(2.0 * (double)scale / (double)count);
    return dt_two_stage_sum(count, loss, (double)count, stream, [&](unsigned grid, double* partials) {
        mse_kernel<<<grid, DT_REDUCE_THREADS, 0, stream>>>(pred, target, count, dpred, k, partials, loss);
    });
}

DT_EXPORT int32_t dt_bce_logits(const float* z, const float* t, int64_t count, float* loss, float* dz, float scale,
                                cudaStream_t stream) {
    if (count < 0 || loss == nullptr) return (int32_t)cudaErrorInvalidValue;
    const float k = count == 0 ? 0.0f : (float)((double)scale / (double)count);
    return dt_two_stage_sum(count, loss, (double)count, stream, [&](unsigned grid, double* partials) {
        bce_kernel<<<grid, DT_REDUCE_THREADS, 0, stream>>>(z, t, count, dz, k, partials, loss);
    });
}

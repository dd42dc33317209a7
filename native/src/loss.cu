// native/src/loss.cu — the loss family: fused softmax cross-entropy, MSE and BCE-with-logits.
//
// softmax cross-entropy forward and backward, one block per row, then one
// block that finishes the mean:
//
//   z* = max_j z_j;  S = Σ_j e^(z_j − z*);  loss_row = (z* − z_label) + log S      (in double, as the CPU)
//   *loss = (Σ_rows loss_row) / N                                                  WRITTEN, not accumulated
//   k = s/N, s = (scale ? *scale : 1)·host_scale (the loss scale, folded in here)
//   dz_j = e^(z_j − z*)·(k/S) − k·[j = label]                                      the CPU's rounding order
//   *correct = #rows whose first maximum is the label                              WRITTEN
//
// PyTorch: F.cross_entropy(z, y, reduction='mean') and its backward. The CPU twin is
// CpuKernels.SoftmaxCrossEntropyRow; both subtract the row maximum first (log-sum-exp).
// Deterministic: the row kernel writes each row's loss and hit to stream-ordered scratch, and a single
// block sums them in a fixed order (double), so *loss and *correct repeat bit for bit; no atomics.
// dlogits may be logits (in place): each element is read, then written by the same thread, after every
// other read of the row has passed a barrier.
#include "common.cuh"

__global__ void softmax_xent_rows_kernel(const float* logits, const int32_t* labels, int64_t k, float* dlogits,
                                        const float* scale, float host_scale, float n_f, int32_t* bad_label,
                                        double* row_loss, int32_t* row_hit) {
    const int64_t row = blockIdx.x;
    const float* z = logits + row * k;
    const int32_t label = labels[row];
    if (label < 0 || label >= k) {
        if (threadIdx.x == 0) {
            if (bad_label) *bad_label = 1;
            row_loss[row] = 0.0;
            row_hit[row] = 0;
        }
        if (dlogits) for (int64_t j = threadIdx.x; j < k; j += blockDim.x) dlogits[row * k + j] = 0.0f;
        return;
    }
    const float zl = z[label];   // read before the barriers below: dlogits may be logits itself
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) m = fmaxf(m, z[j]);
    m = dt_block_reduce<true>(m);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) s += expf(z[j] - m);
    s = dt_block_reduce<false>(s);
    // First maximum wins ties, as torch.argmax: the smallest index whose value equals the maximum.
    float first = (float)k;
    for (int64_t j = threadIdx.x; j < k; j += blockDim.x) if (z[j] == m) { first = fminf(first, (float)j); break; }
    first = -dt_block_reduce<true>(-first);
    if (threadIdx.x == 0) {
        row_loss[row] = ((double)m - (double)zl) + log((double)s);
        row_hit[row] = (int64_t)first == label ? 1 : 0;
    }
    if (dlogits) {
        const float kk = __fdiv_rn(__fmul_rn(scale ? *scale : 1.0f, host_scale), n_f), ks = __fdiv_rn(kk, s);
        for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
            const float g = __fmul_rn(expf(z[j] - m), ks);
            dlogits[row * k + j] = j == label ? __fsub_rn(g, kk) : g;
        }
    }
}

// One block: *loss = Σ row_loss / n (NaN for n = 0, the mean of nothing), *correct = Σ row_hit.
__global__ void __launch_bounds__(1024)
softmax_xent_finish_kernel(const double* row_loss, const int32_t* row_hit, int64_t n, float* loss, float* correct) {
    double l = 0.0, h = 0.0;
    for (int64_t r = threadIdx.x; r < n; r += blockDim.x) {
        l += row_loss[r];
        h += (double)row_hit[r];
    }
    l = dt_block_sum_d(l);
    h = dt_block_sum_d(h);   // exact: integers below 2^53
    if (threadIdx.x == 0) {
        *loss = (float)(l / (double)n);
        if (correct) *correct = (float)h;
    }
}

DT_EXPORT int32_t dt_softmax_xent_f32(const float* logits, const int32_t* labels, int64_t n, int64_t k, float* loss,
                                      float* dlogits, float* correct, const float* scale, float host_scale, int32_t* bad_label,
                                      cudaStream_t stream) {
    // k ≤ 2^24: the first-maximum index travels through a float reduction, exact up to 2^24.
    if (n < 0 || k <= 0 || k > (1LL << 24) || n > 2147483647LL || loss == nullptr) return (int32_t)cudaErrorInvalidValue;
    if (n == 0) {
        softmax_xent_finish_kernel<<<1, 1024, 0, stream>>>(nullptr, nullptr, 0, loss, correct);
        return (int32_t)cudaGetLastError();
    }
    void* scratch = nullptr;
    const bool pools = dt_device_has_pools();
    cudaError_t e = dt_scratch_alloc(&scratch, (size_t)n * (sizeof(double) + sizeof(int32_t)), pools, stream);
    if (e != cudaSuccess) return (int32_t)e;
    double* row_loss = (double*)scratch;
    int32_t* row_hit = (int32_t*)(row_loss + n);
    const int threads = k >= 1024 ? 1024 : k >= 256 ? 256 : 32;
    softmax_xent_rows_kernel<<<(unsigned)n, threads, 0, stream>>>(logits, labels, k, dlogits, scale, host_scale, (float)n, bad_label,
                                                                 row_loss, row_hit);
    e = cudaGetLastError();
    if (e == cudaSuccess) {
        softmax_xent_finish_kernel<<<1, 1024, 0, stream>>>(row_loss, row_hit, n, loss, correct);
        e = cudaGetLastError();
    }
    cudaError_t f = dt_scratch_free(scratch, pools, stream);
    return (int32_t)(e != cudaSuccess ? e : f);
}

// ---- losses ------------------------------------------------------------
// mean-reduced regression and binary losses (ABI v3), fp32; the CUDA twins of
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

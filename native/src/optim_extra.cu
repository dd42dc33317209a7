// native/src/optim_extra.cu — Adagrad, RMSprop and the elastic-net penalty gradient over flat fp32
// buffers (ABI v3). The CUDA twins of CpuBackend.AdagradStep / RmsPropStep (torch.optim, foreach=False),
// applying the same operations in the same order, each rounded on its own (no FMA), so the two backends
// agree bit for bit:
//
//   Adagrad (Duchi et al. 2011), step t ≥ 1:
//     clr = lr / (1 + (t − 1)·lr_decay)            once, in fp32, on the host
//     g ← g + λ·w;  s ← s + g·g;  w ← w − (clr·g) / (√s + ε)
//   RMSprop (Hinton, lecture 6e), β = 1 − α:
//     g ← g + λ·w;  v ← α·v + (β·g)·g
//     centered: ḡ ← α·ḡ + β·g;  d = √(v − ḡ·ḡ) + ε        else d = √v + ε
//     μ > 0: b ← μ·b + g/d;  w ← w − lr·b                  else w ← w − (lr·g)/d
//   penalty:  g ← g + (l1·sign(w) + l2·w),  sign(w) = (0 < w) − (w < 0): sign(0) = 0 (and sign(NaN) = 0,
//             PyTorch's formula); the gradient of l1·‖w‖₁ + l2/2·‖w‖².
#include "common.cuh"

__global__ void adagrad_kernel(float* w, const float* g, float* sum, int64_t count, float clr, float wd, float eps) {
    DT_FOR(i, count) {
        const float wi = w[i];
        const float gi = dt_fadd(g[i], dt_fmul(wd, wi));
        const float si = dt_fadd(sum[i], dt_fmul(gi, gi));
        sum[i] = si;
        w[i] = dt_fsub(wi, dt_fdiv(dt_fmul(clr, gi), dt_fadd(__fsqrt_rn(si), eps)));
    }
}

__global__ void rmsprop_kernel(float* w, const float* g, float* v, float* buf, float* avg, int64_t count, float lr, float alpha,
                               float beta, float eps, float wd, float momentum, int32_t centered) {
    DT_FOR(i, count) {
        const float wi = w[i];
        const float gi = dt_fadd(g[i], dt_fmul(wd, wi));
        const float vi = dt_fadd(dt_fmul(alpha, v[i]), dt_fmul(dt_fmul(beta, gi), gi));
        v[i] = vi;
        float d;
        if (centered) {
            const float m = dt_fadd(dt_fmul(alpha, avg[i]), dt_fmul(beta, gi));
            avg[i] = m;
            d = dt_fadd(__fsqrt_rn(dt_fsub(vi, dt_fmul(m, m))), eps);
        } else {
            d = dt_fadd(__fsqrt_rn(vi), eps);
        }
        if (momentum > 0.0f) {
            const float b = dt_fadd(dt_fmul(momentum, buf[i]), dt_fdiv(gi, d));
            buf[i] = b;
            w[i] = dt_fsub(wi, dt_fmul(lr, b));
        } else {
            w[i] = dt_fsub(wi, dt_fdiv(dt_fmul(lr, gi), d));
        }
    }
}

__global__ void penalty_grad_kernel(const float* w, float* g, int64_t count, float l1, float l2) {
    DT_FOR(i, count) {
        const float wi = w[i];
        const float sign = (float)((0.0f < wi) - (wi < 0.0f));
        g[i] = dt_fadd(dt_fadd(g[i], dt_fmul(l1, sign)), dt_fmul(l2, wi));   // (g + λ1·s) + λ2·w, the CPU twin's order
    }
}

DT_EXPORT int32_t dt_adagrad_f32(float* w, const float* g, float* sum, int64_t count, float lr, float lr_decay,
                                 float weight_decay, float eps, int64_t step, cudaStream_t stream) {
    if (count < 0 || step < 1) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    // As the CPU: (t − 1) converted to fp32, then each operation rounded to fp32.
    const float decayed = (float)(step - 1) * lr_decay;
    const float clr = lr / (1.0f + decayed);
    adagrad_kernel<<<dt_blocks(count, 256), 256, 0, stream>>>(w, g, sum, count, clr, weight_decay, eps);
    return (int32_t)cudaGetLastError();
}

DT_EXPORT int32_t dt_rmsprop_f32(float* w, const float* g, float* v, float* momentum_buf, float* grad_avg, int64_t count,
                                 float lr, float alpha, float eps, float weight_decay, float momentum, int32_t centered,
                                 cudaStream_t stream) {
    if (count < 0 || (momentum > 0.0f && momentum_buf == nullptr) || (centered && grad_avg == nullptr))
        return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    const float beta = 1.0f - alpha;
    rmsprop_kernel<<<dt_blocks(count, 256), 256, 0, stream>>>(w, g, v, momentum_buf, grad_avg, count, lr, alpha, beta, eps,
                                                              weight_decay, momentum, centered);
    return (int32_t)cudaGetLastError();
}

DT_EXPORT int32_t dt_penalty_grad_f32(const float* w, float* g, int64_t count, float l1, float l2, cudaStream_t stream) {
    if (count < 0) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    penalty_grad_kernel<<<dt_blocks(count, 256), 256, 0, stream>>>(w, g, count, l1, l2);
    return (int32_t)cudaGetLastError();
}

// native/src/optim.cu — the optimizer family, simple to complex: SGD, Adam/AdamW, Adagrad, RMSProp and the elastic-net penalty gradient.
//
// fused SGD with momentum (torch.optim.SGD), one pass over the flat buffers:
//
//   g ← g + λ·w                         L2 weight decay (the loss gains λ/2·‖w‖²)
//   b ← g                   if t = 1    (PyTorch initialises the buffer with the first gradient)
//   b ← μ·b + (1 − τ)·g     otherwise
//   g ← g + μ·b (Nesterov)  or  b
//   w ← w − lr·g;  w16 ← round(w)       the fp16/bf16 working copy, written in the same pass
//
// Caffe / Sutskever form (caffe_form): v_prev ← (t = 1) ? 0 : v; v ← μ·v_prev + lr·g;
//   w ← w − v, or with Nesterov w ← w − ((1 + μ)·v − μ·v_prev) (Caffe's NesterovSolver).
//
// t = *step_count + 1 is read on the device, or t = step (the host's count) when step_count is NULL;
// the whole kernel is a no-op when *found_inf is set.
// The CPU twin is CpuKernels.Optim.Sgd in src/DeepTrain; both apply these lines in this order.
#include "common.cuh"

__global__ void sgd_kernel(float* w, const float* g, float* buf, void* w_half, int32_t half_kind, int64_t n,
                           float lr, float momentum, float dampening, float wd, int32_t nesterov, int32_t caffe_form,
                           const int64_t* step_count, int64_t step, const int32_t* found_inf) {
    if (dt_skip(found_inf)) return;
    const bool first = (step_count ? *step_count + 1 : step) == 1;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float wi = w[i];
        float gi = g[i] + wd * wi;
        if (momentum != 0.0f && caffe_form) {
            float prev = first ? 0.0f : buf[i];
            float v = momentum * prev + lr * gi;
            buf[i] = v;
            wi -= nesterov ? (1.0f + momentum) * v - momentum * prev : v;
            w[i] = wi;
            dt_store_half(w_half, half_kind, i, wi);
            continue;
        }
        if (momentum != 0.0f) {
            float b = first ? gi : momentum * buf[i] + (1.0f - dampening) * gi;
            buf[i] = b;
            gi = nesterov ? gi + momentum * b : b;
        }
        wi -= lr * gi;
        w[i] = wi;
        dt_store_half(w_half, half_kind, i, wi);
    }
}

DT_EXPORT int32_t dt_sgd_f32(float* w, const float* g, float* momentum_buf, void* w_half, int32_t half_kind, int64_t n,
                             float lr, float momentum, float dampening, float weight_decay, int32_t nesterov, int32_t caffe_form,
                             const int64_t* step_count, int64_t step, const int32_t* found_inf, cudaStream_t stream) {
    if (n <= 0) return (int32_t)cudaSuccess;
    if (step_count == nullptr && step < 1) return (int32_t)cudaErrorInvalidValue;
    if (momentum != 0.0f && momentum_buf == nullptr) return (int32_t)cudaErrorInvalidValue;
    // An unknown kind would silently write no working copy (dt_store_half ignores it).
    if (half_kind < DT_HALF_NONE || half_kind > DT_HALF_BF16 || (half_kind != DT_HALF_NONE && w_half == nullptr))
        return (int32_t)cudaErrorInvalidValue;
    if (caffe_form && dampening != 0.0f) return (int32_t)cudaErrorInvalidValue;
    sgd_kernel<<<dt_blocks(n, 256), 256, 0, stream>>>(w, g, momentum_buf, w_half, half_kind, n, lr, momentum, dampening,
                                                      weight_decay, nesterov, caffe_form, step_count, step, found_inf);
    return (int32_t)cudaGetLastError();
}

// ---- adamw ------------------------------------------------------------
// fused Adam / AdamW (Kingma and Ba 2015; Loshchilov and Hutter 2019), one pass:
//
//   Adam (L2):        g ← g + λ·w
//   AdamW (decoupled): w ← w − lr·λ·w                   applied outside the adaptive step
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   w ← w − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)     PyTorch's bias-corrected form
//   w16 ← round(w)
//
// β1^t and β2^t use t = *step_count + 1 (read on the device), or t = step (the host's count) when
// step_count is NULL, for the first and second moments respectively. A set
// *found_inf makes the kernel a no-op. PyTorch reference: torch.optim.Adam / AdamW (foreach=False).

__global__ void adam_kernel(float* w, const float* g, float* m, float* v, void* w_half, int32_t half_kind, int64_t n,
                            float lr, float beta1, float beta2, float eps, float wd, int32_t decoupled,
                            const int64_t* step_count, int64_t step, const int32_t* found_inf) {
    if (dt_skip(found_inf)) return;
    const double t = (double)(step_count ? *step_count + 1 : step);
    // Bias corrections in double: β2^t for t in the hundreds of thousands loses digits in float.
    const float bc1 = (float)(1.0 - pow((double)beta1, t));
    const float sqrt_bc2 = (float)sqrt(1.0 - pow((double)beta2, t));
    const float step_size = lr / bc1;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float wi = w[i], gi = g[i];
        if (decoupled) wi -= lr * wd * wi;
        else gi += wd * wi;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        wi -= step_size * mi / (sqrtf(vi) / sqrt_bc2 + eps);
        w[i] = wi;
        dt_store_half(w_half, half_kind, i, wi);
    }
}

DT_EXPORT int32_t dt_adam_f32(float* w, const float* g, float* m, float* v, void* w_half, int32_t half_kind, int64_t n,
                              float lr, float beta1, float beta2, float eps, float weight_decay, int32_t decoupled,
                              const int64_t* step_count, int64_t step, const int32_t* found_inf, cudaStream_t stream) {
    if (n <= 0) return (int32_t)cudaSuccess;
    if (step_count == nullptr && step < 1) return (int32_t)cudaErrorInvalidValue;
    // An unknown kind would silently write no working copy (dt_store_half ignores it).
    if (half_kind < DT_HALF_NONE || half_kind > DT_HALF_BF16 || (half_kind != DT_HALF_NONE && w_half == nullptr))
        return (int32_t)cudaErrorInvalidValue;
    adam_kernel<<<dt_blocks(n, 256), 256, 0, stream>>>(w, g, m, v, w_half, half_kind, n, lr, beta1, beta2, eps,
                                                       weight_decay, decoupled, step_count, step, found_inf);
    return (int32_t)cudaGetLastError();
}

// ---- optim_extra ------------------------------------------------------------
// Adagrad, RMSprop and the elastic-net penalty gradient over flat fp32
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

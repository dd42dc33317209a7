// native/src/adamw.cu — fused Adam / AdamW (Kingma and Ba 2015; Loshchilov and Hutter 2019), one pass:
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
#include "common.cuh"

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

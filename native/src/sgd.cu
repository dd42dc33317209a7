// native/src/sgd.cu — fused SGD with momentum (torch.optim.SGD), one pass over the flat buffers:
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

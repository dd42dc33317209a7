// native/src/softmax_xent.cu — softmax cross-entropy forward and backward in one kernel, one block per row.
//
//   z* = max_j z_j;  S = Σ_j e^(z_j − z*);  loss_row = z* + log S − z_label
//   loss += loss_row / N
//   dz_j = s · (e^(z_j − z*)/S − [j = label]) / N        s = the loss scale, folded in here
//   correct += [first argmax = label]
//
// PyTorch: F.cross_entropy(z, y, reduction='mean') and its backward. The CPU twin is
// CpuKernels.Loss.SoftmaxCrossEntropy; both subtract the row maximum first (log-sum-exp).
#include "common.cuh"

__global__ void softmax_xent_kernel(const float* logits, const int32_t* labels, int64_t n, int64_t k, float* loss,
                                    float* dlogits, float* correct, const float* scale, int32_t* bad_label) {
    const int64_t row = blockIdx.x;
    const float* z = logits + row * k;
    const int32_t label = labels[row];
    if (label < 0 || label >= k) {
        if (threadIdx.x == 0 && bad_label) *bad_label = 1;
        if (dlogits) for (int64_t j = threadIdx.x; j < k; j += blockDim.x) dlogits[row * k + j] = 0.0f;
        return;
    }
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
    const float inv_n = 1.0f / (float)n;
    if (threadIdx.x == 0) {
        atomicAdd(loss, (m + logf(s) - z[label]) * inv_n);
        if (correct && (int64_t)first == label) atomicAdd(correct, 1.0f);
    }
    if (dlogits) {
        const float g = (scale ? *scale : 1.0f) * inv_n, inv_s = 1.0f / s;
        for (int64_t j = threadIdx.x; j < k; j += blockDim.x)
            dlogits[row * k + j] = g * (expf(z[j] - m) * inv_s - (j == label ? 1.0f : 0.0f));
    }
}

DT_EXPORT int32_t dt_softmax_xent_f32(const float* logits, const int32_t* labels, int64_t n, int64_t k, float* loss,
                                      float* dlogits, float* correct, const float* scale, int32_t* bad_label,
                                      cudaStream_t stream) {
    if (n <= 0) return (int32_t)cudaSuccess;
    if (k <= 0 || n > 2147483647LL) return (int32_t)cudaErrorInvalidValue;
    int threads = k >= 1024 ? 1024 : k >= 256 ? 256 : 32;
    softmax_xent_kernel<<<(unsigned)n, threads, 0, stream>>>(logits, labels, n, k, loss, dlogits, correct, scale, bad_label);
    return (int32_t)cudaGetLastError();
}

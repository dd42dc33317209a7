// native/src/prelu.cu — PReLU (He et al. 2015; torch.nn.PReLU), fp32, over (N, C, S = H·W) in either
// layout (ABI v3). The CUDA twin of CpuBackend.PReluForward / PReluBackward:
//
//   y  = x > 0 ? x : α[c]·x                       α[0] for every channel when `shared`
//   dx = x > 0 ? dy : α[c]·dy                     accumulate_dx: dx = dx + that; dx may be NULL
//   dα[c] = Σ over n, s with x ≤ 0 of dy·x        summed in double, rounded once; accumulate_alpha: dα + it
//
// Channel of memory offset i: NHWC i mod C, NCHW ⌊i/S⌋ mod C. dα is reduced deterministically: one block
// per channel (one block in all when shared), each thread walking a fixed set of elements, then a fixed
// shuffle tree; no atomics. dα is computed before dx is written, so dx may be x or dy.
#include "common.cuh"

__global__ void prelu_forward_kernel(const float* x, const float* alpha, float* y, int64_t count, int64_t c, int64_t hw,
                                     int32_t nhwc, int32_t shared) {
    DT_FOR(i, count) {
        const float v = x[i];
        const int64_t ch = shared ? 0 : nhwc ? i % c : (i / hw) % c;
        y[i] = v > 0.0f ? v : dt_fmul(alpha[ch], v);
    }
}

__global__ void prelu_dx_kernel(const float* x, const float* alpha, const float* dy, float* dx, int64_t count, int64_t c,
                                int64_t hw, int32_t nhwc, int32_t shared, int32_t accumulate) {
    DT_FOR(i, count) {
        const float v = x[i], d = dy[i];
        const int64_t ch = shared ? 0 : nhwc ? i % c : (i / hw) % c;
        float g = v > 0.0f ? d : dt_fmul(alpha[ch], d);
        if (accumulate) g = dt_fadd(dx[i], g);
        dx[i] = g;
    }
}

// Block b sums channel b (shared: the one block sums everything). DT_REDUCE_THREADS threads.
__global__ void __launch_bounds__(DT_REDUCE_THREADS)
prelu_dalpha_kernel(const float* x, const float* dy, float* dalpha, int64_t n, int64_t c, int64_t hw, int32_t nhwc,
                    int32_t shared, int32_t accumulate) {
    double s = 0.0;
    if (shared) {
        const int64_t count = n * c * hw;
        for (int64_t i = threadIdx.x; i < count; i += blockDim.x) {
            const float v = x[i];
            if (v <= 0.0f) s += (double)dy[i] * (double)v;
        }
    } else {
        const int64_t ch = blockIdx.x, per = n * hw;
        for (int64_t j = threadIdx.x; j < per; j += blockDim.x) {
            const int64_t b = j / hw, p = j - b * hw;
            const int64_t i = nhwc ? (b * hw + p) * c + ch : (b * c + ch) * hw + p;
            const float v = x[i];
            if (v <= 0.0f) s += (double)dy[i] * (double)v;
        }
    }
    s = dt_block_sum_d(s);
    if (threadIdx.x == 0) {
        const float sum = (float)s;
        dalpha[blockIdx.x] = accumulate ? dt_fadd(dalpha[blockIdx.x], sum) : sum;
    }
}

DT_EXPORT int32_t dt_prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c, int64_t hw, int32_t nhwc,
                                   int32_t shared, cudaStream_t stream) {
    if (n < 0 || c < 0 || hw < 0) return (int32_t)cudaErrorInvalidValue;
    const int64_t count = n * c * hw;
    if (count == 0) return (int32_t)cudaSuccess;
    prelu_forward_kernel<<<dt_blocks(count, 256), 256, 0, stream>>>(x, alpha, y, count, c, hw, nhwc, shared);
    return (int32_t)cudaGetLastError();
}

DT_EXPORT int32_t dt_prelu_backward(const float* x, const float* alpha, const float* dy, float* dx, float* dalpha, int64_t n,
                                    int64_t c, int64_t hw, int32_t nhwc, int32_t shared, int32_t accumulate_dx,
                                    int32_t accumulate_alpha, cudaStream_t stream) {
    if (n < 0 || c < 0 || hw < 0 || (!shared && c > 2147483647LL)) return (int32_t)cudaErrorInvalidValue;
    const int64_t count = n * c * hw, slopes = shared ? 1 : c;
    if (slopes == 0) return (int32_t)cudaSuccess;
    // Even with no elements dα is defined: Σ over nothing = 0 (the CPU writes it too).
    prelu_dalpha_kernel<<<(unsigned)slopes, DT_REDUCE_THREADS, 0, stream>>>(x, dy, dalpha, n, c, hw, nhwc, shared, accumulate_alpha);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess || dx == nullptr || count == 0) return (int32_t)e;
    prelu_dx_kernel<<<dt_blocks(count, 256), 256, 0, stream>>>(x, alpha, dy, dx, count, c, hw, nhwc, shared, accumulate_dx);
    return (int32_t)cudaGetLastError();
}

// native/src/activation.cu — the activation family: ReLU, LeakyReLU, sigmoid, tanh and PReLU.
//
// point-wise activations and their gradients (ABI v3), the CUDA twins of
// CpuKernels.Activation / ActivationBackward, in any storage dtype (computed in fp32):
//
//   ReLU       y = max(x, 0), NaN propagates (torch.relu)          dx = y > 0 ? dy : 0·dy
//   LeakyReLU  y = x > 0 ? x : α·x                                 dx = y > 0 ? dy : α·dy
//   Sigmoid    y = 1/(1 + e^−x)                                    dx = (dy·y)·(1 − y)
//   Tanh       y = p(c)/q(c), c = clamp(x, ±7.9053), the 13/6      dx = dy·(1 − y·y)
//              rational of Eigen's generic_fast_tanh_float; y = x for |x| < 4e-4; NaN propagates
//
// Gradients are computed from the forward output y alone, so dx may be written over dy or y (in place).
// accumulate: dx = dx + (the gradient). Products and sums are rounded one at a time (no FMA), as on the
// CPU, so ReLU, LeakyReLU, Tanh and the gradients are bit-identical to it; Sigmoid differs only by expf.
#include "common.cuh"

static_assert(DT_ACT_RELU == 0 && DT_ACT_LEAKY_RELU == 1 && DT_ACT_SIGMOID == 2 && DT_ACT_TANH == 3, "ActivationKind order");

__device__ __forceinline__ float dt_tanh_rational(float x) {
    const float clamp = 7.90531110763549805f, tiny = 0.0004f;
    const float a1 = 4.89352455891786e-03f, a3 = 6.37261928875436e-04f, a5 = 1.48572235717979e-05f, a7 = 5.12229709037114e-08f;
    const float a9 = -8.60467152213735e-11f, a11 = 2.00018790482477e-13f, a13 = -2.76076847742355e-16f;
    const float b0 = 4.89352518554385e-03f, b2 = 2.26843463243900e-03f, b4 = 1.18534705686654e-04f, b6 = 1.19825839466702e-06f;
    if (isnan(x) || fabsf(x) < tiny) return x;
    const float c = fminf(fmaxf(x, -clamp), clamp), c2 = dt_fmul(c, c);
    float p = dt_fadd(dt_fmul(a13, c2), a11);
    p = dt_fadd(dt_fmul(p, c2), a9);
    p = dt_fadd(dt_fmul(p, c2), a7);
    p = dt_fadd(dt_fmul(p, c2), a5);
    p = dt_fadd(dt_fmul(p, c2), a3);
    p = dt_fmul(c, dt_fadd(dt_fmul(p, c2), a1));
    float q = dt_fadd(dt_fmul(b6, c2), b4);
    q = dt_fadd(dt_fmul(q, c2), b2);
    q = dt_fadd(dt_fmul(q, c2), b0);
    return dt_fdiv(p, q);
}

template <int Kind>
__device__ __forceinline__ float dt_act(float x, float alpha) {
    if (Kind == DT_ACT_RELU) return x > 0.0f ? x : (isnan(x) ? x : 0.0f);
    if (Kind == DT_ACT_LEAKY_RELU) return x > 0.0f ? x : dt_fmul(alpha, x);
    if (Kind == DT_ACT_SIGMOID) return dt_fdiv(1.0f, dt_fadd(1.0f, expf(-x)));
    return dt_tanh_rational(x);
}

template <int Kind>
__device__ __forceinline__ float dt_act_grad(float y, float dy, float alpha) {
    if (Kind == DT_ACT_RELU) return y > 0.0f ? dy : dt_fmul(0.0f, dy);
    if (Kind == DT_ACT_LEAKY_RELU) return y > 0.0f ? dy : dt_fmul(alpha, dy);
    if (Kind == DT_ACT_SIGMOID) return dt_fmul(dt_fmul(dy, y), dt_fsub(1.0f, y));
    return dt_fmul(dy, dt_fsub(1.0f, dt_fmul(y, y)));
}

template <int Kind, typename T>
__global__ void activation_kernel(const T* x, T* y, int64_t count, float alpha) {
    DT_FOR(i, count) y[i] = dt_from_f32<T>(dt_act<Kind>(dt_to_f32(x[i]), alpha));
}

template <int Kind, typename T>
__global__ void activation_backward_kernel(const T* y, const T* dy, T* dx, int64_t count, float alpha, int32_t accumulate) {
    DT_FOR(i, count) {
        float g = dt_act_grad<Kind>(dt_to_f32(y[i]), dt_to_f32(dy[i]), alpha);
        if (accumulate) g = dt_fadd(dt_to_f32(dx[i]), g);
        dx[i] = dt_from_f32<T>(g);
    }
}

// Calls f(std::integral_constant-like tag) for the activation kind; an unknown kind is cudaErrorInvalidValue.
template <int K> struct dt_kind { static constexpr int value = K; };
template <typename F>
static int32_t dt_dispatch_kind(int32_t kind, F&& f) {
    switch (kind) {
    case DT_ACT_RELU: return f(dt_kind<DT_ACT_RELU>{});
    case DT_ACT_LEAKY_RELU: return f(dt_kind<DT_ACT_LEAKY_RELU>{});
    case DT_ACT_SIGMOID: return f(dt_kind<DT_ACT_SIGMOID>{});
    case DT_ACT_TANH: return f(dt_kind<DT_ACT_TANH>{});
    default: return (int32_t)cudaErrorInvalidValue;
    }
}

DT_EXPORT int32_t dt_activation(int32_t kind, float alpha, const void* x, void* y, int32_t dtype, int64_t count,
                                cudaStream_t stream) {
    if (kind < DT_ACT_RELU || kind > DT_ACT_TANH || dt_dtype_size(dtype) == 0 || count < 0) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    return dt_dispatch_kind(kind, [&](auto k) {
        constexpr int K = decltype(k)::value;
        return dt_dispatch(dtype, [&](auto tag) {
            using T = decltype(tag);
            activation_kernel<K, T><<<dt_blocks(count, 256), 256, 0, stream>>>((const T*)x, (T*)y, count, alpha);
            return (int32_t)cudaGetLastError();
        });
    });
}

DT_EXPORT int32_t dt_activation_backward(int32_t kind, float alpha, const void* y, const void* dy, void* dx, int32_t dtype,
                                         int64_t count, int32_t accumulate, cudaStream_t stream) {
    if (kind < DT_ACT_RELU || kind > DT_ACT_TANH || dt_dtype_size(dtype) == 0 || count < 0) return (int32_t)cudaErrorInvalidValue;
    if (count == 0) return (int32_t)cudaSuccess;
    return dt_dispatch_kind(kind, [&](auto k) {
        constexpr int K = decltype(k)::value;
        return dt_dispatch(dtype, [&](auto tag) {
            using T = decltype(tag);
            activation_backward_kernel<K, T><<<dt_blocks(count, 256), 256, 0, stream>>>((const T*)y, (const T*)dy, (T*)dx, count,
                                                                                       alpha, accumulate);
            return (int32_t)cudaGetLastError();
        });
    });
}

// ---- prelu ------------------------------------------------------------
// PReLU (He et al. 2015; torch.nn.PReLU), fp32, over (N, C, S = H·W) in either
// layout (ABI v3). The CUDA twin of CpuBackend.PReluForward / PReluBackward:
//
//   y  = x > 0 ? x : α[c]·x                       α[0] for every channel when `shared`
//   dx = x > 0 ? dy : α[c]·dy                     accumulate_dx: dx = dx + that; dx may be NULL
//   dα[c] = Σ over n, s with x ≤ 0 of dy·x        summed in double, rounded once; accumulate_alpha: dα + it
//
// Channel of memory offset i: NHWC i mod C, NCHW ⌊i/S⌋ mod C. dα is reduced deterministically: one block
// per channel (one block in all when shared), each thread walking a fixed set of elements, then a fixed
// shuffle tree; no atomics. dα is computed before dx is written, so dx may be x or dy.

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

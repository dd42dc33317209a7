/* DeepTrain kernel library: the whole C ABI.
 * Every export takes device pointers, 64-bit counts, scalars and a cudaStream_t, returns the
 * cudaError_t of its launch as int32_t, and never prints, exits or synchronises. */
#ifndef DEEPTRAIN_KERNELS_H
#define DEEPTRAIN_KERNELS_H
#include <stdint.h>
#include <cuda_runtime_api.h>

#if defined(_WIN32)
#  define DT_EXPORT_ATTR __declspec(dllexport)
#else
#  define DT_EXPORT_ATTR __attribute__((visibility("default")))
#endif
#ifdef __cplusplus
#  define DT_EXPORT extern "C" DT_EXPORT_ATTR
#else
#  define DT_EXPORT DT_EXPORT_ATTR
#endif

/* ABI version: bumped whenever an export's signature or meaning changes. */
#define DT_KERNELS_ABI_VERSION 3

/* Returns DT_KERNELS_ABI_VERSION, so the bindings can refuse a mismatched library.
 * v3: the dtype-generic and layout-aware kernels below; dt_sgd_f32 / dt_adam_f32 take a host step;
 *     dt_softmax_xent_f32 takes a host scale and WRITES *loss and *correct (deterministically). */
DT_EXPORT int32_t dt_abi_version(void);

/* Returns the CUDA runtime version the library was built against (e.g. 11080), or 0. */
DT_EXPORT int32_t dt_cuda_runtime_version(void);

/* cudaSetDevice(device) in the library's own CUDA runtime, which is linked statically and keeps its own current device
 * per host thread, apart from the shared libcudart the managed side calls. A caller that selects a device other than 0
 * calls both, on every thread it launches from, so kernels run in that device's primary context, where its streams are
 * valid. Returns the cudaError_t (cudaErrorInvalidDevice for an index not in [0, cudaGetDeviceCount())). */
DT_EXPORT int32_t dt_set_device(int32_t device);

/* Kinds of the reduced-precision working copy an optimizer writes beside the fp32 master weights. */
#define DT_HALF_NONE 0 /* no copy */
#define DT_HALF_F16  1 /* IEEE binary16 */
#define DT_HALF_BF16 2 /* bfloat16 */

/* ---- loss scaling (LossScale: loss_scale.cu); PyTorch: torch.cuda.amp.GradScaler ------------------------------
 * g[i] *= 1 / *scale; *found_inf = 1 if any result is not finite (never cleared here). The check is on the
 * unscaled result: with a scale below 1 a finite gradient that overflows when unscaled also skips the step. */
DT_EXPORT int32_t dt_unscale_f32(float* g, int64_t n, const float* scale, int32_t* found_inf, cudaStream_t stream);

/* For t < count, unscale ptrs[t][0 .. sizes[t]). ptrs and sizes are device arrays. One launch per 65535 tensors
 * (the grid.y limit), so any count runs. */
DT_EXPORT int32_t dt_unscale_multi_f32(float* const* ptrs, const int64_t* sizes, int32_t count, const float* scale,
                                       int32_t* found_inf, cudaStream_t stream);

/* x[i] *= *scale: the loss gradient multiplied by the device-side loss scale before backward, so the scale never
 * visits the host. n <= 0 is a no-op. */
DT_EXPORT int32_t dt_scale_by_f32(float* x, int64_t n, const float* scale, cudaStream_t stream);

/* GradScaler.update: if *found_inf { *scale *= backoff; *growth_tracker = 0 } else if ++*growth_tracker >=
 * interval { *scale *= growth (unless that is not finite); *growth_tracker = 0 }; then *found_inf = 0 and, when the
 * step was clean, *step_count += 1 (the optimizer step count that bias correction reads). step_count may be NULL.
 * growth_factor finite and >= 1, 0 < backoff_factor <= 1, growth_interval >= 1, else cudaErrorInvalidValue: a static
 * scale is growth 1, backoff 1, interval INT32_MAX. The tracker is counted in 64 bits (no overflow). */
DT_EXPORT int32_t dt_update_scale(float* scale, int32_t* growth_tracker, int32_t* found_inf, int64_t* step_count,
                                  float growth_factor, float backoff_factor, int32_t growth_interval, cudaStream_t stream);

/* ---- optimizers (Optim: optim.cu): fp32 master weights, optional 16-bit working copy --------------
 * Every optimizer reads the step number t = *step_count + 1 on the device, or, when step_count is NULL,
 * uses t = step, the host's 1-based count (step < 1 is cudaErrorInvalidValue then); it does nothing when
 * found_inf is non-NULL and *found_inf != 0, so a skipped step changes no weight and no state. half_kind is a
 * DT_HALF_* code (another value is cudaErrorInvalidValue), and w_half is non-NULL unless it is DT_HALF_NONE. */

/* torch.optim.SGD (caffe_form == 0): g += wd*w; b = (t == 1) ? g : momentum*b + (1 - dampening)*g;
 * g = nesterov ? g + momentum*b : b; w -= lr*g.
 * Caffe / Sutskever form (caffe_form != 0, no dampening): g += wd*w; v_prev = (t == 1) ? 0 : v;
 * v = momentum*v_prev + lr*g; w -= nesterov ? (1 + momentum)*v - momentum*v_prev : v.
 * With momentum == 0 the buffer is not touched (and may be NULL). */
DT_EXPORT int32_t dt_sgd_f32(float* w, const float* g, float* momentum_buf, void* w_half, int32_t half_kind, int64_t n,
                             float lr, float momentum, float dampening, float weight_decay, int32_t nesterov, int32_t caffe_form,
                             const int64_t* step_count, int64_t step, const int32_t* found_inf, cudaStream_t stream);

/* torch.optim.Adam (decoupled == 0: g += wd*w, the L2 form) and torch.optim.AdamW (decoupled != 0:
 * w -= lr*wd*w first). m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps). */
DT_EXPORT int32_t dt_adam_f32(float* w, const float* g, float* m, float* v, void* w_half, int32_t half_kind, int64_t n,
                              float lr, float beta1, float beta2, float eps, float weight_decay, int32_t decoupled,
                              const int64_t* step_count, int64_t step, const int32_t* found_inf, cudaStream_t stream);

/* ---- casts (Elementwise: elementwise.cu) ---------------------------------------------------------------------------- */
DT_EXPORT int32_t dt_cast_f32_to_f16(const float* x, void* y, int64_t n, cudaStream_t stream);
DT_EXPORT int32_t dt_cast_f16_to_f32(const void* x, float* y, int64_t n, cudaStream_t stream);
DT_EXPORT int32_t dt_cast_f32_to_bf16(const float* x, void* y, int64_t n, cudaStream_t stream);
DT_EXPORT int32_t dt_cast_bf16_to_f32(const void* x, float* y, int64_t n, cudaStream_t stream);

/* ---- fused softmax cross-entropy (Loss: loss.cu); PyTorch: F.cross_entropy(reduction='mean') ----
 * logits (N, K) fp32, labels (N) int32 in [0, K). *loss = mean over rows of -log softmax(z)[label],
 * WRITTEN (not accumulated; NaN for N = 0, the mean of nothing); when dlogits is non-NULL,
 * dlogits = k*softmax(z) - k*onehot with k = s/N, s = (scale ? *scale : 1) * host_scale, the loss scale
 * folded in (dlogits may be logits); when correct is non-NULL, *correct = the number of rows whose
 * first maximum is the label, WRITTEN. A label outside [0, K) sets *bad_label = 1 (if non-NULL) and the
 * row contributes nothing (its dlogits row is 0). Deterministic: one block per row writes the row's loss
 * to scratch (cudaMallocAsync, or cudaMalloc where the device has no memory pools; 12 bytes a row) and one
 * block sums the rows in a fixed order in double; no atomics, so *loss and *correct repeat bit for bit.
 * K ≤ 2^24 (the first-maximum index is reduced as a float); larger K returns cudaErrorInvalidValue. */
DT_EXPORT int32_t dt_softmax_xent_f32(const float* logits, const int32_t* labels, int64_t n, int64_t k, float* loss,
                                      float* dlogits, float* correct, const float* scale, float host_scale, int32_t* bad_label,
                                      cudaStream_t stream);

/* ==== ABI v3 ==========================================================================================
 * Common rules: all return the cudaError_t of their launches (cudaErrorInvalidValue for a bad argument,
 * checked on the host before anything is launched) and end with the stream; counts and sizes are 64-bit
 * element counts; a count of 0 launches nothing and returns cudaSuccess unless the export says otherwise
 * (the reductions still WRITE their result). Nothing synchronises with the host. Reductions are
 * deterministic: fixed per-thread element sets, fixed shuffle trees, a block count that depends on the
 * count only and, where one block is not enough, one final block over the per-block partials held in
 * stream-ordered scratch (cudaMallocAsync / cudaFreeAsync, legal inside CUDA graph capture). No float
 * atomics anywhere, so results repeat bit for bit on every run and every GPU. */

/* Storage types of the dtype-generic kernels (`dtype`), in the order of the managed enum DType
 * {Float32, Float16, BFloat16}. Those kernels load the storage type, compute in fp32 and store with
 * round-to-nearest-even (__float2half_rn / __float2bfloat16_rn). An unknown code is cudaErrorInvalidValue. */
#define DT_F32  0
#define DT_F16  1
#define DT_BF16 2

/* Layout flag `nhwc`: 0 = NCHW, offset ((n*C + c)*H + h)*W + w; 1 = NHWC, offset ((n*H + h)*W + w)*C + c,
 * over the logical dims (n, c, h, w). A rank-2 tensor (N, C) is passed as h = w = 1. */

/* ---- element-wise (Elementwise: elementwise.cu); the CPU backend's Copy / Fill / Axpby / Add ----------------------- */

/* y[n, c, h, w] = x[n, c, h, w]: IBackend.Copy with a layout change (x_nhwc != y_nhwc) and/or a dtype
 * change (x_dtype != y_dtype; fp32 -> 16-bit rounds to nearest even, 16-bit -> 16-bit goes through fp32).
 * Plain copies of data of any rank pass n = elements, c = h = w = 1 (one cudaMemcpyAsync when nothing
 * changes). x == y with nothing to change is a no-op; otherwise x and y must not overlap. */
DT_EXPORT int32_t dt_convert(const void* x, int32_t x_dtype, int32_t x_nhwc, void* y, int32_t y_dtype, int32_t y_nhwc,
                             int64_t n, int64_t c, int64_t h, int64_t w, cudaStream_t stream);

/* y[i] = value (rounded to the storage type) for i < count. */
DT_EXPORT int32_t dt_fill(void* y, int32_t dtype, int64_t count, float value, cudaStream_t stream);

/* y[i] = alpha*x[i] + beta*y[i], two products and one sum each rounded (no FMA, as the CPU). When
 * beta == 0, y is written without being read (stale NaN/Inf in y does not propagate). x may be y. */
DT_EXPORT int32_t dt_axpby(const void* x, void* y, int32_t dtype, int64_t count, float alpha, float beta, cudaStream_t stream);

/* y[i] = a[i] + b[i]; y may alias a or b. */
DT_EXPORT int32_t dt_add(const void* a, const void* b, void* y, int32_t dtype, int64_t count, cudaStream_t stream);

/* ---- activations (Activation: activation.cu); IBackend.Activation / ActivationBackward --------------------------- */
#define DT_ACT_RELU       0 /* y = max(x, 0), NaN propagates             dx = y > 0 ? dy : 0*dy     */
#define DT_ACT_LEAKY_RELU 1 /* y = x > 0 ? x : alpha*x                   dx = y > 0 ? dy : alpha*dy */
#define DT_ACT_SIGMOID    2 /* y = 1/(1 + exp(-x))                        dx = (dy*y)*(1 - y)        */
#define DT_ACT_TANH       3 /* y = the CPU's 13/6 rational tanh (Eigen)   dx = dy*(1 - y*y)          */
/* y = f(x) for `kind` (the managed ActivationKind order; alpha is LeakyReLU's slope); y may be x. */
DT_EXPORT int32_t dt_activation(int32_t kind, float alpha, const void* x, void* y, int32_t dtype, int64_t count,
                                cudaStream_t stream);
/* dx = f'(from the forward OUTPUT y)*dy, or dx += that when accumulate != 0; dx may be y or dy. */
DT_EXPORT int32_t dt_activation_backward(int32_t kind, float alpha, const void* y, const void* dy, void* dx, int32_t dtype,
                                         int64_t count, int32_t accumulate, cudaStream_t stream);

/* ---- dropout (Dropout: dropout.cu); IBackend.DropoutForward / DropoutBackward ---------------------------------
 * y[i] = keep(seed, i) ? x[i]*(1/(1 - p)) : 0, or y[i] += that when accumulate != 0, with i the memory
 * index and keep the counter-based SplitMix64 mask of CpuKernels.DropoutKeep, bit for bit:
 *   z = seed + i*0x9E3779B97F4A7C15; z = (z ^ z>>30)*0xBF58476D1CE4E5B9; z = (z ^ z>>27)*0x94D049BB133111EB;
 *   z ^= z>>31; keep = (float)(z >> 40) * 2^-24 >= p.
 * Forward: (x, y, accumulate 0); backward: (dy, dx, accumulate). p outside [0, 1] is cudaErrorInvalidValue;
 * p = 1 drops everything. y may be x. */
DT_EXPORT int32_t dt_dropout(const void* x, void* y, int32_t dtype, int64_t count, float p, uint64_t seed, int32_t accumulate,
                             cudaStream_t stream);

/* ---- PReLU (Activation: activation.cu), fp32; IBackend.PReluForward / PReluBackward -----------------------------------
 * x, y, dy, dx are (n, c, hw) in layout nhwc; alpha and dalpha hold c slopes, or one when shared != 0.
 * Forward: y = x > 0 ? x : alpha[ch]*x (y may be x). */
DT_EXPORT int32_t dt_prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c, int64_t hw, int32_t nhwc,
                                   int32_t shared, cudaStream_t stream);
/* dx (+)= x > 0 ? dy : alpha[ch]*dy (dx may be NULL, or x, or dy); dalpha[ch] (+)= (float)(sum over the
 * channel's elements with x <= 0 of dy*x, in double) -- one block per channel (one in all when shared),
 * deterministic. dalpha is written even when there are no elements (0). */
DT_EXPORT int32_t dt_prelu_backward(const float* x, const float* alpha, const float* dy, float* dx, float* dalpha, int64_t n,
                                    int64_t c, int64_t hw, int32_t nhwc, int32_t shared, int32_t accumulate_dx,
                                    int32_t accumulate_alpha, cudaStream_t stream);

/* ---- channel copies (Join: join.cu); IBackend.CopyChannels / CopyChannelsBackward ----------------
 * Concatenation and the option-A shortcut. src is (n, src_c, src_h, src_w), dst (n, dst_c, dst_h, dst_w),
 * both in layout nhwc, with dst_h = ceil(src_h/stride), dst_w = ceil(src_w/stride) (else, or for channel
 * ranges outside either tensor, stride < 1, channels < 0: cudaErrorInvalidValue).
 * Forward: dst[b, dst_c0 + i, h, w] (+)= src[b, src_c0 + i, h*stride, w*stride] for i < channels; the
 * rest of dst is untouched. src and dst must not overlap. */
DT_EXPORT int32_t dt_copy_channels(const void* src, int64_t src_c, int64_t src_h, int64_t src_w, int64_t src_c0,
                                   void* dst, int64_t dst_c, int64_t dst_h, int64_t dst_w, int64_t dst_c0,
                                   int32_t dtype, int64_t n, int64_t channels, int32_t stride, int32_t nhwc, int32_t accumulate,
                                   cudaStream_t stream);
/* The adjoint: dsrc[b, dsrc_c0 + i, h*stride, w*stride] (+)= ddst[b, ddst_c0 + i, h, w], with ddst
 * (n, ddst_c, ddst_h, ddst_w) = ceil(dsrc_h/stride) x ceil(dsrc_w/stride). Not accumulating, the
 * channels [dsrc_c0, dsrc_c0 + channels) of dsrc are overwritten WHOLE: 0 + ddst on the strided grid and 0
 * at the pixels the stride skipped (their gradient); accumulating, only the grid pixels change. */
DT_EXPORT int32_t dt_copy_channels_backward(const void* ddst, int64_t ddst_c, int64_t ddst_h, int64_t ddst_w, int64_t ddst_c0,
                                            void* dsrc, int64_t dsrc_c, int64_t dsrc_h, int64_t dsrc_w, int64_t dsrc_c0,
                                            int32_t dtype, int64_t n, int64_t channels, int32_t stride, int32_t nhwc,
                                            int32_t accumulate, cudaStream_t stream);

/* ---- losses (Loss: loss.cu), fp32; IBackend.MseLoss / BceWithLogitsLoss ---------------------------------
 * loss[0] is WRITTEN (deterministic two-stage sum in double; NaN when count = 0, the mean of nothing).
 * The gradient, when non-NULL, may alias the prediction (in place).
 * MSE (F.mse_loss): loss = (1/count)*sum (p - t)^2; dpred = (p - t)*k, k = (float)(2*scale/count). */
DT_EXPORT int32_t dt_mse(const float* pred, const float* target, int64_t count, float* loss, float* dpred, float scale,
                         cudaStream_t stream);
/* BCE with logits (F.binary_cross_entropy_with_logits): loss = (1/count)*sum [max(z, 0) - z*t + log(1 + e^-|z|)];
 * dz = (sigmoid(z) - t)*k, k = (float)(scale/count). */
DT_EXPORT int32_t dt_bce_logits(const float* z, const float* t, int64_t count, float* loss, float* dz, float scale,
                                cudaStream_t stream);

/* ---- more optimizers (Optim: optim.cu), fp32; the CPU backend's AdagradStep / RmsPropStep -------------
 * Same operations in the same order as the CPU, each rounded on its own (no FMA): bit-identical results.
 * Adagrad (torch.optim.Adagrad), step >= 1: clr = lr/(1 + (step - 1)*lr_decay) (fp32, host);
 * g' = g + wd*w; sum += g'*g'; w -= (clr*g')/(sqrt(sum) + eps). g itself is not modified. */
DT_EXPORT int32_t dt_adagrad_f32(float* w, const float* g, float* sum, int64_t count, float lr, float lr_decay,
                                 float weight_decay, float eps, int64_t step, cudaStream_t stream);
/* RMSprop (torch.optim.RMSprop): g' = g + wd*w; v = alpha*v + ((1 - alpha)*g')*g';
 * centered: ga = alpha*ga + (1 - alpha)*g', d = sqrt(v - ga*ga) + eps, else d = sqrt(v) + eps;
 * momentum > 0: b = momentum*b + g'/d, w -= lr*b; else w -= (lr*g')/d.
 * momentum_buf may be NULL unless momentum > 0; grad_avg may be NULL unless centered. */
DT_EXPORT int32_t dt_rmsprop_f32(float* w, const float* g, float* v, float* momentum_buf, float* grad_avg, int64_t count,
                                 float lr, float alpha, float eps, float weight_decay, float momentum, int32_t centered,
                                 cudaStream_t stream);
/* Elastic-net penalty gradient: g = (g + l1*sign(w)) + l2*w in that order (the CPU twin's), with
 * sign(w) = (0 < w) - (w < 0), so sign(0) = 0 (and sign(NaN) = 0, as PyTorch's formula). */
DT_EXPORT int32_t dt_penalty_grad_f32(const float* w, float* g, int64_t count, float l1, float l2, cudaStream_t stream);

/* ---- clip by global norm (Clip: clip.cu); torch.nn.utils.clip_grad_norm_ ----------------------------------
 * *out = sum x^2, WRITTEN (0 for count = 0): each thread sums its squares in fp32 and folds them into a
 * double every 32 elements; blocks and the final stage sum in double; deterministic. */
DT_EXPORT int32_t dt_global_norm_sq_f32(const float* x, int64_t count, float* out, cudaStream_t stream);
/* g *= c with c = min(1, max_norm/(sqrt(*norm_sq) + eps)) in fp32, *norm_sq read on the device (no host
 * sync); a NaN c (non-finite norm) is applied as torch.clamp leaves it; c == 1 leaves g untouched.
 * PyTorch's eps is 1e-6. */
DT_EXPORT int32_t dt_scale_by_norm_f32(float* g, int64_t count, const float* norm_sq, float max_norm, float eps,
                                       cudaStream_t stream);

#endif

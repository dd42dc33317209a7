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

/* Returns DT_KERNELS_ABI_VERSION, so the bindings can refuse a mismatched library. */
DT_EXPORT int32_t dt_abi_version(void);

/* Returns the CUDA runtime version the library was built against (e.g. 11080), or 0. */
DT_EXPORT int32_t dt_cuda_runtime_version(void);

/* Kinds of the reduced-precision working copy an optimizer writes beside the fp32 master weights. */
#define DT_HALF_NONE 0 /* no copy */
#define DT_HALF_F16  1 /* IEEE binary16 */
#define DT_HALF_BF16 2 /* bfloat16 */

/* ---- loss scaling (loss_scale.cu); PyTorch: torch.cuda.amp.GradScaler ------------------------------
 * g[i] *= 1 / *scale; *found_inf = 1 if any result is not finite (never cleared here). */
DT_EXPORT int32_t dt_unscale_f32(float* g, int64_t n, const float* scale, int32_t* found_inf, cudaStream_t stream);

/* One launch over many tensors: for t < count, unscale ptrs[t][0 .. sizes[t]). ptrs and sizes are device arrays. */
DT_EXPORT int32_t dt_unscale_multi_f32(float* const* ptrs, const int64_t* sizes, int32_t count, const float* scale,
                                       int32_t* found_inf, cudaStream_t stream);

/* GradScaler.update: if *found_inf { *scale *= backoff; *growth_tracker = 0 } else if ++*growth_tracker ==
 * interval { *scale *= growth; *growth_tracker = 0 }; then *found_inf = 0 and, when the step was clean,
 * *step_count += 1 (the optimizer step count that bias correction reads). step_count may be NULL. */
DT_EXPORT int32_t dt_update_scale(float* scale, int32_t* growth_tracker, int32_t* found_inf, int64_t* step_count,
                                  float growth_factor, float backoff_factor, int32_t growth_interval, cudaStream_t stream);

/* ---- optimizers (sgd.cu, adamw.cu): fp32 master weights, optional 16-bit working copy --------------
 * Every optimizer reads the step number t = *step_count + 1 on the device and does nothing when
 * found_inf is non-NULL and *found_inf != 0, so a skipped step changes no weight and no state. */

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

/* ---- casts (cast.cu) ---------------------------------------------------------------------------- */
DT_EXPORT int32_t dt_cast_f32_to_f16(const float* x, void* y, int64_t n, cudaStream_t stream);
DT_EXPORT int32_t dt_cast_f16_to_f32(const void* x, float* y, int64_t n, cudaStream_t stream);
DT_EXPORT int32_t dt_cast_f32_to_bf16(const float* x, void* y, int64_t n, cudaStream_t stream);
DT_EXPORT int32_t dt_cast_bf16_to_f32(const void* x, float* y, int64_t n, cudaStream_t stream);

/* ---- fused softmax cross-entropy (softmax_xent.cu); PyTorch: F.cross_entropy(reduction='mean') ----
 * logits (N, K) fp32, labels (N) int32 in [0, K). *loss += mean over rows of -log softmax(z)[label]
 * (zero *loss first); when dlogits is non-NULL, dlogits = s*(softmax(z) - onehot)/N with
 * s = (scale ? *scale : 1), the loss scale folded in; when correct is non-NULL, *correct += rows whose
 * first maximum is the label. A label outside [0, K) sets *bad_label = 1 (if non-NULL) and the row
 * contributes nothing. */
DT_EXPORT int32_t dt_softmax_xent_f32(const float* logits, const int32_t* labels, int64_t n, int64_t k, float* loss,
                                      float* dlogits, float* correct, const float* scale, float host_scale, int32_t* bad_label,
                                      cudaStream_t stream);

/* ==== ABI v3 ========================================================================================== */

/* Storage types of the dtype-generic kernels, in the order of the managed enum DType. They load the
 * storage type, compute in fp32 and store with round-to-nearest-even (__float2half_rn, __float2bfloat16_rn). */
#define DT_F32  0
#define DT_F16  1
#define DT_BF16 2

/* Layout flag: 0 = NCHW, 1 = NHWC, over the logical dims (n, c, h, w); a rank-2 tensor (N, C) has h = w = 1. */

/* ---- elementwise (elementwise.cu) ------------------------------------------------------------------- */
DT_EXPORT int32_t dt_convert(const void* x, int32_t x_dtype, int32_t x_nhwc, void* y, int32_t y_dtype, int32_t y_nhwc,
                             int64_t n, int64_t c, int64_t h, int64_t w, cudaStream_t stream);
DT_EXPORT int32_t dt_fill(void* y, int32_t dtype, int64_t count, float value, cudaStream_t stream);
DT_EXPORT int32_t dt_axpby(const void* x, void* y, int32_t dtype, int64_t count, float alpha, float beta, cudaStream_t stream);
DT_EXPORT int32_t dt_add(const void* a, const void* b, void* y, int32_t dtype, int64_t count, cudaStream_t stream);

/* ---- activations (activation.cu) -------------------------------------------------------------------- */
#define DT_ACT_RELU       0
#define DT_ACT_LEAKY_RELU 1
#define DT_ACT_SIGMOID    2
#define DT_ACT_TANH       3
DT_EXPORT int32_t dt_activation(int32_t kind, float alpha, const void* x, void* y, int32_t dtype, int64_t count,
                                cudaStream_t stream);
DT_EXPORT int32_t dt_activation_backward(int32_t kind, float alpha, const void* y, const void* dy, void* dx, int32_t dtype,
                                         int64_t count, int32_t accumulate, cudaStream_t stream);

/* ---- dropout (dropout.cu) --------------------------------------------------------------------------- */
DT_EXPORT int32_t dt_dropout(const void* x, void* y, int32_t dtype, int64_t count, float p, uint64_t seed, int32_t accumulate,
                             cudaStream_t stream);

/* ---- PReLU (prelu.cu) ------------------------------------------------------------------------------- */
DT_EXPORT int32_t dt_prelu_forward(const float* x, const float* alpha, float* y, int64_t n, int64_t c, int64_t hw, int32_t nhwc,
                                   int32_t shared, cudaStream_t stream);
DT_EXPORT int32_t dt_prelu_backward(const float* x, const float* alpha, const float* dy, float* dx, float* dalpha, int64_t n,
                                    int64_t c, int64_t hw, int32_t nhwc, int32_t shared, int32_t accumulate_dx,
                                    int32_t accumulate_alpha, cudaStream_t stream);

/* ---- channel copies (copy_channels.cu) -------------------------------------------------------------- */
DT_EXPORT int32_t dt_copy_channels(const void* src, int64_t src_c, int64_t src_h, int64_t src_w, int64_t src_c0,
                                   void* dst, int64_t dst_c, int64_t dst_h, int64_t dst_w, int64_t dst_c0,
                                   int32_t dtype, int64_t n, int64_t channels, int32_t stride, int32_t nhwc, int32_t accumulate,
                                   cudaStream_t stream);
DT_EXPORT int32_t dt_copy_channels_backward(const void* ddst, int64_t ddst_c, int64_t ddst_h, int64_t ddst_w, int64_t ddst_c0,
                                            void* dsrc, int64_t dsrc_c, int64_t dsrc_h, int64_t dsrc_w, int64_t dsrc_c0,
                                            int32_t dtype, int64_t n, int64_t channels, int32_t stride, int32_t nhwc,
                                            int32_t accumulate, cudaStream_t stream);

/* ---- losses (losses.cu) ----------------------------------------------------------------------------- */
DT_EXPORT int32_t dt_mse(const float* pred, const float* target, int64_t count, float* loss, float* dpred, float scale,
                         cudaStream_t stream);
DT_EXPORT int32_t dt_bce_logits(const float* z, const float* t, int64_t count, float* loss, float* dz, float scale,
                                cudaStream_t stream);

/* ---- more optimizers (optim_extra.cu) --------------------------------------------------------------- */
DT_EXPORT int32_t dt_adagrad_f32(float* w, const float* g, float* sum, int64_t count, float lr, float lr_decay,
                                 float weight_decay, float eps, int64_t step, cudaStream_t stream);
DT_EXPORT int32_t dt_rmsprop_f32(float* w, const float* g, float* v, float* momentum_buf, float* grad_avg, int64_t count,
                                 float lr, float alpha, float eps, float weight_decay, float momentum, int32_t centered,
                                 cudaStream_t stream);
DT_EXPORT int32_t dt_penalty_grad_f32(const float* w, float* g, int64_t count, float l1, float l2, cudaStream_t stream);

/* ---- gradient clipping (norm.cu) -------------------------------------------------------------------- */
DT_EXPORT int32_t dt_global_norm_sq_f32(const float* x, int64_t count, float* out, cudaStream_t stream);
DT_EXPORT int32_t dt_scale_by_norm_f32(float* g, int64_t count, const float* norm_sq, float max_norm, float eps,
                                       cudaStream_t stream);

#endif

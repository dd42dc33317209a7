using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>
/// DeepTrain's CUDA kernel library, <c>native/include/deeptrain_kernels.h</c>: one import per export, named
/// as in C. Every function returns the <c>cudaError_t</c> of its launch as an int (check it with
/// <c>Check((cudaError_t)…)</c>); pointers are device pointers, counts are 64-bit, and the stream is the
/// caller's. Flags and the loss scale stay on the device.
/// </summary>
internal static unsafe partial class Kernels
{
    /// <summary>The ABI version these declarations were written against (DT_KERNELS_ABI_VERSION).</summary>
    public const int AbiVersion = 3;

    /// <summary>DT_HALF_NONE / DT_HALF_F16 / DT_HALF_BF16: the optimizers' 16-bit working copy.</summary>
    public enum dt_half_kind : int { DT_HALF_NONE = 0, DT_HALF_F16 = 1, DT_HALF_BF16 = 2 }

    /// <summary>DT_F32: fp32 storage (the dtype-generic kernels' <c>dtype</c>, in the order of the managed DType).</summary>
    public const int DT_F32 = 0;
    /// <summary>DT_F16: IEEE binary16 storage, computed in fp32, stored round-to-nearest-even.</summary>
    public const int DT_F16 = 1;
    /// <summary>DT_BF16: bfloat16 storage, computed in fp32, stored round-to-nearest-even.</summary>
    public const int DT_BF16 = 2;

    /// <summary>DT_ACT_*: the activation kinds of <see cref="dt_activation"/>, in the order of the managed ActivationKind.</summary>
    public enum dt_activation_kind : int { DT_ACT_RELU = 0, DT_ACT_LEAKY_RELU = 1, DT_ACT_SIGMOID = 2, DT_ACT_TANH = 3 }

    /// <summary>The library's ABI version; bindings refuse a library whose version differs from <see cref="AbiVersion"/>.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_abi_version();
    /// <summary>The CUDA runtime version the library was built with, or 0 when it cannot tell (no driver).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cuda_runtime_version();
    /// <summary>
    /// cudaSetDevice in the library's own (statically linked) CUDA runtime, whose current device is separate from the
    /// shared libcudart's: call it beside <c>Cudart.cudaSetDevice</c> so the kernels launch on that device.
    /// </summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_set_device(int device);

    /// <summary>g *= 1/*scale; *found_inf = 1 on any non-finite result.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_unscale_f32(float* g, long n, float* scale, int* found_inf, IntPtr stream);
    /// <summary>Unscale many tensors in one launch (device arrays of pointers and sizes).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_unscale_multi_f32(float** ptrs, long* sizes, int count, float* scale, int* found_inf, IntPtr stream);
    /// <summary>x *= *scale (the loss gradient times the device-side loss scale).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_scale_by_f32(float* x, long n, float* scale, IntPtr stream);
    /// <summary>GradScaler's update on the device; clears *found_inf and advances *step_count on clean steps.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_update_scale(float* scale, int* growth_tracker, int* found_inf, long* step_count,
        float growth_factor, float backoff_factor, int growth_interval, IntPtr stream);
    /// <summary>Fused SGD (PyTorch or Caffe momentum form), skipped when *found_inf is set; step t = *step_count + 1, or <c>step</c> when step_count is null.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_sgd_f32(float* w, float* g, float* momentum_buf, void* w_half, int half_kind, long n,
        float lr, float momentum, float dampening, float weight_decay, int nesterov, int caffe_form, long* step_count, long step, int* found_inf, IntPtr stream);
    /// <summary>Fused Adam (decoupled = 0) or AdamW (decoupled = 1), skipped when *found_inf is set; step t = *step_count + 1, or <c>step</c> when step_count is null.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_adam_f32(float* w, float* g, float* m, float* v, void* w_half, int half_kind, long n,
        float lr, float beta1, float beta2, float eps, float weight_decay, int decoupled, long* step_count, long step, int* found_inf, IntPtr stream);
    /// <summary>fp32 → fp16.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_f32_to_f16(float* x, void* y, long n, IntPtr stream);
    /// <summary>fp16 → fp32.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_f16_to_f32(void* x, float* y, long n, IntPtr stream);
    /// <summary>fp32 → bf16.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_f32_to_bf16(float* x, void* y, long n, IntPtr stream);
    /// <summary>bf16 → fp32.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_bf16_to_f32(void* x, float* y, long n, IntPtr stream);
    /// <summary>Fused softmax cross-entropy forward and backward with the loss scale (*scale, or 1 when null, times host_scale) folded in; *loss and *correct are written, deterministically.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_softmax_xent_f32(float* logits, int* labels, long n, long k, float* loss,
        float* dlogits, float* correct, float* scale, float host_scale, int* bad_label, IntPtr stream);

    // ---- ABI v3 ----

    /// <summary>y = x with a layout (nhwc 0/1) and/or dtype change over logical (n, c, h, w); plain copies pass c = h = w = 1.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_convert(void* x, int x_dtype, int x_nhwc, void* y, int y_dtype, int y_nhwc,
        long n, long c, long h, long w, IntPtr stream);
    /// <summary>y[i] = value for i &lt; count.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_fill(void* y, int dtype, long count, float value, IntPtr stream);
    /// <summary>y = alpha·x + beta·y; y is not read when beta == 0.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_axpby(void* x, void* y, int dtype, long count, float alpha, float beta, IntPtr stream);
    /// <summary>y = a + b; y may alias a or b.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_add(void* a, void* b, void* y, int dtype, long count, IntPtr stream);
    /// <summary>y = act(x) for a <see cref="dt_activation_kind"/>; in place allowed.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_activation(int kind, float alpha, void* x, void* y, int dtype, long count, IntPtr stream);
    /// <summary>dx (+)= dy·act'(from the output y); in place allowed.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_activation_backward(int kind, float alpha, void* y, void* dy, void* dx, int dtype,
        long count, int accumulate, IntPtr stream);
    /// <summary>y (+)= x·keep(seed, i)/(1 − p) with the CPU backend's mask, bit for bit.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_dropout(void* x, void* y, int dtype, long count, float p, ulong seed, int accumulate,
        IntPtr stream);
    /// <summary>y = x &gt; 0 ? x : alpha[c]·x (one alpha when shared != 0).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_prelu_forward(float* x, float* alpha, float* y, long n, long c, long hw, int nhwc,
        int shared, IntPtr stream);
    /// <summary>dx (+)= dy·(x &gt; 0 ? 1 : alpha); dalpha (+)= Σ dy·x over x ≤ 0, deterministically; dx may be null.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_prelu_backward(float* x, float* alpha, float* dy, float* dx, float* dalpha, long n,
        long c, long hw, int nhwc, int shared, int accumulate_dx, int accumulate_alpha, IntPtr stream);
    /// <summary>dst[:, dst_c0 + i, h, w] (+)= src[:, src_c0 + i, h·stride, w·stride] (IBackend.CopyChannels).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_copy_channels(void* src, long src_c, long src_h, long src_w, long src_c0,
        void* dst, long dst_c, long dst_h, long dst_w, long dst_c0, int dtype, long n, long channels, int stride, int nhwc, int accumulate,
        IntPtr stream);
    /// <summary>The adjoint: dsrc[:, dsrc_c0 + i, h·stride, w·stride] (+)= ddst[:, ddst_c0 + i, h, w] (IBackend.CopyChannelsBackward).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_copy_channels_backward(void* ddst, long ddst_c, long ddst_h, long ddst_w, long ddst_c0,
        void* dsrc, long dsrc_c, long dsrc_h, long dsrc_w, long dsrc_c0, int dtype, long n, long channels, int stride, int nhwc, int accumulate,
        IntPtr stream);
    /// <summary>*loss = mean (pred − target)² (written, deterministic); dpred = scale·2(pred − target)/count when non-null.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_mse(float* pred, float* target, long count, float* loss, float* dpred, float scale,
        IntPtr stream);
    /// <summary>*loss = mean BCE-with-logits (written, deterministic); dz = scale·(σ(z) − t)/count when non-null.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_bce_logits(float* z, float* t, long count, float* loss, float* dz, float scale,
        IntPtr stream);
    /// <summary>torch.optim.Adagrad step number <paramref name="step"/> (1-based).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_adagrad_f32(float* w, float* g, float* sum, long count, float lr, float lr_decay,
        float weight_decay, float eps, long step, IntPtr stream);
    /// <summary>torch.optim.RMSprop; momentum_buf null when momentum == 0, grad_avg null unless centered.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_rmsprop_f32(float* w, float* g, float* v, float* momentum_buf, float* grad_avg,
        long count, float lr, float alpha, float eps, float weight_decay, float momentum, int centered, IntPtr stream);
    /// <summary>g += l1·sign(w) + l2·w, sign(0) = 0.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_penalty_grad_f32(float* w, float* g, long count, float l1, float l2, IntPtr stream);
    /// <summary>*out = Σ x² (written, deterministic).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_global_norm_sq_f32(float* x, long count, float* @out, IntPtr stream);
    /// <summary>g *= min(1, max_norm/(sqrt(*norm_sq) + eps)), the norm read on the device.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_scale_by_norm_f32(float* g, long count, float* norm_sq, float max_norm, float eps,
        IntPtr stream);
}

using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>
/// DeepTrain's CUDA kernel library, <c>native/include/deeptrain_kernels.h</c>: one import per export, named
/// as in C. Every function returns the <c>cudaError_t</c> of its launch as an int (check it with
/// <c>Check((cudaError_t)…)</c>); pointers are device pointers, counts are 64-bit, and the stream is the
/// caller's. Flags and the loss scale stay on the device.
/// </summary>
public static unsafe partial class Kernels
{
    /// <summary>The ABI version these declarations were written against (DT_KERNELS_ABI_VERSION).</summary>
    public const int AbiVersion = 2;

    /// <summary>DT_HALF_NONE / DT_HALF_F16 / DT_HALF_BF16: the optimizers' 16-bit working copy.</summary>
    public enum dt_half_kind : int { DT_HALF_NONE = 0, DT_HALF_F16 = 1, DT_HALF_BF16 = 2 }

    /// <summary>The library's ABI version; bindings refuse a library whose version differs from <see cref="AbiVersion"/>.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_abi_version();
    /// <summary>The CUDA runtime version the library was built with, or 0 when it cannot tell (no driver).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cuda_runtime_version();

    /// <summary>g *= 1/*scale; *found_inf = 1 on any non-finite result.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_unscale_f32(float* g, long n, float* scale, int* found_inf, IntPtr stream);
    /// <summary>Unscale many tensors in one launch (device arrays of pointers and sizes).</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_unscale_multi_f32(float** ptrs, long* sizes, int count, float* scale, int* found_inf, IntPtr stream);
    /// <summary>GradScaler's update on the device; clears *found_inf and advances *step_count on clean steps.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_update_scale(float* scale, int* growth_tracker, int* found_inf, long* step_count,
        float growth_factor, float backoff_factor, int growth_interval, IntPtr stream);
    /// <summary>Fused SGD (PyTorch or Caffe momentum form), skipped when *found_inf is set.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_sgd_f32(float* w, float* g, float* momentum_buf, void* w_half, int half_kind, long n,
        float lr, float momentum, float dampening, float weight_decay, int nesterov, int caffe_form, long* step_count, int* found_inf, IntPtr stream);
    /// <summary>Fused Adam (decoupled = 0) or AdamW (decoupled = 1), skipped when *found_inf is set.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_adam_f32(float* w, float* g, float* m, float* v, void* w_half, int half_kind, long n,
        float lr, float beta1, float beta2, float eps, float weight_decay, int decoupled, long* step_count, int* found_inf, IntPtr stream);
    /// <summary>fp32 → fp16.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_f32_to_f16(float* x, void* y, long n, IntPtr stream);
    /// <summary>fp16 → fp32.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_f16_to_f32(void* x, float* y, long n, IntPtr stream);
    /// <summary>fp32 → bf16.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_f32_to_bf16(float* x, void* y, long n, IntPtr stream);
    /// <summary>bf16 → fp32.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_cast_bf16_to_f32(void* x, float* y, long n, IntPtr stream);
    /// <summary>Fused softmax cross-entropy forward and backward with the loss scale folded in.</summary>
    [LibraryImport(Libraries.Kernels)] public static partial int dt_softmax_xent_f32(float* logits, int* labels, long n, long k, float* loss,
        float* dlogits, float* correct, float* scale, int* bad_label, IntPtr stream);
}

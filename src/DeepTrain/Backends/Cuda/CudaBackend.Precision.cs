using DeepTrain.Interop;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cuda;

// Mixed storage types on the GPU: every operation accepts the operand dtype combinations CpuBackend accepts (each
// floating operand Float32, Float16 or BFloat16 on its own), with CpuBackend's semantics — compute in fp32, one rounding
// on store (round to nearest even).
//
// Three tiers, fastest first:
// 1. Native: one storage type for the activations of a call, which cuDNN / cuBLAS / the kernel library take as is with
//    fp32 compute (PSEUDO_HALF / PSEUDO_BFLOAT16 convolutions with a CUDNN_DATA_FLOAT compute type and tensor-op math;
//    batch norm with 16-bit x/y/dx/dy and fp32 scale, bias, mean and variance; cublasGemmEx with 16-bit A/B and a
//    C of the same type or CUDA_R_32F under CUBLAS_COMPUTE_32F; the dtype-generic kernels).
// 2. 16-bit into fp32: a weight or bias gradient of 16-bit x/dy written into an fp32 gradient (the mixed-precision plan's
//    conv backward-filter and conv/linear bias gradients). cuDNN 9.6's cudnn_cnn.h declares
//    "cudnnConvolutionBackwardFilter(..., const cudnnTensorDescriptor_t xDesc, ..., const cudnnFilterDescriptor_t dwDesc,
//    void *dw)" and "cudnnConvolutionBackwardBias(..., const cudnnTensorDescriptor_t dyDesc, ..., const
//    cudnnTensorDescriptor_t dbDesc, void *db)" with no rule on the types in the header text; the rule is in the cuDNN
//    API Reference's table of supported configurations for backward-filter, where x, dy and dw share one type
//    (PSEUDO_HALF_CONFIG: all CUDNN_DATA_HALF with a CUDNN_DATA_FLOAT compute type; PSEUDO_BFLOAT16_CONFIG likewise) and
//    no configuration pairs a HALF x with a FLOAT dw. So the gradient is computed in 16-bit workspace scratch with fp32
//    accumulation inside cuDNN (db likewise, in dy's type), then widened into the fp32 gradient, or added to it when
//    accumulating (dt_convert, then dt_axpby in fp32). Precision: the batch's contribution is rounded once to 16 bits
//    before it reaches the fp32 gradient (relative error ≤ 2⁻¹¹ for fp16, 2⁻⁸ for bf16), where the CPU rounds it to
//    fp32. PyTorch AMP does exactly this (dw comes out of cuDNN in fp16 and is cast into the fp32 master gradient); an
//    fp16 dw that overflows becomes ±∞, which the loss scaler detects and answers by skipping the step and backing off
//    the scale.
// 3. Widened: any other mix (the classifier's fp32 logits gradient against its 16-bit input and weights, its 16-bit
//    bias added to the fp32 logits, 16-bit PReLU, …) runs as CpuBackend runs it: each 16-bit operand is widened into an fp32 temporary (stream-ordered
//    allocation), the fp32 operation runs, and the outputs are rounded back into their 16-bit storage. These mixes are
//    rare in a plan and small (the classifier head), so the extra copies cost little.
public sealed unsafe partial class CudaBackend
{
    /// <summary>True when <paramref name="t"/> is stored in 16 bits.</summary>
    private static bool IsReduced(Tensor? t) => t is not null && StorageRoutes.IsReduced(t.DType);

    /// <summary>The storage types of the given operands, nulls left out, into <paramref name="types"/>; returns how many.</summary>
    private static int TypesOf(ReadOnlySpan<Tensor?> operands, Span<DType> types)
    {
        int n = 0;
        foreach (var t in operands)
            if (t is not null) types[n++] = t.DType;
        return n;
    }

    /// <summary>True when any given operand is stored in 16 bits (a call on an fp32-only kernel then runs widened).</summary>
    private static bool AnyReduced(params ReadOnlySpan<Tensor?> operands)
    {
        Span<DType> types = stackalloc DType[operands.Length];
        return StorageRoutes.Fp32Only(types[..TypesOf(operands, types)]) == StorageRoute.Widened;
    }

    /// <summary>True when the given operands (nulls ignored) must run widened: <see cref="StorageRoutes.OneType"/>.</summary>
    private static bool MixedStorage(params ReadOnlySpan<Tensor?> operands)
    {
        Span<DType> types = stackalloc DType[operands.Length];
        return StorageRoutes.OneType(types[..TypesOf(operands, types)]) == StorageRoute.Widened;
    }

    /// <inheritdoc />
    /// <remarks>
    /// The decision is <see cref="PrecisionSupport"/> on this device's compute capability: fp16 needs 5.3 (half
    /// arithmetic; cuDNN's fp16 convolutions, tensor cores from 7.0); bf16 needs 8.0 (cuDNN's bf16 convolutions and
    /// __nv_bfloat16 arithmetic).
    /// </remarks>
    public bool SupportsPrecision(Precision precision, out string reason)
        => PrecisionSupport(precision, ComputeCapability, Device.ToString(), out reason);

    /// <summary>
    /// Whether a device of compute capability <paramref name="computeCapability"/> (10·major + minor) trains in
    /// <paramref name="precision"/>: fp32 everywhere; fp16 needs native half arithmetic (sm_53 or newer, which every GPU
    /// that CUDA 12 and cuDNN 9 support has, so this is about old boards under CUDA 11 and cuDNN 8); bf16 needs sm_80
    /// (Ampere) or newer, the first with bfloat16 in cuDNN. When not, <paramref name="reason"/> names the device, its
    /// architecture, what the precision needs and what to use instead.
    /// </summary>
    /// <param name="precision">The requested training precision.</param>
    /// <param name="computeCapability">10·major + minor, e.g. 90 for an H100, 52 for a Maxwell GTX 980.</param>
    /// <param name="device">The device as the user knows it, e.g. "cuda:0".</param>
    /// <param name="reason">Empty when supported; otherwise why not and what to do.</param>
    public static bool PrecisionSupport(Precision precision, int computeCapability, string device, out string reason)
    {
        int cc = computeCapability;
        (bool ok, reason) = precision switch
        {
            Precision.Float32 => (true, ""),
            Precision.Float16 => (cc >= 53, $"{device} (sm_{cc}) has no fp16 arithmetic (fp16 training needs sm_53 or newer); use FitOptions.Precision = fp32"),
            Precision.BFloat16 => (cc >= 80, $"{device} (sm_{cc}) has no bfloat16 support in cuDNN (bf16 training needs sm_80, Ampere, or newer); use FitOptions.Precision = fp16 or fp32"),
            _ => (false, $"unknown precision {precision}; expected Float32, Float16 or BFloat16"),
        };
        if (ok) reason = "";
        return ok;
    }

    /// <summary>
    /// Checks that every given operand lives on this backend's device (as <see cref="Ptr"/>), so that a call about to run
    /// widened reports a misplaced operand under its own name rather than under the widening Copy.
    /// </summary>
    private void OnThisDevice(string op, params ReadOnlySpan<(string What, Tensor? T)> operands)
    {
        foreach (var (what, t) in operands) PtrOrNull(op, what, t);
    }

    /// <summary>
    /// Device memory for a temporary of this backend (not zeroed, unlike <see cref="Allocate"/>): counted in
    /// <see cref="LiveBytes"/> until disposed, freed in stream order.
    /// </summary>
    private CudaDeviceBuffer AllocateTemporary(long bytes)
    {
        nint p = RawAlloc(bytes);
        Interlocked.Add(ref _liveBytes, bytes);
        return new CudaDeviceBuffer(this, p, bytes, _poolsSupported);
    }

    /// <summary>
    /// dst (fp32, <paramref name="count"/> values) = or += src (16-bit <paramref name="srcType"/>, same count), the
    /// widening step of tier 2. <paramref name="nhwcSource"/> reads src as a (K, KH, KW, Cg) filter and writes dst as
    /// (K, Cg, KH, KW) (the shape is then <paramref name="filter"/>); otherwise both are flat. When accumulating, the
    /// widened values go to <paramref name="tmp"/> (fp32, count values) and are added: dst = 1·tmp + 1·dst, one rounding.
    /// </summary>
    private void WidenInto(string op, nint src, DType srcType, nint dst, long count, bool accumulate, nint tmp, bool nhwcSource, Shape filter)
    {
        nint target = accumulate ? tmp : dst;
        var (n, c, h, w) = nhwcSource ? ((long)filter.N, (long)filter.C, (long)filter.H, (long)filter.W) : (count, 1L, 1L, 1L);
        Launched(Kernels.dt_convert((void*)src, (int)srcType, nhwcSource ? 1 : 0, (void*)target, (int)DType.Float32, 0, n, c, h, w, _streamPtr), op);
        if (accumulate) Launched(Kernels.dt_axpby((void*)tmp, (void*)dst, (int)DType.Float32, count, 1f, 1f, _streamPtr), op);
    }

    /// <summary>
    /// One call's fp32 stand-ins for its 16-bit operands on the device (tier 3), as CpuBackend's helper of the same name.
    /// <see cref="In"/> widens an input; <see cref="Out"/> widens an output (its old contents matter when accumulating) and
    /// rounds it back into its storage on <see cref="Dispose"/>. fp32 and Int32 operands pass through untouched.
    /// </summary>
    private sealed class Widened(CudaBackend backend) : IDisposable
    {
        private readonly List<DeviceBuffer> _temps = [];
        private readonly List<(Tensor Wide, Tensor Dst)> _outputs = [];

        /// <summary>An fp32 copy of <paramref name="t"/> on the device (the tensor itself when it is not 16-bit).</summary>
        [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(t))]
        public Tensor? In(Tensor? t)
        {
            if (!IsReduced(t)) return t;
            var buffer = backend.AllocateTemporary(t!.Elements * sizeof(float));
            _temps.Add(buffer);
            var wide = new Tensor(buffer, 0, t.Shape, DType.Float32, t.Layout);
            backend.Copy(t, wide);
            return wide;
        }

        /// <summary>An fp32 copy of <paramref name="t"/> that is rounded back into it when the call ends.</summary>
        [return: System.Diagnostics.CodeAnalysis.NotNullIfNotNull(nameof(t))]
        public Tensor? Out(Tensor? t)
        {
            var wide = In(t);
            if (wide is not null && !ReferenceEquals(wide, t)) _outputs.Add((wide, t!));
            return wide;
        }

        /// <summary>Rounds the outputs back (in the order they were declared) and frees the temporaries in stream order.</summary>
        public void Dispose()
        {
            try
            {
                foreach (var (wide, dst) in _outputs) backend.Copy(wide, dst);
            }
            finally
            {
                foreach (var b in _temps) b.Dispose();
            }
        }
    }
}

/// <summary>How CudaBackend runs a call with given operand storage types (CudaBackend.Precision.cs explains the tiers).</summary>
internal enum StorageRoute
{
    /// <summary>cuDNN, cuBLAS or the kernel library take the types as they are (or nothing is 16-bit).</summary>
    Native,
    /// <summary>A 16-bit gradient is computed in scratch and widened into an fp32 gradient (tier 2).</summary>
    Into32,
    /// <summary>Every 16-bit operand is widened to an fp32 temporary and the fp32 path runs (tier 3).</summary>
    Widened,
}

/// <summary>
/// CudaBackend's routing decisions as functions of the operand storage types alone, so they are tested without a GPU.
/// Every decision sends an all-fp32 call (or one with no 16-bit operand, which the fp32 checks then judge) to
/// <see cref="StorageRoute.Native"/>, so a widened call, whose operands are then all fp32, never widens again.
/// </summary>
internal static class StorageRoutes
{
    /// <summary>True for Float16 and BFloat16.</summary>
    public static bool IsReduced(DType t) => t is DType.Float16 or DType.BFloat16;

    private static bool AnyReduced(ReadOnlySpan<DType> types)
    {
        foreach (var t in types)
            if (IsReduced(t)) return true;
        return false;
    }

    /// <summary>
    /// Operations whose library call takes one storage type for all its operands (element-wise kernels, pooling,
    /// convolution forward and backward-data, bias add, channel copies): native when all share a type, widened when
    /// they do not and one is 16-bit.
    /// </summary>
    public static StorageRoute OneType(ReadOnlySpan<DType> types)
    {
        for (int i = 1; i < types.Length; i++)
            if (types[i] != types[0]) return AnyReduced(types) ? StorageRoute.Widened : StorageRoute.Native;
        return StorageRoute.Native;
    }

    /// <summary>Operations on fp32-only kernels (PReLU, the losses): widened when any operand is 16-bit.</summary>
    public static StorageRoute Fp32Only(ReadOnlySpan<DType> types) => AnyReduced(types) ? StorageRoute.Widened : StorageRoute.Native;

    /// <summary>
    /// cublasGemmEx under CUBLAS_COMPUTE_32F: A and B of one type with C of that type, or 16-bit A/B into an fp32 C.
    /// </summary>
    public static StorageRoute Gemm(DType a, DType b, DType c)
    {
        bool native = a == b && (c == a || (IsReduced(a) && c == DType.Float32));
        return native || !AnyReduced([a, b, c]) ? StorageRoute.Native : StorageRoute.Widened;
    }

    /// <summary>
    /// Convolution backward-filter: 16-bit x and dy of one type into an fp32 dw (and an fp32 or same-type dbias) go
    /// through 16-bit scratch; one type for all is native; anything else with a 16-bit operand is widened.
    /// </summary>
    public static StorageRoute ConvBackwardFilter(DType x, DType dy, DType dw, DType? dbias)
    {
        if (IsReduced(x) && dy == x && dw == DType.Float32 && (dbias is null || dbias == DType.Float32 || dbias == x)) return StorageRoute.Into32;
        return dbias is DType db ? OneType([x, dy, dw, db]) : OneType([x, dy, dw]);
    }

    /// <summary>Bias gradient: a 16-bit dy into an fp32 dbias goes through 16-bit scratch; otherwise one type.</summary>
    public static StorageRoute BiasBackward(DType dy, DType dbias)
        => IsReduced(dy) && dbias == DType.Float32 ? StorageRoute.Into32 : OneType([dy, dbias]);

    /// <summary>
    /// Batch norm: native when x, its partner (y or dy) and the optional dx share one type and every per-channel operand
    /// (γ, β, statistics and their gradients) is fp32, or when nothing is 16-bit (the fp32 checks then judge the call);
    /// anything else is widened. cuDNN's rule for 16-bit x, in cuDNN 9.6's cudnn_ops.h on
    /// cudnnBatchNormalizationForwardTraining's bnScaleBiasMeanVarDesc: "Shared desc for the next 6 tensors in the
    /// argument list. Data type to be set as follows: type = (typeOf(x) == double) ? double : float"; and on
    /// cudnnBatchNormalizationBackward's xDesc: "same desc for x, dx, dy".
    /// </summary>
    public static StorageRoute BatchNorm(DType x, DType partner, DType? dx, ReadOnlySpan<DType> perChannel)
    {
        if (!IsReduced(x) && !IsReduced(partner) && !(dx is DType d && IsReduced(d)) && !AnyReduced(perChannel)) return StorageRoute.Native;
        if (partner != x || (dx is DType d2 && d2 != x)) return StorageRoute.Widened;
        foreach (var t in perChannel)
            if (t != DType.Float32) return StorageRoute.Widened;
        return StorageRoute.Native;
    }

    /// <summary>The storage type an operand has inside a widened call: fp32 for 16-bit, itself otherwise.</summary>
    public static DType Widen(DType t) => IsReduced(t) ? DType.Float32 : t;
}

using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends;

/// <summary>
/// Shape and argument checks shared by every backend, so CpuBackend and CudaBackend reject the same calls
/// with the same messages (each names the operation and the operand, as <see cref="IBackend"/> promises).
/// Where a tensor lives is each backend's own check.
/// </summary>
internal static class OperandChecks
{
    /// <summary>
    /// The loss scaler's update factors: growth finite and ≥ 1, backoff in (0, 1], the interval at least 1 — the rule of
    /// <see cref="Mixed.LossScalerOptions.Validate"/> and of the kernel <c>dt_update_scale</c>, which refuses anything
    /// else, so both backends accept and refuse the same calls. A static scale is growth 1, backoff 1, interval
    /// <see cref="int.MaxValue"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">One is not.</exception>
    public static void ScalerFactors(float growthFactor, float backoffFactor, int growthInterval)
    {
        if (!(growthFactor >= 1) || float.IsInfinity(growthFactor)) throw new ArgumentOutOfRangeException(nameof(growthFactor), growthFactor, "UpdateLossScale: the growth factor must be finite and ≥ 1");
        if (!(backoffFactor > 0 && backoffFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(backoffFactor), backoffFactor, "UpdateLossScale: the backoff factor must be in (0, 1]");
        if (growthInterval < 1) throw new ArgumentOutOfRangeException(nameof(growthInterval), growthInterval, "UpdateLossScale: the growth interval must be ≥ 1");
    }

    /// <summary>The elastic-net coefficients λ1 and λ2: each finite and ≥ 0.</summary>
    /// <exception cref="ArgumentOutOfRangeException">One is not.</exception>
    public static void PenaltyCoefficients(string op, float l1, float l2)
    {
        if (!(l1 >= 0) || float.IsInfinity(l1)) throw new ArgumentOutOfRangeException(nameof(l1), l1, $"{op}: λ1 must be finite and ≥ 0");
        if (!(l2 >= 0) || float.IsInfinity(l2)) throw new ArgumentOutOfRangeException(nameof(l2), l2, $"{op}: λ2 must be finite and ≥ 0");
    }

    /// <summary>An optimizer's 16-bit working copy, when given: fp16 or bf16 with <paramref name="w"/>'s element count.</summary>
    public static void WorkingCopy(string op, Tensor w, Tensor? workingCopy)
    {
        if (workingCopy is null) return;
        if (workingCopy.DType is not (DType.Float16 or DType.BFloat16)) ThrowHelper.Invalid(op, $"workingCopy is {workingCopy.DType}, expected Float16 or BFloat16");
        ThrowHelper.CheckSameElements(op, "w", w, "workingCopy", workingCopy);
    }

    /// <summary>RMSProp's buffers: g and v like w; a momentum buffer when μ &gt; 0 and a gradient average when centered, each like w.</summary>
    public static void RmsPropBuffers(string op, Tensor w, Tensor g, Tensor v, Tensor? momentum, Tensor? gradAvg, RmsPropArgs a)
    {
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "v", v);
        if (a.Momentum > 0)
        {
            if (momentum is null) ThrowHelper.Invalid(op, "momentum > 0 needs a momentum buffer");
            ThrowHelper.CheckSameElements(op, "w", w, "momentum", momentum);
        }
        if (a.Centered)
        {
            if (gradAvg is null) ThrowHelper.Invalid(op, "centered RMSProp needs a gradient-average buffer");
            ThrowHelper.CheckSameElements(op, "w", w, "gradAvg", gradAvg);
        }
    }

    /// <summary>The maximum norm of clipping: finite and positive.</summary>
    /// <exception cref="ArgumentOutOfRangeException">It is not.</exception>
    public static void MaxNorm(float maxNorm)
    {
        if (!(maxNorm > 0) || float.IsInfinity(maxNorm)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "ScaleByNorm: the maximum norm must be finite and > 0");
    }

    /// <summary>Throws unless <see cref="IBackend.Copy"/> can convert <paramref name="src"/>'s type into <paramref name="dst"/>'s: the same type, or two of fp32, fp16 and bf16.</summary>
    /// <exception cref="NotSupportedException">An integer tensor would change type.</exception>
    public static void ConvertibleDTypes(string op, Tensor src, Tensor dst)
    {
        if (src.DType != dst.DType && (src.DType == DType.Int32 || dst.DType == DType.Int32))
            throw new NotSupportedException($"{op}: converting {src.DType} to {dst.DType} is not supported; only fp32, fp16 and bf16 convert into each other");
    }

    /// <summary>Throws unless <paramref name="b"/> has <paramref name="a"/>'s shape and layout (element-wise operands).</summary>
    public static void SameGeometry(string op, string an, Tensor a, string bn, Tensor b)
    {
        if (a.Shape != b.Shape) ThrowHelper.Invalid(op, $"{bn} has shape {b.Shape}, expected {an}'s {a.Shape}");
        if (a.Layout != b.Layout) ThrowHelper.Invalid(op, $"{bn} is {b.Layout} but {an} is {a.Layout}; convert with Copy first");
    }

    /// <summary>Throws unless <paramref name="t"/> holds exactly <paramref name="channels"/> values (a per-channel vector).</summary>
    public static void PerChannel(string op, string what, Tensor t, int channels)
    {
        if (t.Elements != channels) ThrowHelper.Invalid(op, $"{what} has shape {t.Shape}, expected ({channels},) to match {channels} channels");
    }

    /// <summary>Throws unless <paramref name="t"/> is rank 4 (N, C, H, W).</summary>
    public static void Rank4(string op, string what, Tensor t)
    {
        if (t.Shape.Rank != 4) ThrowHelper.Invalid(op, $"{what} has shape {t.Shape}; expected rank 4 (N, C, H, W)");
    }

    /// <summary>Throws unless an optional bias (or its gradient) is fp32 with one value per output channel.</summary>
    public static void Bias(string op, string what, Tensor? bias, int k)
    {
        if (bias is null) return;
        ThrowHelper.CheckFloat32(op, what, bias);
        if (bias.Elements != k) ThrowHelper.ShapeMismatch(op, what, Shape.Of(k), bias.Shape);
    }

    /// <summary>Throws unless the dropout probability is in [0, 1].</summary>
    public static void DropoutP(float p)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability has to be between 0 and 1");
    }

    public static void Pool(string op, PoolSpec spec, Tensor x, Tensor y)
    {
        Rank4(op, "x", x);
        Rank4(op, "y", y);
        if (spec.KernelH < 1 || spec.KernelW < 1 || spec.StrideH < 1 || spec.StrideW < 1 || spec.PadH < 0 || spec.PadW < 0)
            ThrowHelper.Invalid(op, $"{spec} needs kernel and stride ≥ 1 and padding ≥ 0");
        if (2 * spec.PadH > spec.KernelH || 2 * spec.PadW > spec.KernelW)
            ThrowHelper.Invalid(op, $"padding ({spec.PadH}, {spec.PadW}) should be at most half of the kernel ({spec.KernelH}, {spec.KernelW}), as in PyTorch");
        int oh = spec.OutH(x.Shape.H), ow = spec.OutW(x.Shape.W);
        if (x.Shape.H + 2 * spec.PadH < spec.KernelH || x.Shape.W + 2 * spec.PadW < spec.KernelW || oh < 1 || ow < 1)
            ThrowHelper.Invalid(op, $"x {x.Shape} is smaller than the {spec.KernelH}×{spec.KernelW} window with padding ({spec.PadH}, {spec.PadW})");
        // Compared dimension by dimension: a Shape owns an array, and this runs on every call.
        if (y.Shape.N != x.Shape.N || y.Shape.C != x.Shape.C || y.Shape.H != oh || y.Shape.W != ow)
            ThrowHelper.ShapeMismatch(op, "y", Shape.Of(x.Shape.N, x.Shape.C, oh, ow), y.Shape);
    }

    public static void ChannelCopy(string op, Tensor src, string sn, int srcC0, Tensor dst, string dn, int dstC0, int channels, int stride)
    {
        if (src.Shape.Rank is not (2 or 4)) ThrowHelper.Invalid(op, $"{sn} has shape {src.Shape}; expected (N, C, H, W) or (N, C)");
        if (dst.Shape.Rank is not (2 or 4)) ThrowHelper.Invalid(op, $"{dn} has shape {dst.Shape}; expected (N, C, H, W) or (N, C)");
        if (stride < 1) ThrowHelper.Invalid(op, $"stride {stride} must be at least 1");
        if (channels < 0) ThrowHelper.Invalid(op, $"channels {channels} must not be negative");
        if (src.Shape.N != dst.Shape.N) ThrowHelper.Invalid(op, $"{sn} {src.Shape} and {dn} {dst.Shape} differ in batch size");
        // In 64 bits, as dt_copy_channels checks them: c0 + channels and H + stride − 1 overflow an int for large values
        // (channels [1, 1 + int.MaxValue) passed; stride int.MaxValue asked for a 0×0 dst where ⌈H/stride⌉ is 1).
        if (srcC0 < 0 || (long)srcC0 + channels > src.Shape.C) ThrowHelper.Invalid(op, $"channels [{srcC0}, {(long)srcC0 + channels}) are outside {sn} {src.Shape}");
        if (dstC0 < 0 || (long)dstC0 + channels > dst.Shape.C) ThrowHelper.Invalid(op, $"channels [{dstC0}, {(long)dstC0 + channels}) are outside {dn} {dst.Shape}");
        long eh = ((long)src.Shape.H + stride - 1) / stride, ew = ((long)src.Shape.W + stride - 1) / stride;
        if (dst.Shape.H != eh || dst.Shape.W != ew)
            ThrowHelper.Invalid(op, $"{dn} {dst.Shape} has spatial size {dst.Shape.H}×{dst.Shape.W}; {sn} {src.Shape} with stride {stride} gives {eh}×{ew}");
    }

    public static void Scalar(string op, string what, Tensor t)
    {
        if (t.Elements != 1) ThrowHelper.Invalid(op, $"{what} has shape {t.Shape}; expected one element");
    }

    /// <summary>
    /// Checks a row-major product c = op(a)·op(b) with each operand read as (dim0, rest):
    /// op(a) (M, K), op(b) (K, N), c (M, N). Returns (M, N, K).
    /// </summary>
    public static (int M, int N, int K) Gemm(string op, bool transA, bool transB, Tensor a, Tensor b, Tensor c)
    {
        var (ar, ac) = Rows(a);
        var (br, bc) = Rows(b);
        var (cr, cc) = Rows(c);
        int m = transA ? ac : ar, ka = transA ? ar : ac;
        int kb = transB ? bc : br, n = transB ? br : bc;
        if (ka != kb || cr != m || cc != n)
            ThrowHelper.Invalid(op, $"op(a) {(transA ? "aᵀ" : "a")} of {a.Shape} is ({m}, {ka}), op(b) {(transB ? "bᵀ" : "b")} of {b.Shape} is ({kb}, {n}), c is {c.Shape}: expected c ({m}, {n}) and matching inner sizes");
        return (m, n, ka);
    }

    /// <summary>A tensor read as a row-major matrix (dim0, product of the rest).</summary>
    public static (int Rows, int Cols) Rows(Tensor t)
    {
        var d = t.Shape.Dims;
        long cols = 1;
        for (int i = 1; i < d.Length; i++) cols *= d[i];
        return (d.Length == 0 ? 1 : d[0], checked((int)cols));
    }

    /// <summary>Throws unless the SGD hyper-parameters are consistent (as PyTorch: Nesterov needs μ &gt; 0 and no dampening).</summary>
    public static void Sgd(string op, SgdArgs args)
    {
        if (args.Nesterov && (args.Momentum <= 0f || args.Dampening != 0f))
            ThrowHelper.Invalid(op, $"Nesterov momentum requires a momentum > 0 and zero dampening, got momentum {args.Momentum}, dampening {args.Dampening}");
        if (args.Form == SgdMomentumForm.Caffe && args.Dampening != 0f)
            ThrowHelper.Invalid(op, $"the Caffe momentum form has no dampening, got {args.Dampening}");
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepTrain.Backends.Cpu;

// Batch-normalisation kernels (PyTorch's BatchNorm1d/2d; Ioffe & Szegedy 2015). Per channel c, over
// the M = N·S values x_j of that channel:
//   μ = Σx/M,  σ² = Σ(x − μ)²/M (biased),  x̂ = (x − μ)·invstd with invstd = 1/√(σ² + ε)
//   y = γ·x̂ + β  is evaluated as  (x − μ)·a + β  with a = γ·invstd
//   backward:  dβ = Σdy,  dγ = Σdy·x̂ = invstd·Σdy·(x − μ)
//              dx = a·(dy − dβ/M − x̂·dγ/M) = a·dy + cX·(x − μ) + c0,  cX = −a·invstd·dγ/M,  c0 = −a·dβ/M
// Fused with the ReLU after it (training plans, Modeling/Planner.cs): z = max(y, 0) is written instead of y, and backward takes
// dz, recomputing y from x to apply ReLU's mask g = dz·[y > 0] in its summing pass, which also stores g over dz for the
// dx pass: the same operations as the separate ReLU passes, so the same bits, with one pass over the activation fewer
// each way (forward: 4 streams instead of 6; backward: 6 instead of 8).
// "Plane" kernels take one contiguous (n, c) plane of an NCHW tensor with scalar channel constants;
// "Row" kernels take one (n, h, w) row of C channels of a channels-last tensor with per-channel spans.
internal static partial class CpuKernels
{
    private const int SumBlock = 4096;

    /// <summary>Σ (x[i] − mean)², fp32 lanes widened to double every 4096 elements.</summary>
    public static double SumSquaredDeviation(ReadOnlySpan<float> x, float mean)
    {
        double s = 0;
        for (int b = 0; b < x.Length; b += SumBlock)
        {
            ReadOnlySpan<float> blk = x.Slice(b, Math.Min(SumBlock, x.Length - b));
            ref float xs = ref MemoryMarshal.GetReference(blk);
            nuint n = (nuint)blk.Length, i = 0;
            float f = 0;
            if (Vector512.IsHardwareAccelerated && n >= 16)
            {
                var acc = Vector512<float>.Zero; var m = Vector512.Create(mean);
                for (; i + 16 <= n; i += 16) { var d = Vector512.LoadUnsafe(ref xs, i) - m; acc += d * d; }
                f += Vector512.Sum(acc);
            }
            if (Vector256.IsHardwareAccelerated && i + 8 <= n)
            {
                var acc = Vector256<float>.Zero; var m = Vector256.Create(mean);
                for (; i + 8 <= n; i += 8) { var d = Vector256.LoadUnsafe(ref xs, i) - m; acc += d * d; }
                f += Vector256.Sum(acc);
            }
            for (; i < n; i++) { float d = Unsafe.Add(ref xs, i) - mean; f += d * d; }
            s += f;
        }
        return s;
    }

    /// <summary>sumDy = Σ dy[i] and sumDyXc = Σ dy[i]·(x[i] − mean), widened to double every 4096 elements.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void SumGradientTerms(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, float mean, out double sumDy, out double sumDyXc)
        => SumGradientTerms(default(PassGradient), x, dy, mean, out sumDy, out sumDyXc);

    /// <summary>
    /// <see cref="SumGradientTerms(ReadOnlySpan{float}, ReadOnlySpan{float}, float, out double, out double)"/> of batch norm
    /// fused with the ReLU after it, from the ReLU's output gradient dz: the sums of g = dz·[y &gt; 0] with
    /// y = (x − mean)·scale + shift recomputed exactly as the forward computed it, so g is bit for bit what a separate ReLU
    /// backward would have stored (the mask y &gt; 0 is max(y, 0) &gt; 0, NaN included). g is also written over dz, as that ReLU
    /// backward in place would have, so the dx pass reads it (<see cref="BatchNormBackwardPlane"/>) rather than recompute it.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void SumReluGradientTerms(ReadOnlySpan<float> x, Span<float> dz, float mean, float scale, float shift, out double sumDy, out double sumDyXc)
        => SumGradientTerms(new ReluMaskedGradient(mean, scale, shift), x, dz, mean, out sumDy, out sumDyXc);

    /// <summary>
    /// The sums over g = grad(x, dy): one loop for the plain and the ReLU-masked gradient, so both add in the same order. The
    /// masked one stores g over dy (the span is the caller's writable dz then; the plain one only reads).
    /// </summary>
    private static void SumGradientTerms<TGrad>(TGrad grad, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, float mean, out double sumDy, out double sumDyXc)
        where TGrad : struct, IBinaryOp
    {
        CheckLength(x.Length, dy.Length, nameof(dy));
        bool store = typeof(TGrad) == typeof(ReluMaskedGradient);   // a JIT-time constant per instantiation
        sumDy = 0; sumDyXc = 0;
        for (int b = 0; b < x.Length; b += SumBlock)
        {
            int len = Math.Min(SumBlock, x.Length - b);
            ref float xs = ref MemoryMarshal.GetReference(x.Slice(b, len));
            ref float gs = ref MemoryMarshal.GetReference(dy.Slice(b, len));   // written only when store
            nuint n = (nuint)len, i = 0;
            float s1 = 0, s2 = 0;
            if (Vector512.IsHardwareAccelerated && n >= 16)
            {
                Vector512<float> a1 = default, a2 = default, m = Vector512.Create(mean);
                for (; i + 16 <= n; i += 16)
                {
                    var xv = Vector512.LoadUnsafe(ref xs, i);
                    var g = grad.Invoke(xv, Vector512.LoadUnsafe(ref gs, i));
                    if (store) g.StoreUnsafe(ref gs, i);
                    a1 += g; a2 += g * (xv - m);
                }
                s1 += Vector512.Sum(a1); s2 += Vector512.Sum(a2);
            }
            if (Vector256.IsHardwareAccelerated && i + 8 <= n)
            {
                Vector256<float> a1 = default, a2 = default, m = Vector256.Create(mean);
                for (; i + 8 <= n; i += 8)
                {
                    var xv = Vector256.LoadUnsafe(ref xs, i);
                    var g = grad.Invoke(xv, Vector256.LoadUnsafe(ref gs, i));
                    if (store) g.StoreUnsafe(ref gs, i);
                    a1 += g; a2 += g * (xv - m);
                }
                s1 += Vector256.Sum(a1); s2 += Vector256.Sum(a2);
            }
            for (; i < n; i++)
            {
                float xv = Unsafe.Add(ref xs, i), g = grad.Invoke(xv, Unsafe.Add(ref gs, i));
                if (store) Unsafe.Add(ref gs, i) = g;
                s1 += g; s2 += g * (xv - mean);
            }
            sumDy += s1; sumDyXc += s2;
        }
    }

    /// <summary>y[i] = (x[i] − mean)·scale + shift: one plane of batch-norm forward (scale = γ·invstd, shift = β).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void NormalizePlane(ReadOnlySpan<float> x, float mean, float scale, float shift, Span<float> y)
        => VectorLoops.Map(new NormalizeOp(mean, scale, shift), x, y);

    /// <summary>dx[i] (+)= cDy·dy[i] + cX·(x[i] − mean) + c0: one plane of batch-norm backward.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void BatchNormBackwardPlane(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, float mean, float cDy, float cX, float c0, Span<float> dx, bool accumulate)
        => VectorLoops.Zip(new NormBackwardOp(mean, cDy, cX, c0), x, dy, dx, accumulate);

    /// <summary>z[i] = max((x[i] − mean)·scale + shift, 0): one plane of batch norm fused with the ReLU after it (the same two operations as the separate passes).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void NormalizeReluPlane(ReadOnlySpan<float> x, float mean, float scale, float shift, Span<float> z)
        => VectorLoops.Map(new NormalizeReluOp(new NormalizeOp(mean, scale, shift)), x, z);

    /// <summary>acc[c] += (x[c] − mean[c])² over one row of C channels.</summary>
    public static void AccumulateSquaredDeviationRow(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, Span<float> acc)
    {
        CheckLength(x.Length, mean.Length, nameof(mean));
        CheckLength(x.Length, acc.Length, nameof(acc));
        ref float xs = ref MemoryMarshal.GetReference(x), ms = ref MemoryMarshal.GetReference(mean), a = ref MemoryMarshal.GetReference(acc);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
            {
                var d = Vector512.LoadUnsafe(ref xs, i) - Vector512.LoadUnsafe(ref ms, i);
                (Vector512.LoadUnsafe(ref a, i) + d * d).StoreUnsafe(ref a, i);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var d = Vector256.LoadUnsafe(ref xs, i) - Vector256.LoadUnsafe(ref ms, i);
                (Vector256.LoadUnsafe(ref a, i) + d * d).StoreUnsafe(ref a, i);
            }
        for (; i < n; i++) { float d = Unsafe.Add(ref xs, i) - Unsafe.Add(ref ms, i); Unsafe.Add(ref a, i) += d * d; }
    }

    /// <summary>accDy[c] += dy[c]; accDyXc[c] += dy[c]·(x[c] − mean[c]) over one row of C channels.</summary>
    public static void AccumulateGradientTermsRow(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> mean, Span<float> accDy, Span<float> accDyXc)
    {
        CheckLength(x.Length, dy.Length, nameof(dy));
        CheckLength(x.Length, mean.Length, nameof(mean));
        CheckLength(x.Length, accDy.Length, nameof(accDy));
        CheckLength(x.Length, accDyXc.Length, nameof(accDyXc));
        ref float xs = ref MemoryMarshal.GetReference(x), gs = ref MemoryMarshal.GetReference(dy), ms = ref MemoryMarshal.GetReference(mean);
        ref float a1 = ref MemoryMarshal.GetReference(accDy), a2 = ref MemoryMarshal.GetReference(accDyXc);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
            {
                var g = Vector512.LoadUnsafe(ref gs, i);
                (Vector512.LoadUnsafe(ref a1, i) + g).StoreUnsafe(ref a1, i);
                (Vector512.LoadUnsafe(ref a2, i) + g * (Vector512.LoadUnsafe(ref xs, i) - Vector512.LoadUnsafe(ref ms, i))).StoreUnsafe(ref a2, i);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var g = Vector256.LoadUnsafe(ref gs, i);
                (Vector256.LoadUnsafe(ref a1, i) + g).StoreUnsafe(ref a1, i);
                (Vector256.LoadUnsafe(ref a2, i) + g * (Vector256.LoadUnsafe(ref xs, i) - Vector256.LoadUnsafe(ref ms, i))).StoreUnsafe(ref a2, i);
            }
        for (; i < n; i++)
        {
            float g = Unsafe.Add(ref gs, i);
            Unsafe.Add(ref a1, i) += g;
            Unsafe.Add(ref a2, i) += g * (Unsafe.Add(ref xs, i) - Unsafe.Add(ref ms, i));
        }
    }

    /// <summary>y[c] = (x[c] − mean[c])·scale[c] + shift[c] over one row of C channels.</summary>
    public static void NormalizeRow(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, Span<float> y)
    {
        CheckLength(x.Length, mean.Length, nameof(mean));
        CheckLength(x.Length, scale.Length, nameof(scale));
        CheckLength(x.Length, shift.Length, nameof(shift));
        CheckLength(x.Length, y.Length, nameof(y));
        ref float xs = ref MemoryMarshal.GetReference(x), ms = ref MemoryMarshal.GetReference(mean);
        ref float ss = ref MemoryMarshal.GetReference(scale), bs = ref MemoryMarshal.GetReference(shift), ys = ref MemoryMarshal.GetReference(y);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
                ((Vector512.LoadUnsafe(ref xs, i) - Vector512.LoadUnsafe(ref ms, i)) * Vector512.LoadUnsafe(ref ss, i) + Vector512.LoadUnsafe(ref bs, i)).StoreUnsafe(ref ys, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                ((Vector256.LoadUnsafe(ref xs, i) - Vector256.LoadUnsafe(ref ms, i)) * Vector256.LoadUnsafe(ref ss, i) + Vector256.LoadUnsafe(ref bs, i)).StoreUnsafe(ref ys, i);
        for (; i < n; i++) Unsafe.Add(ref ys, i) = (Unsafe.Add(ref xs, i) - Unsafe.Add(ref ms, i)) * Unsafe.Add(ref ss, i) + Unsafe.Add(ref bs, i);
    }

    /// <summary>dx[c] (+)= cDy[c]·dy[c] + cX[c]·(x[c] − mean[c]) + c0[c] over one row of C channels.</summary>
    public static void BatchNormBackwardRow(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> mean,
        ReadOnlySpan<float> cDy, ReadOnlySpan<float> cX, ReadOnlySpan<float> c0, Span<float> dx, bool accumulate)
    {
        CheckLength(x.Length, dy.Length, nameof(dy));
        CheckLength(x.Length, mean.Length, nameof(mean));
        CheckLength(x.Length, cDy.Length, nameof(cDy));
        CheckLength(x.Length, cX.Length, nameof(cX));
        CheckLength(x.Length, c0.Length, nameof(c0));
        CheckLength(x.Length, dx.Length, nameof(dx));
        ref float xs = ref MemoryMarshal.GetReference(x), gs = ref MemoryMarshal.GetReference(dy), ms = ref MemoryMarshal.GetReference(mean);
        ref float k1 = ref MemoryMarshal.GetReference(cDy), k2 = ref MemoryMarshal.GetReference(cX), k0 = ref MemoryMarshal.GetReference(c0);
        ref float ds = ref MemoryMarshal.GetReference(dx);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref k1, i) * Vector512.LoadUnsafe(ref gs, i)
                    + Vector512.LoadUnsafe(ref k2, i) * (Vector512.LoadUnsafe(ref xs, i) - Vector512.LoadUnsafe(ref ms, i)) + Vector512.LoadUnsafe(ref k0, i);
                (accumulate ? Vector512.LoadUnsafe(ref ds, i) + v : v).StoreUnsafe(ref ds, i);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.LoadUnsafe(ref k1, i) * Vector256.LoadUnsafe(ref gs, i)
                    + Vector256.LoadUnsafe(ref k2, i) * (Vector256.LoadUnsafe(ref xs, i) - Vector256.LoadUnsafe(ref ms, i)) + Vector256.LoadUnsafe(ref k0, i);
                (accumulate ? Vector256.LoadUnsafe(ref ds, i) + v : v).StoreUnsafe(ref ds, i);
            }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref k1, i) * Unsafe.Add(ref gs, i) + Unsafe.Add(ref k2, i) * (Unsafe.Add(ref xs, i) - Unsafe.Add(ref ms, i)) + Unsafe.Add(ref k0, i);
            Unsafe.Add(ref ds, i) = accumulate ? Unsafe.Add(ref ds, i) + v : v;
        }
    }

    private readonly struct NormalizeOp(float mean, float scale, float shift) : IUnaryOp
    {
        public float Invoke(float x) => (x - mean) * scale + shift;
        public Vector256<float> Invoke(Vector256<float> x) => (x - Vector256.Create(mean)) * scale + Vector256.Create(shift);
        public Vector512<float> Invoke(Vector512<float> x) => (x - Vector512.Create(mean)) * scale + Vector512.Create(shift);
    }

    private readonly struct NormalizeReluOp(NormalizeOp normalize) : IUnaryOp
    {
        public float Invoke(float x) => default(ReluOp).Invoke(normalize.Invoke(x));
        public Vector256<float> Invoke(Vector256<float> x) => default(ReluOp).Invoke(normalize.Invoke(x));
        public Vector512<float> Invoke(Vector512<float> x) => default(ReluOp).Invoke(normalize.Invoke(x));
    }

    /// <summary>(x, dy) → dy: the plain batch-norm gradient.</summary>
    private readonly struct PassGradient : IBinaryOp
    {
        public float Invoke(float x, float dy) => dy;
        public Vector256<float> Invoke(Vector256<float> x, Vector256<float> dy) => dy;
        public Vector512<float> Invoke(Vector512<float> x, Vector512<float> dy) => dy;
    }

    /// <summary>
    /// (x, dz) → ReLU's backward at y = (x − mean)·scale + shift: the gradient a separate ReLU backward would store. The same
    /// expressions as <see cref="NormalizeOp"/> then <see cref="LeakyReluGrad"/> with α = 0 (so the same bits; BatchNormReluTests
    /// compares them), with the constants broadcast once rather than in every iteration of the summing loop.
    /// </summary>
    private readonly struct ReluMaskedGradient(float mean, float scale, float shift) : IBinaryOp
    {
        private readonly Vector512<float> _m512 = Vector512.Create(mean), _s512 = Vector512.Create(scale), _b512 = Vector512.Create(shift);
        private readonly Vector256<float> _m256 = Vector256.Create(mean), _s256 = Vector256.Create(scale), _b256 = Vector256.Create(shift);

        public float Invoke(float x, float dz)
        {
            float y = (x - mean) * scale + shift;
            return y > 0f ? dz : 0f * dz;
        }

        public Vector256<float> Invoke(Vector256<float> x, Vector256<float> dz)
            => Vector256.ConditionalSelect(Vector256.GreaterThan((x - _m256) * _s256 + _b256, Vector256<float>.Zero), dz, dz * 0f);

        public Vector512<float> Invoke(Vector512<float> x, Vector512<float> dz)
            => Vector512.ConditionalSelect(Vector512.GreaterThan((x - _m512) * _s512 + _b512, Vector512<float>.Zero), dz, dz * 0f);
    }

    private readonly struct NormBackwardOp(float mean, float cDy, float cX, float c0) : IBinaryOp
    {
        public float Invoke(float x, float dy) => cDy * dy + cX * (x - mean) + c0;
        public Vector256<float> Invoke(Vector256<float> x, Vector256<float> dy) => dy * cDy + (x - Vector256.Create(mean)) * cX + Vector256.Create(c0);
        public Vector512<float> Invoke(Vector512<float> x, Vector512<float> dy) => dy * cDy + (x - Vector512.Create(mean)) * cX + Vector512.Create(c0);
    }
}

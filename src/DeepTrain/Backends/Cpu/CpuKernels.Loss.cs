using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepTrain.Backends.Cpu;

// Loss kernels: per-row fused softmax cross-entropy (PyTorch's F.cross_entropy), and the summed terms of
// MSE (F.mse_loss) and BCE-with-logits (F.binary_cross_entropy_with_logits). Each returns its loss sum
// in double and, when given a gradient span, writes the gradient in the same pass; the gradient may be
// the same span as the input (in-place). The caller divides by the count and sets the gradient scale.
internal static partial class CpuKernels
{
    /// <summary>
    /// One row of softmax cross-entropy with m = max z, s = Σ e^(z − m):
    /// loss = m + log s − z[label] (log-sum-exp, stable for any logits); grad = k·(e^(z − m)/s − onehot(label))
    /// when <paramref name="grad"/> is not empty; argmax = the first index of the maximum.
    /// </summary>
    /// <exception cref="ArgumentException">grad is neither empty nor z's length.</exception>
    public static double SoftmaxCrossEntropyRow(ReadOnlySpan<float> z, int label, Span<float> grad, float k, out int argmax)
    {
        if (!grad.IsEmpty) CheckLength(z.Length, grad.Length, nameof(grad));
        float m = float.NegativeInfinity;
        argmax = 0;
        for (int i = 0; i < z.Length; i++)
            if (z[i] > m) { m = z[i]; argmax = i; }
        float zl = z[label];
        ref float zs = ref MemoryMarshal.GetReference(z);
        nuint n = (nuint)z.Length, j = 0;
        float s = 0;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero; var mv = Vector256.Create(m);
            for (; j + 8 <= n; j += 8) acc += Vector256.Exp(Vector256.LoadUnsafe(ref zs, j) - mv);
            s = Vector256.Sum(acc);
        }
        for (; j < n; j++) s += MathF.Exp(Unsafe.Add(ref zs, j) - m);
        if (!grad.IsEmpty)
        {
            ref float gs = ref MemoryMarshal.GetReference(grad);
            float ks = k / s;
            j = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= n; j += 8)
                    (Vector256.Exp(Vector256.LoadUnsafe(ref zs, j) - Vector256.Create(m)) * ks).StoreUnsafe(ref gs, j);
            for (; j < n; j++) Unsafe.Add(ref gs, j) = MathF.Exp(Unsafe.Add(ref zs, j) - m) * ks;
            grad[label] -= k;
        }
        return (double)m - zl + Math.Log(s);
    }

    /// <summary>Σ (p − t)²; grad = k·(p − t) when <paramref name="grad"/> is not empty.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static double MseTerms(ReadOnlySpan<float> p, ReadOnlySpan<float> t, Span<float> grad, float k)
    {
        CheckLength(p.Length, t.Length, nameof(t));
        if (!grad.IsEmpty) CheckLength(p.Length, grad.Length, nameof(grad));
        double total = 0;
        for (int b = 0; b < p.Length; b += SumBlock)
        {
            int len = Math.Min(SumBlock, p.Length - b);
            ref float ps = ref MemoryMarshal.GetReference(p.Slice(b, len));
            ref float ts = ref MemoryMarshal.GetReference(t.Slice(b, len));
            ref float gs = ref grad.IsEmpty ? ref Unsafe.NullRef<float>() : ref MemoryMarshal.GetReference(grad.Slice(b, len));
            bool g = !grad.IsEmpty;
            nuint n = (nuint)len, i = 0;
            float s = 0;
            if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                var acc = Vector256<float>.Zero;
                for (; i + 8 <= n; i += 8)
                {
                    var d = Vector256.LoadUnsafe(ref ps, i) - Vector256.LoadUnsafe(ref ts, i);
                    acc += d * d;
                    if (g) (d * k).StoreUnsafe(ref gs, i);
                }
                s = Vector256.Sum(acc);
            }
            for (; i < n; i++)
            {
                float d = Unsafe.Add(ref ps, i) - Unsafe.Add(ref ts, i);
                s += d * d;
                if (g) Unsafe.Add(ref gs, i) = d * k;
            }
            total += s;
        }
        return total;
    }

    /// <summary>
    /// Σ [max(z, 0) − z·t + log(1 + e^−|z|)] (the overflow-free form PyTorch uses); grad = k·(σ(z) − t) when
    /// <paramref name="grad"/> is not empty. log(1 + e) is log1p by Goldberg's identity log(u)·e/(u − 1),
    /// u = 1 + e, which stays accurate where 1 + e rounds (and is e itself where u rounds to 1).
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static double BceWithLogitsTerms(ReadOnlySpan<float> z, ReadOnlySpan<float> t, Span<float> grad, float k)
    {
        CheckLength(z.Length, t.Length, nameof(t));
        if (!grad.IsEmpty) CheckLength(z.Length, grad.Length, nameof(grad));
        double total = 0;
        for (int b = 0; b < z.Length; b += SumBlock)
        {
            int len = Math.Min(SumBlock, z.Length - b);
            ref float zs = ref MemoryMarshal.GetReference(z.Slice(b, len));
            ref float ts = ref MemoryMarshal.GetReference(t.Slice(b, len));
            ref float gs = ref grad.IsEmpty ? ref Unsafe.NullRef<float>() : ref MemoryMarshal.GetReference(grad.Slice(b, len));
            bool g = !grad.IsEmpty;
            nuint n = (nuint)len, i = 0;
            float s = 0;
            if (Vector256.IsHardwareAccelerated && n >= 8)
            {
                var acc = Vector256<float>.Zero;
                var one = Vector256<float>.One;
                for (; i + 8 <= n; i += 8)
                {
                    var zv = Vector256.LoadUnsafe(ref zs, i);
                    var tv = Vector256.LoadUnsafe(ref ts, i);
                    var e = Vector256.Exp(-Vector256.Abs(zv));
                    var u = one + e;
                    var log1p = Vector256.ConditionalSelect(Vector256.Equals(u, one), e, Vector256.Log(u) * e / (u - one));
                    acc += Vector256.Max(zv, Vector256<float>.Zero) - zv * tv + log1p;
                    if (g) ((one / (one + Vector256.Exp(-zv)) - tv) * k).StoreUnsafe(ref gs, i);
                }
                s = Vector256.Sum(acc);
            }
            for (; i < n; i++)
            {
                float zv = Unsafe.Add(ref zs, i), tv = Unsafe.Add(ref ts, i);
                float e = MathF.Exp(-MathF.Abs(zv)), u = 1f + e;
                float log1p = u == 1f ? e : MathF.Log(u) * e / (u - 1f);
                s += MathF.Max(zv, 0f) - zv * tv + log1p;
                if (g) Unsafe.Add(ref gs, i) = (1f / (1f + MathF.Exp(-zv)) - tv) * k;
            }
            total += s;
        }
        return total;
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cpu;

/// <summary>
/// Span-in/span-out fp32 kernels behind <see cref="CpuBackend"/>: lengths are validated once, then a
/// Vector512/Vector256 body and a scalar tail run the same math. Outputs may be the same span as an
/// input (in-place) but must not partially overlap one. This file: element-wise arithmetic and the
/// activations (PyTorch's torch.add, torch.relu, F.leaky_relu, torch.sigmoid, torch.tanh).
/// </summary>
internal static partial class CpuKernels
{
    /// <summary>y[i] = α·x[i] + β·y[i]; when β = 0, y is not read (so stale NaN in y cannot leak, as in cuDNN).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void Axpby(float alpha, ReadOnlySpan<float> x, float beta, Span<float> y)
    {
        if (beta == 0f) VectorLoops.Map(new ScaleOp(alpha), x, y);
        else VectorLoops.Zip(new LinearCombination(alpha, beta), x, y, y, accumulate: false);
    }

    /// <summary>y[i] = a[i] + b[i].</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => VectorLoops.Zip(default(PlusOp), a, b, y, accumulate: false);

    /// <summary>y[i] += b[i].</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    /// <remarks>Written out rather than through <see cref="VectorLoops"/>: it runs once per short channels-last row in the reductions, where call overhead counts.</remarks>
    public static void AddInPlace(Span<float> y, ReadOnlySpan<float> b)
    {
        CheckLength(y.Length, b.Length, nameof(b));
        ref float ys = ref MemoryMarshal.GetReference(y), bs = ref MemoryMarshal.GetReference(b);
        nuint n = (nuint)y.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) (Vector512.LoadUnsafe(ref ys, i) + Vector512.LoadUnsafe(ref bs, i)).StoreUnsafe(ref ys, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) (Vector256.LoadUnsafe(ref ys, i) + Vector256.LoadUnsafe(ref bs, i)).StoreUnsafe(ref ys, i);
        for (; i < n; i++) Unsafe.Add(ref ys, i) += Unsafe.Add(ref bs, i);
    }

    /// <summary>y[i] += value.</summary>
    public static void AddScalar(Span<float> y, float value) => VectorLoops.Map(new ShiftOp(value), y, y);

    /// <summary>dst[i] = α·x[i] (+ dst[i] when <paramref name="accumulate"/>).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void Scale(float alpha, ReadOnlySpan<float> x, Span<float> dst, bool accumulate)
    {
        if (accumulate) VectorLoops.Zip(new LinearCombination(alpha, 1f), x, dst, dst, accumulate: false);
        else VectorLoops.Map(new ScaleOp(alpha), x, dst);
    }

    /// <summary>Σ x[i], with fp32 vector lanes widened to double every 4096 elements.</summary>
    public static double Sum(ReadOnlySpan<float> x)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i += 4096) s += VectorLoops.Sum(x.Slice(i, Math.Min(4096, x.Length - i)));
        return s;
    }

    // ---- operators ------------------------------------------------------------------------

    private readonly struct ScaleOp(float a) : IUnaryOp
    {
        public float Invoke(float x) => a * x;
        public Vector256<float> Invoke(Vector256<float> x) => x * a;
        public Vector512<float> Invoke(Vector512<float> x) => x * a;
    }

    private readonly struct ShiftOp(float s) : IUnaryOp
    {
        public float Invoke(float x) => x + s;
        public Vector256<float> Invoke(Vector256<float> x) => x + Vector256.Create(s);
        public Vector512<float> Invoke(Vector512<float> x) => x + Vector512.Create(s);
    }

    private readonly struct PlusOp : IBinaryOp
    {
        public float Invoke(float a, float b) => a + b;
        public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a + b;
        public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a + b;
    }

    /// <summary>α·a + β·b, as two products and one sum (no fused multiply-add, so every width rounds alike).</summary>
    private readonly struct LinearCombination(float alpha, float beta) : IBinaryOp
    {
        public float Invoke(float a, float b) => alpha * a + beta * b;
        public Vector256<float> Invoke(Vector256<float> a, Vector256<float> b) => a * alpha + b * beta;
        public Vector512<float> Invoke(Vector512<float> a, Vector512<float> b) => a * alpha + b * beta;
    }

    /// <summary>Throws unless the two spans have equal length (the kernels' one validation).</summary>
    internal static void CheckLength(int expected, int actual, string name)
    {
        if (expected != actual) ThrowHelper.DestinationTooShort(name);
    }
}

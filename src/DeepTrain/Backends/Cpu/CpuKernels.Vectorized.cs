using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cpu;

/// <summary>An element-wise function of one operand, in scalar, 256-bit and 512-bit form (same math in each).</summary>
internal interface IUnaryOp
{
    float Invoke(float x);
    Vector256<float> Invoke(Vector256<float> x);
    Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>An element-wise function of two operands, in scalar, 256-bit and 512-bit form (same math in each).</summary>
internal interface IBinaryOp
{
    float Invoke(float a, float b);
    Vector256<float> Invoke(Vector256<float> a, Vector256<float> b);
    Vector512<float> Invoke(Vector512<float> a, Vector512<float> b);
}

/// <summary>
/// The loop drivers every element-wise CPU kernel shares (the TensorPrimitives pattern): lengths are
/// validated once, then a Vector512 body, one Vector256 step and a scalar tail cover the span.
/// Operators are structs so the JIT specialises and inlines each one. The output may be the same
/// span as an input (in-place), but must not partially overlap one.
/// </summary>
internal static class VectorLoops
{
    /// <summary>dst[i] = op(x[i]).</summary>
    public static void Map<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> dst) where TOp : struct, IUnaryOp
    {
        if (dst.Length != x.Length) ThrowHelper.DestinationTooShort(nameof(dst));
        ref float xs = ref MemoryMarshal.GetReference(x);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        nuint n = (nuint)x.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                op.Invoke(Vector512.LoadUnsafe(ref xs, i)).StoreUnsafe(ref ds, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                op.Invoke(Vector256.LoadUnsafe(ref xs, i)).StoreUnsafe(ref ds, i);
        for (; i < n; i++) Unsafe.Add(ref ds, i) = op.Invoke(Unsafe.Add(ref xs, i));
    }

    /// <summary>dst[i] = op(a[i], b[i]), plus the old dst[i] when <paramref name="accumulate"/>.</summary>
    public static void Zip<TOp>(TOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst, bool accumulate) where TOp : struct, IBinaryOp
    {
        if (b.Length != a.Length) ThrowHelper.DestinationTooShort(nameof(b));
        if (dst.Length != a.Length) ThrowHelper.DestinationTooShort(nameof(dst));
        if (accumulate) ZipCore<TOp, Accumulate>(op, a, b, dst);
        else ZipCore<TOp, Overwrite>(op, a, b, dst);
    }

    private static void ZipCore<TOp, TStore>(TOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> dst)
        where TOp : struct, IBinaryOp where TStore : struct, IStore
    {
        ref float xa = ref MemoryMarshal.GetReference(a);
        ref float xb = ref MemoryMarshal.GetReference(b);
        ref float ds = ref MemoryMarshal.GetReference(dst);
        nuint n = (nuint)a.Length, i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count)
                TStore.Store(op.Invoke(Vector512.LoadUnsafe(ref xa, i), Vector512.LoadUnsafe(ref xb, i)), ref ds, i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count)
                TStore.Store(op.Invoke(Vector256.LoadUnsafe(ref xa, i), Vector256.LoadUnsafe(ref xb, i)), ref ds, i);
        for (; i < n; i++) TStore.Store(op.Invoke(Unsafe.Add(ref xa, i), Unsafe.Add(ref xb, i)), ref ds, i);
    }

    /// <summary>How a result reaches the destination: overwrite (β = 0) or add (β = 1).</summary>
    private interface IStore
    {
        static abstract void Store(Vector512<float> v, ref float dst, nuint i);
        static abstract void Store(Vector256<float> v, ref float dst, nuint i);
        static abstract void Store(float v, ref float dst, nuint i);
    }

    private readonly struct Overwrite : IStore
    {
        public static void Store(Vector512<float> v, ref float dst, nuint i) => v.StoreUnsafe(ref dst, i);
        public static void Store(Vector256<float> v, ref float dst, nuint i) => v.StoreUnsafe(ref dst, i);
        public static void Store(float v, ref float dst, nuint i) => Unsafe.Add(ref dst, i) = v;
    }

    private readonly struct Accumulate : IStore
    {
        public static void Store(Vector512<float> v, ref float dst, nuint i) => (Vector512.LoadUnsafe(ref dst, i) + v).StoreUnsafe(ref dst, i);
        public static void Store(Vector256<float> v, ref float dst, nuint i) => (Vector256.LoadUnsafe(ref dst, i) + v).StoreUnsafe(ref dst, i);
        public static void Store(float v, ref float dst, nuint i) => Unsafe.Add(ref dst, i) += v;
    }

    /// <summary>Σ x[i] in fp32 lanes (the caller keeps blocks short and widens the partial sums to double).</summary>
    public static float Sum(ReadOnlySpan<float> x)
    {
        ref float xs = ref MemoryMarshal.GetReference(x);
        nuint n = (nuint)x.Length, i = 0;
        float s = 0;
        if (Vector512.IsHardwareAccelerated && n >= (nuint)Vector512<float>.Count)
        {
            var acc = Vector512<float>.Zero;
            for (; i + (nuint)Vector512<float>.Count <= n; i += (nuint)Vector512<float>.Count) acc += Vector512.LoadUnsafe(ref xs, i);
            s += Vector512.Sum(acc);
        }
        if (Vector256.IsHardwareAccelerated && i + (nuint)Vector256<float>.Count <= n)
        {
            var acc = Vector256<float>.Zero;
            for (; i + (nuint)Vector256<float>.Count <= n; i += (nuint)Vector256<float>.Count) acc += Vector256.LoadUnsafe(ref xs, i);
            s += Vector256.Sum(acc);
        }
        for (; i < n; i++) s += Unsafe.Add(ref xs, i);
        return s;
    }
}

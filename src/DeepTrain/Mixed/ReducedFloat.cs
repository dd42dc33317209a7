using System.Runtime.CompilerServices;
using DeepTrain.Tensors;

namespace DeepTrain.Mixed;

/// <summary>
/// Conversions between fp32 and the 16-bit storage types, bit-identical to the GPU's
/// <c>__float2half_rn</c> / <c>__float2bfloat16_rn</c> (round to nearest, ties to even) and their exact
/// widenings. fp16 goes through <see cref="Half"/>, whose narrowing is IEEE round-to-nearest-even.
/// </summary>
internal static class ReducedFloat
{
    /// <summary>
    /// The bfloat16 nearest to <paramref name="x"/> (ties to even), as its 16 bits: the top half of the binary32
    /// after adding 0x7FFF plus the lowest kept bit. NaN stays NaN (quiet, sign kept); ±∞ and overflow to ±∞ as
    /// rounding says; subnormals round like any other value (bfloat16 has fp32's subnormals).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToBFloat16Bits(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        if ((u & 0x7FFF_FFFFu) > 0x7F80_0000u) return (ushort)((u >> 16) | 0x0040);   // NaN: keep it a (quiet) NaN
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }

    /// <summary>The fp32 value of bfloat16 bits (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromBFloat16Bits(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>The binary16 nearest to <paramref name="x"/> (ties to even), as its 16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToHalfBits(float x) => BitConverter.HalfToUInt16Bits((Half)x);

    /// <summary>The fp32 value of binary16 bits (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromHalfBits(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    /// <summary><paramref name="x"/> rounded to <paramref name="dtype"/> and back (the value a 16-bit store keeps).</summary>
    public static float Round(float x, DType dtype) => dtype switch
    {
        DType.Float32 => x,
        DType.Float16 => FromHalfBits(ToHalfBits(x)),
        DType.BFloat16 => FromBFloat16Bits(ToBFloat16Bits(x)),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a floating-point storage type"),
    };

    /// <summary>dst[i] = the fp32 value of the 16-bit src[i] of type <paramref name="dtype"/>.</summary>
    /// <exception cref="ArgumentException">dst is shorter than src, or dtype is not Float16 or BFloat16.</exception>
    public static void Widen(ReadOnlySpan<ushort> src, DType dtype, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} values, source {src.Length}", nameof(dst));
        switch (dtype)
        {
            case DType.Float16: for (int i = 0; i < src.Length; i++) dst[i] = FromHalfBits(src[i]); break;
            case DType.BFloat16: for (int i = 0; i < src.Length; i++) dst[i] = FromBFloat16Bits(src[i]); break;
            default: throw new ArgumentException($"Widen: {dtype} is not a 16-bit floating-point type", nameof(dtype));
        }
    }

    /// <summary>dst[i] = src[i] rounded to <paramref name="dtype"/> (nearest, ties to even).</summary>
    /// <exception cref="ArgumentException">dst is shorter than src, or dtype is not Float16 or BFloat16.</exception>
    public static void Narrow(ReadOnlySpan<float> src, Span<ushort> dst, DType dtype)
    {
        if (dst.Length < src.Length) throw new ArgumentException($"destination holds {dst.Length} values, source {src.Length}", nameof(dst));
        switch (dtype)
        {
            case DType.Float16: for (int i = 0; i < src.Length; i++) dst[i] = ToHalfBits(src[i]); break;
            case DType.BFloat16: for (int i = 0; i < src.Length; i++) dst[i] = ToBFloat16Bits(src[i]); break;
            default: throw new ArgumentException($"Narrow: {dtype} is not a 16-bit floating-point type", nameof(dtype));
        }
    }
}

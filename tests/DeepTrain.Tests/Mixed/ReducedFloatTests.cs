using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Mixed;

/// <summary>16-bit storage on the CPU: rounding bit-exact against references, and every op computing in fp32 with rounding only on store.</summary>
public class ReducedFloatTests
{
    /// <summary>
    /// bfloat16 round-to-nearest-even written the long way, in integers: keep the top 16 bits, look at the 16 dropped
    /// bits, round up above half, and at exactly half only when the kept bits are odd. NaN becomes a quiet NaN.
    /// </summary>
    private static ushort BFloat16Reference(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((u >> 16) | 0x40);
        uint kept = u >> 16, dropped = u & 0xFFFF;
        if (dropped > 0x8000 || (dropped == 0x8000 && (kept & 1) == 1)) kept++;
        return (ushort)kept;
    }

    public static TheoryData<float> Specials => new()
    {
        0f, -0f, 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, float.MinValue, float.Epsilon,
        -float.Epsilon, 1.17549435e-38f /* smallest normal */, 5.9e-39f /* subnormal */, 65504f, 65520f /* fp16 max, and the tie to ∞ */,
        5.96e-8f /* fp16's smallest subnormal */, 2.98e-8f /* half of it: a tie to 0 */, 1e-10f, 3.14159265f,
        BitConverter.UInt32BitsToSingle(0x3F80_8000) /* a bf16 tie, kept bits even: down */, BitConverter.UInt32BitsToSingle(0x3F81_8000) /* tie, odd: up */,
        BitConverter.UInt32BitsToSingle(0x3F80_8001) /* just above a tie */, BitConverter.UInt32BitsToSingle(0x7F7F_FFFF) /* rounds to ∞ */,
        BitConverter.UInt32BitsToSingle(0x0000_8000) /* subnormal tie, even */, BitConverter.UInt32BitsToSingle(0x0001_8000) /* subnormal tie, odd */,
        BitConverter.UInt32BitsToSingle(0xFFC0_0001) /* a negative NaN with payload */, BitConverter.UInt32BitsToSingle(0x7F80_0001) /* a signalling NaN */,
    };

    [Theory, MemberData(nameof(Specials))]
    public void BFloat16_RoundsToNearestEven_BitExact(float x)
    {
        ushort b = ReducedFloat.ToBFloat16Bits(x);
        Assert.Equal(BFloat16Reference(x), b);
        if (float.IsNaN(x)) Assert.True(float.IsNaN(ReducedFloat.FromBFloat16Bits(b)));
    }

    [Theory, MemberData(nameof(Specials))]
    public void Float16_MatchesSystemHalf(float x)
    {
        ushort h = ReducedFloat.ToHalfBits(x);
        Assert.Equal(BitConverter.HalfToUInt16Bits((Half)x), h);
        float back = ReducedFloat.FromHalfBits(h);
        Assert.True(float.IsNaN(x) ? float.IsNaN(back) : back.Equals((float)(Half)x));
    }

    [Fact]
    public void EveryBitPattern_RoundsLikeTheReferences()
    {
        // A million binary32 patterns spread over the whole range (every exponent, sign, and low-bit case).
        var rng = new DeepTrain.Utils.Rng(5);
        for (int i = 0; i < 1 << 20; i++)
        {
            uint u = (uint)(rng.NextUInt64() >> 32);
            float x = BitConverter.UInt32BitsToSingle(u);
            if (BFloat16Reference(x) != ReducedFloat.ToBFloat16Bits(x)) Assert.Fail($"bf16 of 0x{u:X8}: {ReducedFloat.ToBFloat16Bits(x):X4}, expected {BFloat16Reference(x):X4}");
            if (BitConverter.HalfToUInt16Bits((Half)x) != ReducedFloat.ToHalfBits(x)) Assert.Fail($"fp16 of 0x{u:X8}");
        }
        // And every 16-bit pattern widens exactly and narrows back to itself (NaNs to a NaN).
        for (int b = 0; b < 65536; b++)
        {
            float f = ReducedFloat.FromBFloat16Bits((ushort)b), h = ReducedFloat.FromHalfBits((ushort)b);
            Assert.True(float.IsNaN(f) || ReducedFloat.ToBFloat16Bits(f) == b, $"bf16 0x{b:X4}");
            Assert.True(float.IsNaN(h) || ReducedFloat.ToHalfBits(h) == b, $"fp16 0x{b:X4}");
        }
    }

    [Theory]
    [InlineData(DType.Float16, Layout.NCHW)]
    [InlineData(DType.BFloat16, Layout.NHWC)]
    public void Copy_ConvertsDTypes_AndLayouts(DType dtype, Layout dstLayout)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var shape = Shape.Of(2, 3, 5, 7);
        var x = TestData.Normal(1, 2, 3, 5, 7);
        var src = s.Upload(x, shape);
        var half = s.Zeros(shape, Layout.NCHW, dtype);
        b.Copy(src, half);
        var back = s.Zeros(shape, dstLayout);
        b.Copy(half, back);
        var expected = x.Select(v => ReducedFloat.Round(v, dtype)).ToArray();
        Assert.Equal(expected, s.DownloadLogical(back));
        var wrong = s.Zeros(shape, Layout.NCHW, DType.Int32);
        var e = Assert.Throws<NotSupportedException>(() => b.Copy(half, wrong));
        Assert.Contains("Int32", e.Message);
    }

    /// <summary>
    /// A 16-bit op equals the fp32 op applied to the widened inputs, with only the 16-bit outputs rounded: the CPU
    /// emulation computes in fp32 and rounds on store, exactly (so the tolerance is 0).
    /// </summary>
    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void ConvForwardAndFilterGradient_ComputeInFp32_RoundOnlyOnStore(DType dtype)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var spec = ConvSpec.Square(stride: 1, pad: 1);
        Shape xs = Shape.Of(2, 3, 6, 6), ws = Shape.Of(4, 3, 3, 3), ys = Shape.Of(2, 4, 6, 6);
        float[] Rounded(float[] a) => a.Select(v => ReducedFloat.Round(v, dtype)).ToArray();
        var x = Rounded(TestData.Normal(2, 2, 3, 6, 6)); var w = Rounded(TestData.Normal(3, 4, 3, 3, 3)); var dy = Rounded(TestData.Normal(4, 2, 4, 6, 6));
        Tensor Half(float[] v, Shape sh) { var t = s.Zeros(sh, Layout.NCHW, dtype); b.Copy(s.Upload(v, sh), t); return t; }

        // Forward: 16-bit x and w, 16-bit y — and 16-bit x and w with an fp32 y (the logits' case).
        var y32 = s.Zeros(ys); b.Conv2dForward(s.Upload(x, xs), s.Upload(w, ws), null, y32, spec);
        var y16 = s.Zeros(ys, Layout.NCHW, dtype); b.Conv2dForward(Half(x, xs), Half(w, ws), null, y16, spec);
        var yWide = s.Zeros(ys); b.Copy(y16, yWide);
        Assert.Equal(Rounded(s.Download(y32)), s.Download(yWide));
        var yMixed = s.Zeros(ys); b.Conv2dForward(Half(x, xs), Half(w, ws), null, yMixed, spec);
        Assert.Equal(s.Download(y32), s.Download(yMixed));

        // Backward-filter: 16-bit x and dy, fp32 dw accumulated in fp32 (cuDNN's fp16 data with fp32 compute).
        var dw32 = s.Zeros(ws); b.Conv2dBackwardFilter(s.Upload(x, xs), s.Upload(dy, ys), dw32, null, spec, accumulate: false);
        var dwMixed = s.Upload(Enumerable.Repeat(0.5f, (int)ws.Elements).ToArray(), ws);
        var dw32Acc = s.Upload(Enumerable.Repeat(0.5f, (int)ws.Elements).ToArray(), ws);
        b.Conv2dBackwardFilter(s.Upload(x, xs), s.Upload(dy, ys), dw32Acc, null, spec, accumulate: true);
        b.Conv2dBackwardFilter(Half(x, xs), Half(dy, ys), dwMixed, null, spec, accumulate: true);
        Assert.Equal(s.Download(dw32Acc), s.Download(dwMixed));
    }

    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void InPlaceActivation_AndAccumulatingGradient_On16BitStorage(DType dtype)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var shape = Shape.Of(3, 257);   // a vector tail
        var x = TestData.Normal(7, 3, 257).Select(v => ReducedFloat.Round(v, dtype)).ToArray();
        var t = s.Zeros(shape, Layout.NCHW, dtype);
        b.Copy(s.Upload(x, shape), t);
        b.Activation(ActivationKind.Relu, 0f, t, t);                   // in place
        var dx = s.Zeros(shape, Layout.NCHW, dtype);
        b.Copy(s.Upload(Enumerable.Repeat(0.1f, 771).ToArray(), shape), dx);
        b.ActivationBackward(ActivationKind.Relu, 0f, t, t, dx, accumulate: true);   // dx += relu'(y)·dy with dy = y
        var wide = s.Zeros(shape); b.Copy(dx, wide);
        var expected = x.Select(v => ReducedFloat.Round(ReducedFloat.Round(0.1f, dtype) + (v > 0 ? v : 0f), dtype)).ToArray();
        Assert.Equal(expected, s.Download(wide));
    }

    [Fact]
    public void CpuBackend_SupportsEveryPrecision()
    {
        using IBackend b = new CpuBackend();
        foreach (var p in Enum.GetValues<Precision>()) Assert.True(b.SupportsPrecision(p, out _), p.ToString());
    }

    [Fact]
    public void UnknownPrecision_NamesTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => PrecisionInfo.Parse("fp8"));
        Assert.Contains("fp8", e.Message);
        Assert.Contains("fp32, fp16, bf16", e.Message);
        Assert.Equal(Precision.BFloat16, PrecisionInfo.Parse("BF16"));
    }
}

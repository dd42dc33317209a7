using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;
using static DeepTrain.Tests.Infrastructure.NaiveConv;

namespace DeepTrain.Tests.Backends;

// The direct convolution kernel (CpuDirectConv: 32 output channels × 8 pixels per block, an inference session's small calls)
// against the naive definition in double, with Conv2dTests' tolerance (2e-4 + 1e-5·|y|), and the fused residual epilogue
// (conv + bias, + residual, ReLU) on every CPU forward path against the separate Add and ReLU, bit for bit.
public class CpuDirectConvTests
{
    public static TheoryData<string, int> Cases()
    {
        var d = new TheoryData<string, int>();
        foreach (var c in new[] { "3x3 s1 p1 64->64 7x7", "3x3 s2 p1 16->32 28x28", "3x3 s1 p1 3->32 5x6", "3x3 s1 p2 d2 8->64 9x9", "5x3 s(2,1) p(2,1) 4->32 7x6", "1x1 s1 40->32 4x4" })
            foreach (var n in new[] { 1, 3 })
                d.Add(c, n);
        return d;
    }

    private static Geometry Case(string name, int n) => name switch
    {
        "3x3 s1 p1 64->64 7x7" => new(n, 64, 7, 7, 64, 3, 3, ConvSpec.Square(1, 1)),
        "3x3 s2 p1 16->32 28x28" => new(n, 16, 28, 28, 32, 3, 3, ConvSpec.Square(2, 1)),
        // 30 pixels: the last 8-pixel block holds 6, the rest repeat the last pixel.
        "3x3 s1 p1 3->32 5x6" => new(n, 3, 5, 6, 32, 3, 3, ConvSpec.Square(1, 1)),
        "3x3 s1 p2 d2 8->64 9x9" => new(n, 8, 9, 9, 64, 3, 3, new ConvSpec(1, 1, 2, 2, 2, 2)),
        "5x3 s(2,1) p(2,1) 4->32 7x6" => new(n, 4, 7, 6, 32, 5, 3, new ConvSpec(2, 1, 2, 1)),
        _ => new(n, 40, 4, 4, 32, 1, 1, ConvSpec.Square()),
    };

    private static unsafe float[] Direct(TensorScope s, Geometry g, Tensor x, Tensor w, Tensor? bias, Tensor? residual, bool relu)
    {
        var y = s.Upload(TestData.Normal(9, g.Y.Dims.ToArray()), g.Y);
        var geometry = new ConvGeometry("test", g.X, g.Wt, g.Y, g.Spec);
        var packed = CpuDirectWeights.Of(w);
        var (n, c, h, ww) = x.Strides4;
        CpuDirectConv.Convolve(new CpuWinograd.Strided((float*)x.Pointer, (nint)n, (nint)c, (nint)h, (nint)ww), geometry, packed.Packed,
            bias is null ? null : (float*)bias.Pointer, residual is null ? null : (float*)residual.Pointer, (float*)y.Pointer, relu);
        return s.Download(y);
    }

    [Theory, MemberData(nameof(Cases))]
    public void Direct_MatchesTheNaiveDefinition(string caseName, int n)
    {
        Assert.SkipUnless(CpuDirectConv.Available, "the direct kernel needs AVX-512");
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Case(caseName, n);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var w = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(3, g.K).ToDouble();
        var r = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var (xt, wt, bt, rt) = (s.UploadLogical(x, g.X, Layout.NCHW), s.UploadLogical(w, g.Wt, Layout.NCHW), s.UploadLogical(bias, Shape.Of(g.K), Layout.NCHW),
            s.UploadLogical(r, g.Y, Layout.NCHW));
        var reference = Forward(g, x, w, null);
        Tolerance.AssertClose(reference, Direct(s, g, xt, wt, null, null, relu: false), 2e-4, 1e-5, caseName);
        var withBias = Forward(g, x, w, bias);
        Tolerance.AssertClose(withBias, Direct(s, g, xt, wt, bt, null, relu: false), 2e-4, 1e-5, caseName + " + bias");
        var fused = withBias.Select((v, i) => Math.Max(v + r[i], 0)).ToArray();
        var got = Direct(s, g, xt, wt, bt, rt, relu: true);
        Tolerance.AssertClose(fused, got, 2e-4, 1e-5, caseName + " + bias + residual, ReLU");
        Assert.Contains(got, v => v == 0f);
    }

    [Fact]
    public void Direct_GivesTheSameBits_SplitOverThreadsOrNot()
    {
        Assert.SkipUnless(CpuDirectConv.Available, "the direct kernel needs AVX-512");
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Case("3x3 s1 p1 64->64 7x7", 3);
        var xt = s.Upload(TestData.Normal(1, g.X.Dims.ToArray()), g.X);
        var wt = s.Upload(TestData.Normal(2, g.Wt.Dims.ToArray()), g.Wt);
        var bt = s.Upload(TestData.Normal(3, g.K), Shape.Of(g.K));
        long saved = CpuDirectConv.SplitMinFlops;
        float[] inline, split;
        try
        {
            CpuDirectConv.SplitMinFlops = long.MaxValue;
            inline = Direct(s, g, xt, wt, bt, null, relu: true);
            CpuDirectConv.SplitMinFlops = 0;
            split = Direct(s, g, xt, wt, bt, null, relu: true);
        }
        finally { CpuDirectConv.SplitMinFlops = saved; }
        Assert.Equal(inline, split);
    }

    public static TheoryData<string, Layout, bool> Paths()
    {
        var d = new TheoryData<string, Layout, bool>();
        foreach (var c in new[] { "direct", "winograd", "winograd, two tile rows per vector", "winograd, four tile rows per vector", "3x3 s1 p1 (implicit)", "1x1 pointwise", "1x1 s2 (explicit im2col)" })
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                foreach (var relu in new[] { false, true })
                    d.Add(c, layout, relu);
        return d;
    }

    [Theory, MemberData(nameof(Paths))]
    public void FusedResidual_RoundsAsTheSeparateAddAndReLU_BitForBit(string path, Layout layout, bool relu)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = path switch
        {
            "direct" => new Geometry(1, 16, 7, 7, 64, 3, 3, ConvSpec.Square(1, 1)),
            // 10 by 19 outputs: ten tiles a row, one tile row per vector.
            "winograd" => new Geometry(2, 16, 10, 19, 16, 3, 3, ConvSpec.Square(1, 1)),
            // 13×13 outputs: seven tiles a row, so the output transform stores two tile rows per vector (CpuWinograd's RowsPerVector).
            "winograd, two tile rows per vector" => new Geometry(2, 16, 13, 13, 16, 3, 3, ConvSpec.Square(1, 1)),
            // 7×7 outputs: four tiles a row, so the output transform stores four tile rows per vector.
            "winograd, four tile rows per vector" => new Geometry(2, 16, 7, 7, 16, 3, 3, ConvSpec.Square(1, 1)),
            "3x3 s1 p1 (implicit)" => new Geometry(2, 8, 9, 10, 12, 3, 3, ConvSpec.Square(1, 1)),
            "1x1 pointwise" => new Geometry(2, 8, 6, 7, 12, 1, 1, ConvSpec.Square()),
            _ => new Geometry(2, 8, 8, 8, 16, 1, 1, ConvSpec.Square(2)),
        };
        var xt = s.UploadLogical(TestData.Normal(1, g.X.Dims.ToArray()).ToDouble(), g.X, layout);
        var wt = s.Upload(TestData.Normal(2, g.Wt.Dims.ToArray()), g.Wt);
        var bt = s.Upload(TestData.Normal(3, g.K), Shape.Of(g.K));
        var rt = s.UploadLogical(TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble(), g.Y, layout);
        bool isWinograd = path.StartsWith("winograd", StringComparison.Ordinal);
        var algorithm = isWinograd ? CpuConvAlgorithm.Winograd : path == "direct" ? CpuConvAlgorithm.Auto : CpuConvAlgorithm.Im2Col;
        var winograd = isWinograd ? CpuWinogradWeights.Of(wt) : null;
        var direct = path == "direct" ? CpuDirectWeights.Of(wt) : null;
        var plain = s.Zeros(g.Y, layout);
        var fused = s.UploadLogical(TestData.Normal(5, g.Y.Dims.ToArray()).ToDouble(), g.Y, layout);
        using (CpuBackend.UseConvAlgorithm(algorithm))
        {
            b.Conv2dForward(xt, wt, bt, plain, g.Spec, relu: false, winograd, direct: direct);
            b.Conv2dForward(xt, wt, bt, fused, g.Spec, relu, winograd, direct: direct, residual: rt);
        }
        b.Add(plain, rt, plain);
        if (relu) b.Activation(ActivationKind.Relu, 0f, plain, plain);
        var expected = s.Download(plain);
        Assert.Equal(expected, s.Download(fused));
        if (relu) Assert.Contains(expected, v => v == 0f);
        if (direct is not null && layout == Layout.NCHW && CpuDirectConv.Available)
        {
            // The call took the direct kernel (its sums round differently from the GEMM's): the same bits as the kernel itself.
            Assert.Equal(expected, Direct(s, g, xt, wt, bt, rt, relu));
        }
    }
}

using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;
using static DeepTrain.Tests.Infrastructure.NaiveConv;

namespace DeepTrain.Tests.Backends;

// The CPU forward's inference additions: ReLU fused into the epilogue, and a batch below the thread count split over output
// columns. Both change where work happens, not the arithmetic of any output element, so they are checked bit for bit against
// the plain path (and against the naive definition within Conv2dTests' tolerance, 2e-4 + 1e-5·|y|).
public class Conv2dEpilogueTests
{
    public static TheoryData<string, Layout> Cases()
    {
        var d = new TheoryData<string, Layout>();
        foreach (var c in new[] { "3x3 s1 p1 (implicit)", "1x1 pointwise", "1x1 s2 (explicit im2col)", "3x3 s2 p1 g2" })
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                d.Add(c, layout);
        return d;
    }

    private static Geometry Case(string name) => name switch
    {
        "3x3 s1 p1 (implicit)" => new(2, 8, 9, 10, 12, 3, 3, ConvSpec.Square(1, 1)),
        "1x1 pointwise" => new(2, 8, 6, 7, 12, 1, 1, ConvSpec.Square()),
        "1x1 s2 (explicit im2col)" => new(2, 8, 8, 8, 16, 1, 1, ConvSpec.Square(2)),
        _ => new(2, 8, 9, 9, 10, 3, 3, ConvSpec.Square(2, 1, groups: 2)),
    };

    [Theory, MemberData(nameof(Cases))]
    public void FusedRelu_IsMaxOfTheBiasedConvolutionAndZero_BitForBit(string caseName, Layout layout)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Case(caseName);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var w = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(3, g.K).ToDouble();
        var (xt, wt, bt) = (s.UploadLogical(x, g.X, layout), s.UploadLogical(w, g.Wt, Layout.NCHW), s.UploadLogical(bias, Shape.Of(g.K), Layout.NCHW));
        var plain = s.UploadLogical(TestData.Normal(5, g.Y.Dims.ToArray()).ToDouble(), g.Y, layout);
        var fused = s.UploadLogical(TestData.Normal(6, g.Y.Dims.ToArray()).ToDouble(), g.Y, layout);
        b.Conv2dForward(xt, wt, bt, plain, g.Spec);
        b.Conv2dForward(xt, wt, bt, fused, g.Spec, relu: true);

        var expected = s.Download(plain).Select(v => MathF.Max(v, 0f)).ToArray();
        Assert.Equal(expected, s.Download(fused));
        Assert.Contains(expected, v => v == 0f);   // the case has negative pre-activations, so the ReLU did something
        Tolerance.AssertClose(Forward(g, x, w, bias).Select(v => Math.Max(v, 0)).ToArray(), s.DownloadLogical(fused), 2e-4, 1e-5, caseName);
    }

    [Fact]
    public void OneImage_SplitOverColumns_EqualsThatImageInABatchComputedPerImage()
    {
        // 64 → 64 channels, 3×3 at 32×32: 2·64·576·(32·34) ≈ 80 MFLOP per image, above the split threshold; a batch of
        // Threads images runs one image per thread instead. (On a one-thread machine both run unsplit and still agree.)
        Assert.True(2L * 64 * 576 * 32 * 34 >= CpuBackend.SplitColumnsMinFlops);
        int n = Math.Max(2, CpuBackend.Threads);
        var g = new Geometry(n, 64, 32, 32, 64, 3, 3, ConvSpec.Square(1, 1));
        var one = g with { N = 1 };
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var x = TestData.Normal(1, g.X.Dims.ToArray());
        var wt = s.Upload(TestData.Normal(2, g.Wt.Dims.ToArray()), g.Wt);
        var bt = s.Upload(TestData.Normal(3, g.K), Shape.Of(g.K));
        var yBatch = s.Zeros(g.Y);
        var yOne = s.Zeros(one.Y);
        b.Conv2dForward(s.Upload(x, g.X), wt, bt, yBatch, g.Spec, relu: true);
        b.Conv2dForward(s.Upload(x.AsSpan(0, (int)one.X.Elements).ToArray(), one.X), wt, bt, yOne, g.Spec, relu: true);
        Assert.Equal(s.Download(yBatch).AsSpan(0, (int)one.Y.Elements).ToArray(), s.Download(yOne));
    }
}

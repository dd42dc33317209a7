using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;
using static DeepTrain.Tests.Infrastructure.NaiveConv;

namespace DeepTrain.Tests.Backends;

// Weights packed once for the im2col GEMM (CpuGemmWeights, what an inference session makes at load): the forward given them
// skips its own packing and must compute exactly the bits it computes from the weights, on every im2col route (implicit,
// pointwise, explicit columns, grouped; NCHW and NHWC; one image split over columns and a batch split over images).
public class CpuGemmWeightsTests
{
    public static TheoryData<string, Layout, int> Cases()
    {
        var d = new TheoryData<string, Layout, int>();
        foreach (var c in new[] { "3x3 s1 p1 (implicit)", "1x1 pointwise", "1x1 s2 (explicit im2col)", "3x3 s2 p1 g2", "3x3 s1 p1 K=20 C=300" })
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                foreach (var n in new[] { 1, 3 })
                    d.Add(c, layout, n);
        return d;
    }

    private static Geometry Case(string name, int n) => name switch
    {
        "3x3 s1 p1 (implicit)" => new(n, 8, 9, 10, 12, 3, 3, ConvSpec.Square(1, 1)),
        "1x1 pointwise" => new(n, 8, 6, 7, 12, 1, 1, ConvSpec.Square()),
        "1x1 s2 (explicit im2col)" => new(n, 8, 8, 8, 16, 1, 1, ConvSpec.Square(2)),
        // Cg·R·S = 2700 > KC: the packing holds several K panels.
        "3x3 s1 p1 K=20 C=300" => new(n, 300, 5, 6, 20, 3, 3, ConvSpec.Square(1, 1)),
        _ => new(n, 8, 9, 9, 10, 3, 3, ConvSpec.Square(2, 1, groups: 2)),
    };

    [Theory, MemberData(nameof(Cases))]
    public void PackedOnce_GivesTheSameBits_AsPackingInTheCall(string caseName, Layout layout, int n)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Case(caseName, n);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var w = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(3, g.K).ToDouble();
        var (xt, wt, bt) = (s.UploadLogical(x, g.X, layout), s.UploadLogical(w, g.Wt, Layout.NCHW), s.UploadLogical(bias, Shape.Of(g.K), Layout.NCHW));
        var packed = CpuGemmWeights.Of(wt, g.Spec.Groups);
        Assert.Equal(CpuGemmWeights.Floats(g.K, g.Wt.C * g.R * g.S, g.Spec.Groups) * sizeof(float), packed.Bytes);
        var plain = s.Zeros(g.Y, layout);
        var given = s.UploadLogical(TestData.Normal(5, g.Y.Dims.ToArray()).ToDouble(), g.Y, layout);
        using (CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Im2Col))
        {
            b.Conv2dForward(xt, wt, bt, plain, g.Spec, relu: true);
            b.Conv2dForward(xt, wt, bt, given, g.Spec, relu: true, packedWeights: packed);
        }
        Assert.Equal(s.Download(plain), s.Download(given));
        Tolerance.AssertClose(Forward(g, x, w, bias).Select(v => Math.Max(v, 0)).ToArray(), s.DownloadLogical(given), 2e-4, 1e-5, caseName);
    }

    [Fact]
    public void PackedWeights_AreRead_AndIgnoredWhenTheyDoNotFitTheCall()
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Case("3x3 s1 p1 (implicit)", 2);
        var xt = s.Upload(TestData.Normal(1, g.X.Dims.ToArray()), g.X);
        var wt = s.Upload(TestData.Normal(2, g.Wt.Dims.ToArray()), g.Wt);
        var other = s.Upload(TestData.Normal(7, g.Wt.Dims.ToArray()), g.Wt);
        float[] Run(CpuGemmWeights? packed)
        {
            var y = s.Zeros(g.Y);
            using (CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Im2Col)) b.Conv2dForward(xt, wt, null, y, g.Spec, relu: false, packedWeights: packed);
            return s.Download(y);
        }
        var plain = Run(null);
        // Another weight's packing is what the GEMM reads: a different result.
        Assert.NotEqual(plain, Run(CpuGemmWeights.Of(other, 1)));
        // A packing of another shape is not used at all.
        var wider = s.Upload(TestData.Normal(8, 16, g.C, 3, 3), Shape.Of(16, g.C, 3, 3));
        Assert.Equal(plain, Run(CpuGemmWeights.Of(wider, 1)));
    }

    [Fact]
    public void Of_RejectsWeightsThatAreNotFp32Rank4OrNotDivisibleByGroups()
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var w = s.Upload(TestData.Normal(1, 6, 2, 3, 3), Shape.Of(6, 2, 3, 3));
        var ex = Assert.Throws<ArgumentException>(() => CpuGemmWeights.Of(w, 4));
        Assert.Contains("divisible by groups 4", ex.Message);
        Assert.Throws<ArgumentException>(() => CpuGemmWeights.Of(s.Upload(TestData.Normal(1, 6, 18), Shape.Of(6, 18)), 1));
    }
}

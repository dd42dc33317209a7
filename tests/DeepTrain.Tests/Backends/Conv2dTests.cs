using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;
using static DeepTrain.Tests.Infrastructure.NaiveConv;

namespace DeepTrain.Tests.Backends;

// Tolerance: every output is an fp32 sum of at most ~1600 products of N(0,1) values (the filter gradient
// of the 28×28 case sums N·OH·OW = 1568 terms, |sum| ≈ 40). Summed in a different order than the double
// reference, the error is ≈ ε₃₂·√n·|sum| ≈ 6e-8·40·40 ≈ 1e-4 in the worst case: atol 2e-4 + rtol 1e-5.
// A dropped, doubled or misplaced tap changes an output by ≈ 1, so the check still catches every index bug.
public class Conv2dTests
{
    private const double Atol = 2e-4, Rtol = 1e-5;

    /// <summary>Named cases: (N, C, H, W, K, R, S, spec), bias or not.</summary>
    private static readonly Dictionary<string, (Geometry G, bool Bias)> CaseTable = new()
    {
        ["3x3 s1 p1"] = (new(2, 3, 9, 9, 4, 3, 3, ConvSpec.Square(1, 1)), true),
        ["3x3 s2 p1"] = (new(2, 3, 9, 9, 4, 3, 3, ConvSpec.Square(2, 1)), false),
        ["3x3 p0"] = (new(2, 3, 6, 7, 5, 3, 3, ConvSpec.Square()), false),
        ["non-square s(2,1) p(0,2) d(1,2) g2"] = (new(1, 4, 7, 10, 6, 3, 3, new ConvSpec(2, 1, 0, 2, 1, 2, 2)), true),
        ["groups 4"] = (new(2, 8, 6, 5, 8, 3, 3, ConvSpec.Square(1, 1, groups: 4)), true),
        ["depthwise"] = (new(2, 6, 8, 8, 6, 3, 3, ConvSpec.Square(1, 1, groups: 6)), false),
        ["depthwise multiplier 2 s2"] = (new(2, 3, 9, 8, 6, 3, 3, ConvSpec.Square(2, 1, groups: 3)), false),
        ["1x1 pointwise"] = (new(2, 5, 6, 7, 3, 1, 1, ConvSpec.Square()), true),
        ["1x1 pointwise g2"] = (new(2, 4, 5, 5, 6, 1, 1, ConvSpec.Square(groups: 2)), false),
        ["1x1 s2 shortcut"] = (new(2, 16, 8, 8, 32, 1, 1, ConvSpec.Square(2)), false),
        ["5x3 s2 p2 d2"] = (new(3, 1, 11, 13, 5, 5, 3, ConvSpec.Square(2, 2, 2)), true),
        ["2x2 s3 odd"] = (new(3, 2, 5, 5, 3, 2, 2, ConvSpec.Square(3)), false),
        ["4x4 p1 kernel ~ input"] = (new(1, 3, 4, 4, 2, 4, 4, ConvSpec.Square(1, 1)), false),
        ["pad 2 wider than needed"] = (new(2, 2, 3, 4, 3, 3, 3, ConvSpec.Square(1, 2)), true),
        ["stem 1 channel (explicit backward data)"] = (new(2, 1, 9, 9, 4, 3, 3, ConvSpec.Square(1, 1)), true),
        ["s1 pad > dil(R-1) (col2im backward data)"] = (new(2, 4, 4, 5, 3, 2, 2, ConvSpec.Square(1, 2)), false),
        ["s1 d(2,1) p(2,1) 3x2"] = (new(1, 8, 9, 8, 4, 3, 2, new ConvSpec(1, 1, 2, 1, 2, 1, 1)), true),
        ["5 images over 2 threads"] = (new(5, 3, 6, 6, 4, 3, 3, ConvSpec.Square(1, 1)), false),
        ["resnet 16->16 @28"] = (new(2, 16, 28, 28, 16, 3, 3, ConvSpec.Square(1, 1)), false),
        ["resnet 32->64 s2 @14"] = (new(2, 32, 14, 14, 64, 3, 3, ConvSpec.Square(2, 1)), false),
        ["resnet 64->64 @7 (K > 256 panel)"] = (new(1, 64, 7, 7, 64, 3, 3, ConvSpec.Square(1, 1)), false),
    };

    public static TheoryData<string, string, Layout> Cases()
    {
        var d = new TheoryData<string, string, Layout>();
        foreach (var name in new[] { "cpu", "cuda" })
            foreach (var c in CaseTable.Keys)
                foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                    d.Add(name, c, layout);
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchNaiveDefinition(string name, string caseName, Layout layout)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var (g, hasBias) = CaseTable[caseName];
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var w = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = hasBias ? TestData.Normal(3, g.K).ToDouble() : null;
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var xt = s.UploadLogical(x, g.X, layout);
        var wt = s.UploadLogical(w, g.Wt, Layout.NCHW);
        var dyt = s.UploadLogical(dy, g.Y, layout);
        var bt = bias is null ? null : s.UploadLogical(bias, Shape.Of(g.K), Layout.NCHW);

        // Forward overwrites whatever y held.
        var yt = s.UploadLogical(TestData.Normal(5, g.Y.Dims.ToArray()).ToDouble(), g.Y, layout);
        b.Conv2dForward(xt, wt, bt, yt, g.Spec);
        Tolerance.AssertClose(Forward(g, x, w, bias), s.DownloadLogical(yt), Atol, Rtol, $"{caseName} y");

        var dxRef = BackwardData(g, dy, w);
        var dwRef = BackwardFilter(g, x, dy);
        var dbRef = BackwardBias(g, dy);
        var dxPrior = TestData.Normal(6, g.X.Dims.ToArray()).ToDouble();
        var dwPrior = TestData.Normal(7, g.Wt.Dims.ToArray()).ToDouble();
        var dbPrior = TestData.Normal(8, g.K).ToDouble();
        foreach (bool acc in new[] { false, true })
        {
            var dxt = s.UploadLogical(dxPrior, g.X, layout);
            b.Conv2dBackwardData(dyt, wt, dxt, g.Spec, acc);
            Tolerance.AssertClose(Plus(dxRef, acc ? dxPrior : null), s.DownloadLogical(dxt), Atol, Rtol, $"{caseName} dx acc={acc}");

            var dwt = s.UploadLogical(dwPrior, g.Wt, Layout.NCHW);
            var dbt = hasBias ? s.UploadLogical(dbPrior, Shape.Of(g.K), Layout.NCHW) : null;
            b.Conv2dBackwardFilter(xt, dyt, dwt, dbt, g.Spec, acc);
            Tolerance.AssertClose(Plus(dwRef, acc ? dwPrior : null), s.DownloadLogical(dwt), Atol, Rtol, $"{caseName} dw acc={acc}");
            if (dbt is not null)
                Tolerance.AssertClose(Plus(dbRef, acc ? dbPrior : null), s.DownloadLogical(dbt), Atol, Rtol, $"{caseName} dbias acc={acc}");
        }
    }

    private static double[] Plus(double[] a, double[]? prior) => prior is null ? a : a.Select((v, i) => v + prior[i]).ToArray();

    [Fact]
    public void NaiveAdjoints_MatchFiniteDifferencesOfNaiveForward()
    {
        // The backward references above are adjoint sums; prove them against central differences of the
        // forward in double (error ≈ 1e-10), on a case with stride, padding, dilation and groups together.
        var g = new Geometry(2, 4, 6, 7, 4, 3, 2, new ConvSpec(2, 1, 1, 0, 1, 2, 2));
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var w = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var dy = TestData.Normal(3, g.Y.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(4, g.K).ToDouble();
        Tolerance.AssertClose(FiniteDifference.VectorJacobian(v => Forward(g, v, w, bias), x, dy), BackwardData(g, dy, w), 1e-7, 1e-7, "naive dx");
        Tolerance.AssertClose(FiniteDifference.VectorJacobian(v => Forward(g, x, v, bias), w, dy), BackwardFilter(g, x, dy), 1e-7, 1e-7, "naive dw");
        Tolerance.AssertClose(FiniteDifference.VectorJacobian(v => Forward(g, x, w, v), bias, dy), BackwardBias(g, dy), 1e-7, 1e-7, "naive dbias");
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void ConcurrentCallsWithDifferentShapes_GiveSerialResults(string name)
    {
        // Per-thread scratch must not leak between callers: four threads run different convolutions at once.
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        string[] names = ["resnet 16->16 @28", "1x1 s2 shortcut", "groups 4", "resnet 32->64 s2 @14"];
        var jobs = names.Select(n =>
        {
            var (g, _) = CaseTable[n];
            var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
            var w = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
            return (g, x, w, xt: s.UploadLogical(x, g.X, Layout.NCHW), wt: s.UploadLogical(w, g.Wt, Layout.NCHW),
                ys: Enumerable.Range(0, 20).Select(_ => s.Zeros(g.Y)).ToArray());
        }).ToArray();
        Parallel.For(0, jobs.Length * 20, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var j = jobs[i % jobs.Length];
            b.Conv2dForward(j.xt, j.wt, null, j.ys[i / jobs.Length], j.g.Spec);
        });
        foreach (var j in jobs)
        {
            var expected = Forward(j.g, j.x, j.w, null);
            foreach (var y in j.ys) Tolerance.AssertClose(expected, s.Download(y), Atol, Rtol, "concurrent y");
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void MismatchedShapes_ThrowNamingTheOperationAndShapes(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var x = s.Zeros(Shape.Of(2, 3, 8, 8));
        var ex = Assert.Throws<ArgumentException>(() => b.Conv2dForward(x, s.Zeros(Shape.Of(4, 2, 3, 3)), null, s.Zeros(Shape.Of(2, 4, 8, 8)), ConvSpec.Square(1, 1)));
        Assert.Contains("Conv2dForward", ex.Message);
        Assert.Contains("(4, 3, 3, 3)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => b.Conv2dForward(x, s.Zeros(Shape.Of(4, 3, 3, 3)), null, s.Zeros(Shape.Of(2, 4, 7, 7)), ConvSpec.Square(1, 1)));
        Assert.Contains("(2, 4, 8, 8)", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => b.Conv2dBackwardData(s.Zeros(Shape.Of(2, 4, 8, 8)), s.Zeros(Shape.Of(4, 3, 3, 3)), x, ConvSpec.Square(1, 1, groups: 2), false));
        Assert.Contains("Conv2dBackwardData", ex.Message);
        ex = Assert.Throws<ArgumentException>(() => b.Conv2dBackwardFilter(x, s.Zeros(Shape.Of(2, 4, 8, 8)), s.Zeros(Shape.Of(4, 3, 3, 3)), s.Zeros(Shape.Of(5)), ConvSpec.Square(1, 1), false));
        Assert.Contains("dbias", ex.Message);
    }

    [Fact]
    public void WorkspaceBytes_IsPositiveForAnIm2ColCase()
    {
        using var b = new DeepTrain.Backends.Cpu.CpuBackend();
        long bytes = b.Conv2dWorkspaceBytes(Shape.Of(128, 16, 28, 28), Shape.Of(16, 16, 3, 3), ConvSpec.Square(1, 1), Layout.NCHW, DType.Float32);
        Assert.True(bytes > 16 * 9 * 784 * 4);
        // The CPU computes every layout and dtype in fp32: one figure for all.
        Assert.Equal(bytes, b.Conv2dWorkspaceBytes(Shape.Of(128, 16, 28, 28), Shape.Of(16, 16, 3, 3), ConvSpec.Square(1, 1), Layout.NHWC, DType.Float16));
    }
}

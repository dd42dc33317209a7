using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;
using static DeepTrain.Tests.Infrastructure.NaiveConv;

namespace DeepTrain.Tests.Backends;

// The Winograd F(2×2, 3×3) filter gradient (CpuWinograd.FilterGradient) against the naive adjoint in double, and against the
// im2col path's own error on the same data. Error bound: each dw[k, c] is Gᵀ Ṁ G with Ṁ_ξ = Σ_t Ṽdy_ξ·V_ξ, where Ṽdy sums up
// to 4 dy values and V up to 4 inputs, so each of the 16 tile sums carries products a few times larger than im2col's
// x·dy, and Gᵀ·G then adds 9 of them (scaled by ½ and ¼); the tile sums are as long as im2col's (one term per tile per
// position instead of a quarter as many per pixel). Measured on these cases (standard normal x and dy, up to 1,568 terms per
// weight, |dw| ≤ 163; the test output prints each case): Winograd's worst absolute error 7.8e-5 against im2col's 4.7e-5, per
// case 0.6–1.8× im2col's. The test bounds: atol 2e-4 + rtol 1e-5 (Conv2dTests' bound for im2col), and Winograd's worst error
// ≤ 4× im2col's + 1e-5 (a mistake in a transform is off by O(1)).
[Collection(nameof(ThreadCountCollection))]
public class CpuWinogradFilterGradTests
{
    private const double Atol = 2e-4, Rtol = 1e-5, RatioToIm2Col = 4, Floor = 1e-5;

    public static TheoryData<int, int, int, int, int, int, Layout> Shapes()
    {
        var d = new TheoryData<int, int, int, int, int, int, Layout>();
        // (N, C, H, W, K, pad): C and K over {1, 3, 16, 17, 32}, odd and even H and W, pads 0 and 1, batches 1..4.
        int[][] cases =
        [
            [1, 1, 6, 6, 1, 1], [2, 3, 7, 5, 16, 1], [3, 16, 8, 9, 3, 0], [4, 17, 5, 6, 17, 1], [1, 32, 14, 14, 32, 1],
            [2, 16, 28, 28, 16, 1], [3, 32, 9, 7, 17, 0], [4, 16, 4, 3, 32, 1], [1, 17, 11, 13, 1, 0], [2, 3, 3, 3, 3, 0],
            [1, 16, 1, 1, 16, 1], [2, 32, 33, 20, 16, 1],
            // Four tiles per tile row (four rows per vector): 8×8, 7 by 8, and 11 by 7 (four tile rows in one vector, then two).
            [2, 24, 8, 8, 20, 1], [3, 16, 7, 8, 17, 1], [2, 16, 11, 7, 16, 1],
            // Five to eight tiles per tile row (two rows per vector): 14×14, 16×16, 13×13 and 15 by 16.
            [2, 32, 14, 14, 32, 1], [2, 32, 16, 16, 24, 1], [3, 17, 13, 13, 20, 1], [2, 24, 15, 16, 33, 1],
        ];
        foreach (var c in cases)
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                if (layout == Layout.NCHW || c[1] + c[4] < 40) d.Add(c[0], c[1], c[2], c[3], c[4], c[5], layout);
        return d;
    }

    private static Geometry Geo(int n, int c, int h, int w, int k, int pad) => new(n, c, h, w, k, 3, 3, ConvSpec.Square(1, pad));

    private static float[] FilterGradient(CpuBackend b, TensorScope s, Geometry g, double[] x, double[] dy, double[] start, Layout layout,
        CpuConvAlgorithm alg, bool accumulate)
    {
        var dw = s.UploadLogical(start, g.Wt, Layout.NCHW);
        using (CpuBackend.UseConvAlgorithm(alg))
            b.Conv2dBackwardFilter(s.UploadLogical(x, g.X, layout), s.UploadLogical(dy, g.Y, layout), dw, null, g.Spec, accumulate);
        return s.DownloadLogical(dw);
    }

    private static double MaxError(double[] expected, float[] actual) => expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();

    [Theory, MemberData(nameof(Shapes))]
    public void FilterGradient_MatchesTheNaiveDefinition_WithinAFewTimesIm2ColsError(int n, int c, int h, int w, int k, int pad, Layout layout)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(n, c, h, w, k, pad);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        // A NaN in dw must not survive an overwriting call (β = 0, as im2col and cuDNN).
        var start = TestData.Normal(6, g.Wt.Dims.ToArray()).ToDouble();
        var naive = NaiveConv.BackwardFilter(g, x, dy);
        foreach (bool accumulate in new[] { false, true })
        {
            var prior = accumulate ? start : start.Select(_ => double.NaN).ToArray();
            var expected = accumulate ? naive.Zip(start, (a, z) => a + z).ToArray() : naive;
            var wino = FilterGradient(b, s, g, x, dy, prior, layout, CpuConvAlgorithm.Winograd, accumulate);
            var im2col = FilterGradient(b, s, g, x, dy, prior, layout, CpuConvAlgorithm.Im2Col, accumulate);
            TestContext.Current.TestOutputHelper?.WriteLine($"{g} {layout} accumulate {accumulate}: max |error| winograd {MaxError(expected, wino):g3}, im2col {MaxError(expected, im2col):g3}, max |dw| {expected.Max(Math.Abs):g3}");
            Tolerance.AssertClose(expected, wino, Atol, Rtol, $"winograd dw {g} {layout} accumulate {accumulate}");
            Assert.True(MaxError(expected, wino) <= RatioToIm2Col * MaxError(expected, im2col) + Floor,
                $"winograd max error {MaxError(expected, wino):g3} against im2col's {MaxError(expected, im2col):g3} (accumulate {accumulate})");
            if (!accumulate && n * g.OH * g.OW > 4) Assert.NotEqual(im2col, wino);   // the two paths really differ
        }
    }

    [Theory]
    [InlineData(1, 64, 7, 7, 64)]      // one image, one group: output-channel chunks only
    [InlineData(1, 16, 28, 28, 24)]
    [InlineData(3, 32, 14, 14, 40)]
    [InlineData(128, 16, 6, 6, 16)]    // 16 groups of 8 images
    [InlineData(5, 17, 9, 8, 33)]
    public void FilterGradient_DoesNotDependOnHowTheWorkIsSplit_AndRepeatsBitForBit(int n, int c, int h, int w, int k)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(n, c, h, w, k, 1);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var start = TestData.Normal(6, g.Wt.Dims.ToArray()).ToDouble();
        float[]? first = null, firstAcc = null;
        foreach (int threads in new[] { 1, 2, 3, 8, 2 })
        {
            CpuWinograd.t_partitionThreads = threads;
            try
            {
                var dw = FilterGradient(b, s, g, x, dy, start, Layout.NCHW, CpuConvAlgorithm.Winograd, accumulate: false);
                var dwAcc = FilterGradient(b, s, g, x, dy, start, Layout.NCHW, CpuConvAlgorithm.Winograd, accumulate: true);
                first ??= dw;
                firstAcc ??= dwAcc;
                Assert.Equal(first, dw);
                Assert.Equal(firstAcc, dwAcc);
            }
            finally { CpuWinograd.t_partitionThreads = 0; }
        }
        // And the real pool at 1 and 2 threads gives the same bits as the simulated splits.
        int saved = CpuBackend.Threads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                CpuBackend.Threads = threads;
                Assert.Equal(first, FilterGradient(b, s, g, x, dy, start, Layout.NCHW, CpuConvAlgorithm.Winograd, accumulate: false));
            }
        }
        finally { CpuBackend.Threads = saved; }
    }

    [Fact]
    public void Auto_WeighsEachCallKindOnItsOwn()
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        bool avx512 = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        var winogradIfAvx512 = avx512 ? CpuConvAlgorithm.Winograd : CpuConvAlgorithm.Im2Col;
        float[] Filter(Geometry g, CpuConvAlgorithm alg)
        {
            var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
            var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
            return FilterGradient(b, s, g, x, dy, new double[g.Wt.Elements], Layout.NCHW, alg, accumulate: false);
        }
        float[] Data(Geometry g, CpuConvAlgorithm alg)
        {
            var dx = s.Zeros(g.X);
            using (CpuBackend.UseConvAlgorithm(alg))
                b.Conv2dBackwardData(s.Upload(TestData.Normal(4, g.Y.Dims.ToArray()), g.Y), s.Upload(TestData.Normal(2, g.Wt.Dims.ToArray()), g.Wt), dx, g.Spec, false);
            return s.Download(dx);
        }
        var sixteen = Geo(8, 16, 12, 12, 16, 1);      // 288 tiles: enough for every pass
        var thirtyTwo = Geo(8, 32, 12, 12, 32, 1);
        var sixtyFour = Geo(8, 64, 12, 12, 64, 1);
        Assert.Equal(32, CpuBackend.WinogradMinChannelsOf(CpuBackend.ConvPass.Data));
        Assert.Equal(32, CpuBackend.WinogradMaxChannelsFilter);
        // Filter gradient: Winograd from 16 to 32 channels, im2col at 64 (12×12 images: 6 tiles wide) ...
        Assert.Equal(Filter(sixteen, winogradIfAvx512), Filter(sixteen, CpuConvAlgorithm.Auto));
        Assert.NotEqual(Filter(sixteen, CpuConvAlgorithm.Winograd), Filter(sixteen, CpuConvAlgorithm.Im2Col));
        Assert.Equal(Filter(thirtyTwo, winogradIfAvx512), Filter(thirtyTwo, CpuConvAlgorithm.Auto));
        Assert.Equal(Filter(sixtyFour, CpuConvAlgorithm.Im2Col), Filter(sixtyFour, CpuConvAlgorithm.Auto));
        Assert.NotEqual(Filter(sixtyFour, CpuConvAlgorithm.Winograd), Filter(sixtyFour, CpuConvAlgorithm.Im2Col));
        // ... except where the output is four tiles wide (7×7, 8×8: four tile rows per transform vector): Winograd up to 64
        // channels, im2col above.
        Assert.Equal(64, CpuBackend.WinogradMaxChannelsFilterFourTiles);
        var sevenBySeven = Geo(24, 64, 7, 7, 64, 1);   // 384 tiles
        var eightByEight = Geo(16, 64, 8, 8, 64, 1);   // 256 tiles
        var wideSeven = Geo(16, 80, 7, 7, 64, 1);
        Assert.Equal(Filter(sevenBySeven, winogradIfAvx512), Filter(sevenBySeven, CpuConvAlgorithm.Auto));
        Assert.NotEqual(Filter(sevenBySeven, CpuConvAlgorithm.Winograd), Filter(sevenBySeven, CpuConvAlgorithm.Im2Col));
        Assert.Equal(Filter(eightByEight, winogradIfAvx512), Filter(eightByEight, CpuConvAlgorithm.Auto));
        Assert.Equal(Filter(wideSeven, CpuConvAlgorithm.Im2Col), Filter(wideSeven, CpuConvAlgorithm.Auto));
        Assert.NotEqual(Filter(wideSeven, CpuConvAlgorithm.Winograd), Filter(wideSeven, CpuConvAlgorithm.Im2Col));
        // Data gradient: im2col at 16 channels, Winograd from 32.
        Assert.Equal(Data(sixteen, CpuConvAlgorithm.Im2Col), Data(sixteen, CpuConvAlgorithm.Auto));
        Assert.NotEqual(Data(sixteen, CpuConvAlgorithm.Winograd), Data(sixteen, CpuConvAlgorithm.Im2Col));
        Assert.Equal(Data(thirtyTwo, winogradIfAvx512), Data(thirtyTwo, CpuConvAlgorithm.Auto));
        Assert.Equal(Data(sixtyFour, winogradIfAvx512), Data(sixtyFour, CpuConvAlgorithm.Auto));
        // Too few tiles (one small image) or the stem: im2col for the filter gradient too.
        var oneImage = Geo(1, 16, 12, 12, 16, 1);
        var stem = Geo(8, 1, 12, 12, 16, 1);
        Assert.Equal(Filter(oneImage, CpuConvAlgorithm.Im2Col), Filter(oneImage, CpuConvAlgorithm.Auto));
        Assert.Equal(Filter(stem, CpuConvAlgorithm.Im2Col), Filter(stem, CpuConvAlgorithm.Auto));
    }

    [Fact]
    public void GradientCheck_ThroughConv2dLayers_OnTheWinogradPath()
    {
        using var backend = new CpuBackend();
        var graph = new ModelGraph("winograd-check", Shape.Of(3, 6, 7));
        var x = graph.Apply("conv1", new Conv2d(3, 16, 3, padding: 1), graph.Input);
        x = graph.Apply("act", new Tanh(), x);
        x = graph.Apply("conv2", new Conv2d(16, 16, 3, padding: 0), x);
        x = graph.Apply("flat", new Flatten(), x);
        graph.Apply("fc", new Linear(16 * 4 * 5, 3), x);
        using var model = new Model(graph, backend, seed: 4);
        using var plan = model.Compile(batchSize: 4, training: true, new CrossEntropyLoss());
        backend.CopyFromHost<float>(TestData.Normal(seed: 5, 4, 3, 6, 7), plan.Input);
        backend.CopyFromHost<int>([0, 2, 1, 2], plan.Target);
        using (CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Winograd))
        {
            var samples = GradientChecker.Verify(plan, perParameter: 8);
            Assert.Contains(samples, sm => sm.Parameter == "conv1.weight" && Math.Abs(sm.Analytic) > 1e-4);
            Assert.Contains(samples, sm => sm.Parameter == "conv2.weight" && Math.Abs(sm.Analytic) > 1e-4);
        }
    }
}

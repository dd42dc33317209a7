using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Inference;
using DeepTrain.Layers;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;
using static DeepTrain.Tests.Infrastructure.NaiveConv;

namespace DeepTrain.Tests.Backends;

// Winograd F(2×2, 3×3) on the CPU (CpuWinograd) against the naive convolution in double, and against the im2col path's own
// error on the same data. Error bound: each output is Aᵀ(Σ_c U_c ⊙ V_c)A, where V sums up to 4 inputs, U is a ½-scaled sum of
// up to 9 weights (formed in fp32), and Aᵀ·A sums 9 of the 16 products' channel sums; so an output carries
// rounding from terms up to a few times larger than im2col's single products, but summed in 16 shorter chains over C instead
// of one chain over 9·C. Measured on these cases (standard normal x and w, C ≤ 65, |y| ≤ 90): Winograd's largest absolute error
// was 2.4e-5 against im2col's 3.9e-5; per case 0.4–1.9× im2col's, and up to 7.7× only on the 1×1-image case whose errors are
// ≤ 4e-7 absolute. The test bounds: atol 2e-4 + rtol 1e-5 (Conv2dTests' bound for im2col), and Winograd's max error
// ≤ 8× im2col's + 1e-6 (a mistake in a transform is off by O(1)).
public class CpuWinogradTests
{
    public static TheoryData<int, int, int, int, int, int, Layout> Shapes()
    {
        var d = new TheoryData<int, int, int, int, int, int, Layout>();
        // (N, C, H, W, K, pad): ResNet-like, odd sizes, C and K not multiples of 8 or 16, 1×1 images, pads 0–2.
        int[][] cases =
        [
            [2, 16, 28, 28, 16, 1], [1, 32, 14, 14, 32, 1], [1, 64, 7, 7, 64, 1], [3, 17, 9, 11, 19, 1], [1, 5, 5, 5, 7, 0],
            [2, 9, 6, 13, 10, 2], [1, 3, 1, 1, 4, 1], [4, 8, 3, 2, 8, 1], [1, 65, 12, 5, 33, 1], [2, 12, 34, 33, 12, 0],
            // Four tiles per tile row (four rows per vector): 8×8, 7 by 8, and 10 by 9 unpadded (8 by 7 outputs).
            [2, 24, 8, 8, 20, 1], [3, 16, 7, 8, 17, 1], [2, 16, 10, 9, 16, 0],
            // Five to eight tiles per tile row (two rows per vector): 14×14, 16×16, 13×13 and 15 by 16.
            [2, 32, 14, 14, 32, 1], [2, 32, 16, 16, 24, 1], [3, 17, 13, 13, 20, 1], [2, 24, 15, 16, 33, 1],
        ];
        foreach (var c in cases)
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                if (layout == Layout.NCHW || c[1] < 20) d.Add(c[0], c[1], c[2], c[3], c[4], c[5], layout);
        return d;
    }

    private const double Atol = 2e-4, Rtol = 1e-5, RatioToIm2Col = 8, Floor = 1e-6;

    private static Geometry Geo(int n, int c, int h, int w, int k, int pad) => new(n, c, h, w, k, 3, 3, ConvSpec.Square(1, pad));

    private static float[] Forward(CpuBackend b, TensorScope s, Geometry g, double[] x, double[] w, double[] bias, Layout layout,
        CpuConvAlgorithm alg, bool relu = false, CpuWinogradWeights? prepared = null)
    {
        var y = s.UploadLogical(TestData.Normal(9, g.Y.Dims.ToArray()).ToDouble(), g.Y, layout);
        using (CpuBackend.UseConvAlgorithm(alg))
            b.Conv2dForward(s.UploadLogical(x, g.X, layout), s.UploadLogical(w, g.Wt, Layout.NCHW), s.UploadLogical(bias, Shape.Of(g.K), Layout.NCHW),
                y, g.Spec, relu, prepared);
        return s.DownloadLogical(y);
    }

    private static double MaxError(double[] expected, float[] actual) => expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();

    [Theory, MemberData(nameof(Shapes))]
    public void Forward_MatchesTheNaiveDefinition_WithinAFewTimesIm2ColsError(int n, int c, int h, int w, int k, int pad, Layout layout)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(n, c, h, w, k, pad);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var wt = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(3, k).ToDouble();
        var expected = NaiveConv.Forward(g, x, wt, bias);
        var wino = Forward(b, s, g, x, wt, bias, layout, CpuConvAlgorithm.Winograd);
        var im2col = Forward(b, s, g, x, wt, bias, layout, CpuConvAlgorithm.Im2Col);
        Tolerance.AssertClose(expected, wino, Atol, Rtol, $"winograd y {g}");
        Assert.True(MaxError(expected, wino) <= RatioToIm2Col * MaxError(expected, im2col) + Floor,
            $"winograd max error {MaxError(expected, wino):g3} against im2col's {MaxError(expected, im2col):g3}");
        Assert.NotEqual(im2col, wino);   // the two paths really differ (another summation order)

        // The fused ReLU is max(·, 0) of the same values, bit for bit.
        var relu = Forward(b, s, g, x, wt, bias, layout, CpuConvAlgorithm.Winograd, relu: true);
        Assert.Equal(wino.Select(v => MathF.Max(v, 0f)).ToArray(), relu);
    }

    [Theory, MemberData(nameof(Shapes))]
    public void BackwardData_MatchesTheNaiveDefinition_WithinAFewTimesIm2ColsError(int n, int c, int h, int w, int k, int pad, Layout layout)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(n, c, h, w, k, pad);
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var wt = TestData.Normal(5, g.Wt.Dims.ToArray()).ToDouble();
        var start = TestData.Normal(6, g.X.Dims.ToArray()).ToDouble();
        foreach (bool accumulate in new[] { false, true })
        {
            var naive = NaiveConv.BackwardData(g, dy, wt);
            var expected = accumulate ? naive.Zip(start, (a, z) => a + z).ToArray() : naive;
            float[] Run(CpuConvAlgorithm alg)
            {
                var dx = s.UploadLogical(start, g.X, layout);
                using (CpuBackend.UseConvAlgorithm(alg))
                    b.Conv2dBackwardData(s.UploadLogical(dy, g.Y, layout), s.UploadLogical(wt, g.Wt, Layout.NCHW), dx, g.Spec, accumulate);
                return s.DownloadLogical(dx);
            }
            var wino = Run(CpuConvAlgorithm.Winograd);
            var im2col = Run(CpuConvAlgorithm.Im2Col);
            Tolerance.AssertClose(expected, wino, Atol, Rtol, $"winograd dx {g} accumulate {accumulate}");
            Assert.True(MaxError(expected, wino) <= RatioToIm2Col * MaxError(expected, im2col) + Floor,
                $"winograd max error {MaxError(expected, wino):g3} against im2col's {MaxError(expected, im2col):g3} (accumulate {accumulate})");
        }
    }

    [Theory]
    [InlineData(1, 64, 7, 7, 64)]      // one image: rows then output-channel chunks
    [InlineData(1, 16, 28, 28, 24)]
    [InlineData(3, 32, 14, 14, 40)]
    [InlineData(128, 16, 6, 6, 16)]
    public void Results_DoNotDependOnHowTheWorkIsSplit_AndRepeatBitForBit(int n, int c, int h, int w, int k)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(n, c, h, w, k, 1);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var wt = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(3, k).ToDouble();
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        float[]? first = null, firstDx = null;
        foreach (int threads in new[] { 1, 2, 3, 8, 2 })
        {
            CpuWinograd.t_partitionThreads = threads;
            try
            {
                var y = Forward(b, s, g, x, wt, bias, Layout.NCHW, CpuConvAlgorithm.Winograd, relu: true);
                var dx = s.Zeros(g.X);
                using (CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Winograd))
                    b.Conv2dBackwardData(s.UploadLogical(dy, g.Y, Layout.NCHW), s.UploadLogical(wt, g.Wt, Layout.NCHW), dx, g.Spec, false);
                var dxv = s.Download(dx);
                first ??= y;
                firstDx ??= dxv;
                Assert.Equal(first, y);
                Assert.Equal(firstDx, dxv);
            }
            finally { CpuWinograd.t_partitionThreads = 0; }
        }
    }

    [Theory]
    [InlineData(3, 64, 7, 7, 64, 1, 0)]
    [InlineData(2, 24, 8, 8, 20, 1, 0)]
    [InlineData(2, 16, 10, 9, 17, 0, 0)]
    [InlineData(1, 64, 7, 7, 64, 1, 8)]    // one image over 8 threads: output-channel chunks
    [InlineData(1, 32, 8, 8, 16, 1, 3)]
    [InlineData(2, 16, 11, 7, 16, 1, 0)]   // 6 tile rows: four in one vector, then two
    [InlineData(2, 16, 13, 7, 16, 1, 0)]   // 7 tile rows: four, two, then one
    [InlineData(2, 16, 6, 6, 16, 1, 0)]    // three tiles a row: four rows of three
    [InlineData(2, 32, 14, 14, 32, 1, 0)]  // two rows per vector: 7 tile rows (three pairs, then one)
    [InlineData(3, 32, 16, 16, 24, 1, 0)]
    [InlineData(2, 17, 13, 13, 20, 1, 0)]  // 7 tiles a row, 7 tile rows, the last tile half outside
    [InlineData(2, 24, 15, 16, 33, 1, 0)]  // 8 tiles a row, 8 tile rows, the last tile row half outside
    [InlineData(1, 32, 14, 14, 32, 1, 8)]  // one image over 8 threads: single tile-row blocks, output-channel chunks
    [InlineData(2, 16, 10, 18, 16, 0, 3)]  // unpadded 5 tile rows of 8 tiles
    public void SeveralRows_GiveTheSameBits_AsOneTileRowPerVector(int n, int c, int h, int w, int k, int pad, int split)
    {
        // Two or four tile rows per vector (images up to 16 wide) compute each tile by the same expressions as one tile row per
        // vector, so forward (bias, ReLU), accumulating data gradient and filter gradient must agree bit for bit.
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(n, c, h, w, k, pad);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var wt = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(3, k).ToDouble();
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var start = TestData.Normal(6, g.X.Dims.ToArray()).ToDouble();
        (float[] Y, float[] Dx, float[] Dw) Run(bool several)
        {
            CpuWinograd.OneRowPerVector = !several;
            CpuWinograd.t_partitionThreads = split;
            try
            {
                var y = Forward(b, s, g, x, wt, bias, Layout.NCHW, CpuConvAlgorithm.Winograd, relu: true);
                var dx = s.UploadLogical(start, g.X, Layout.NCHW);
                var dw = s.Zeros(g.Wt);
                using (CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Winograd))
                {
                    b.Conv2dBackwardData(s.UploadLogical(dy, g.Y, Layout.NCHW), s.UploadLogical(wt, g.Wt, Layout.NCHW), dx, g.Spec, accumulate: true);
                    b.Conv2dBackwardFilter(s.UploadLogical(x, g.X, Layout.NCHW), s.UploadLogical(dy, g.Y, Layout.NCHW), dw, null, g.Spec, accumulate: false);
                }
                return (y, s.Download(dx), s.Download(dw));
            }
            finally { CpuWinograd.OneRowPerVector = false; CpuWinograd.t_partitionThreads = 0; }
        }
        var one = Run(several: false);
        var several = Run(several: true);
        Assert.Equal(one.Y, several.Y);
        Assert.Equal(one.Dx, several.Dx);
        Assert.Equal(one.Dw, several.Dw);
        Tolerance.AssertClose(NaiveConv.Forward(g, x, wt, bias).Select(v => Math.Max(v, 0)).ToArray(), several.Y, Atol, Rtol, $"several rows y {g}");
        Tolerance.AssertClose(NaiveConv.BackwardData(g, dy, wt).Zip(start, (a, v) => a + v).ToArray(), several.Dx, Atol, Rtol, $"several rows dx {g}");
    }

    [Fact]
    public void PreparedWeights_GiveTheSameBits_AsTransformingTheWeightsInTheCall()
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(2, 24, 10, 9, 40, 1);
        var x = TestData.Normal(1, g.X.Dims.ToArray()).ToDouble();
        var wt = TestData.Normal(2, g.Wt.Dims.ToArray()).ToDouble();
        var bias = TestData.Normal(3, g.K).ToDouble();
        var prepared = CpuWinogradWeights.Of(s.UploadLogical(wt, g.Wt, Layout.NCHW));
        var plain = Forward(b, s, g, x, wt, bias, Layout.NCHW, CpuConvAlgorithm.Winograd, relu: true);
        Assert.Equal(plain, Forward(b, s, g, x, wt, bias, Layout.NCHW, CpuConvAlgorithm.Winograd, relu: true, prepared));
        // And they are really read: other weights' transform gives another result.
        var other = CpuWinogradWeights.Of(s.UploadLogical(TestData.Normal(8, g.Wt.Dims.ToArray()).ToDouble(), g.Wt, Layout.NCHW));
        Assert.NotEqual(plain, Forward(b, s, g, x, wt, bias, Layout.NCHW, CpuConvAlgorithm.Winograd, relu: true, other));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void Session_PretransformsItsWeightsOnce_AndServesTheSameBitsAsWithout(int batch)
    {
        using var b = new CpuBackend();
        using var model = Inference.InferenceFixtures.Model(b);
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 2 });
        var convs = session.Model.Graph.Nodes.Select(nd => nd.Layer).OfType<Conv2d>().Where(cv => cv.KernelH == 3 && cv.Spec.StrideH == 1).ToList();
        Assert.NotEmpty(convs);
        Assert.All(convs, cv => Assert.NotNull(cv.WinogradWeights));
        var x = Inference.InferenceFixtures.Inputs(3, batch);
        var y = new float[batch * Inference.InferenceFixtures.Classes];
        var yPlain = new float[y.Length];
        using (CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Winograd)) session.Run(x, y);
        var saved = convs.Select(cv => cv.WinogradWeights).ToList();
        try
        {
            foreach (var cv in convs) cv.WinogradWeights = null;
            using (CpuBackend.UseConvAlgorithm(CpuConvAlgorithm.Winograd)) session.Run(x, yPlain);
        }
        finally
        {
            for (int i = 0; i < convs.Count; i++) convs[i].WinogradWeights = saved[i];
        }
        Assert.Equal(yPlain, y);
        // A session over a model it does not own (weights the caller may still train) transforms in every call instead.
        using var unfused = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 1, FuseLayers = false });
        Assert.All(unfused.Model.Graph.Nodes.Select(nd => nd.Layer).OfType<Conv2d>(), cv => Assert.Null(cv.WinogradWeights));
    }

    [Fact]
    public void Auto_TakesWinogradForEnoughTilesAndChannels_Im2ColForOneSmallImageTheStemAndStrides_AndIm2ColTurnsItOff()
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        float[] Run(Geometry g, CpuConvAlgorithm alg)
        {
            var y = s.Zeros(g.Y);
            using (CpuBackend.UseConvAlgorithm(alg))
                b.Conv2dForward(s.Upload(TestData.Normal(1, g.X.Dims.ToArray()), g.X), s.Upload(TestData.Normal(2, g.Wt.Dims.ToArray()), g.Wt), null, y, g.Spec);
            return s.Download(y);
        }
        var stage = Geo(8, 16, 12, 12, 16, 1);     // 8·6·6 = 288 tiles ≥ WinogradMinTiles
        var oneImage = Geo(1, 16, 12, 12, 16, 1);  // 36 tiles: im2col
        var stem = Geo(8, 1, 12, 12, 16, 1);
        var strided = new Geometry(2, 16, 12, 12, 16, 3, 3, ConvSpec.Square(2, 1));
        bool avx512 = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;
        Assert.Equal(Run(stage, avx512 ? CpuConvAlgorithm.Winograd : CpuConvAlgorithm.Im2Col), Run(stage, CpuConvAlgorithm.Auto));
        Assert.NotEqual(Run(stage, CpuConvAlgorithm.Winograd), Run(stage, CpuConvAlgorithm.Im2Col));
        Assert.Equal(Run(stem, CpuConvAlgorithm.Im2Col), Run(stem, CpuConvAlgorithm.Auto));
        Assert.Equal(Run(oneImage, CpuConvAlgorithm.Im2Col), Run(oneImage, CpuConvAlgorithm.Auto));
        Assert.NotEqual(Run(oneImage, CpuConvAlgorithm.Winograd), Run(oneImage, CpuConvAlgorithm.Im2Col));
        Assert.Equal(Run(strided, CpuConvAlgorithm.Im2Col), Run(strided, CpuConvAlgorithm.Winograd));   // no Winograd for stride 2

        // Weights transformed before the call (a session's): one small image is enough for Winograd, down to 16 tiles.
        float[] RunPrepared(Geometry g, CpuConvAlgorithm alg)
        {
            var y = s.Zeros(g.Y);
            var w = s.Upload(TestData.Normal(2, g.Wt.Dims.ToArray()), g.Wt);
            using (CpuBackend.UseConvAlgorithm(alg))
                b.Conv2dForward(s.Upload(TestData.Normal(1, g.X.Dims.ToArray()), g.X), w, null, y, g.Spec, relu: false, CpuWinogradWeights.Of(w));
            return s.Download(y);
        }
        var sevenBySeven = Geo(1, 16, 7, 7, 16, 1);    // 4·4 = 16 tiles = WinogradMinTilesPrepared
        var fiveByFive = Geo(1, 16, 5, 5, 16, 1);      // 9 tiles: im2col
        Assert.Equal(16, CpuBackend.WinogradMinTilesPrepared);
        Assert.Equal(RunPrepared(oneImage, avx512 ? CpuConvAlgorithm.Winograd : CpuConvAlgorithm.Im2Col), RunPrepared(oneImage, CpuConvAlgorithm.Auto));
        Assert.Equal(RunPrepared(sevenBySeven, avx512 ? CpuConvAlgorithm.Winograd : CpuConvAlgorithm.Im2Col), RunPrepared(sevenBySeven, CpuConvAlgorithm.Auto));
        Assert.NotEqual(RunPrepared(sevenBySeven, CpuConvAlgorithm.Winograd), RunPrepared(sevenBySeven, CpuConvAlgorithm.Im2Col));
        Assert.Equal(RunPrepared(fiveByFive, CpuConvAlgorithm.Im2Col), RunPrepared(fiveByFive, CpuConvAlgorithm.Auto));
        Assert.NotEqual(RunPrepared(fiveByFive, CpuConvAlgorithm.Winograd), RunPrepared(fiveByFive, CpuConvAlgorithm.Im2Col));

        Assert.Equal(CpuConvAlgorithm.Im2Col, CpuBackend.ParseConvAlgorithm(" IM2COL "));
        Assert.Equal(CpuConvAlgorithm.Auto, CpuBackend.ParseConvAlgorithm(null));
        var e = Assert.Throws<ArgumentException>(() => CpuBackend.ParseConvAlgorithm("fast"));
        Assert.Contains("DEEPTRAIN_CPU_CONV", e.Message);
    }
}

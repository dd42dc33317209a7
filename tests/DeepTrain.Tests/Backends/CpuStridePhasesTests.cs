using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;
using static DeepTrain.Tests.Infrastructure.NaiveConv;

namespace DeepTrain.Tests.Backends;

// The strided data gradient by stride phases (CpuStridePhases) against the naive adjoint in double, and against col2im's own
// error on the same data (DEEPTRAIN_CPU_CONV=im2col keeps col2im). Each dx element is one fp32 dot product over the taps that
// reach it, ≤ Kg·⌈R/s⌉·⌈S/s⌉ ≤ 256 products of N(0,1) values here: error ≈ ε₃₂·√n·|dx| ≤ 1e-5, far inside Conv2dTests'
// atol 2e-4 + rtol 1e-5; a dropped, doubled or misplaced tap changes an element by ≈ 1. Every case runs with and without
// accumulation into a dx that already holds values (which the non-accumulating call must overwrite everywhere, including the
// pixels no tap reaches).
public class CpuStridePhasesTests
{
    private const double Atol = 2e-4, Rtol = 1e-5, RatioToCol2Im = 4, Floor = 1e-6;

    /// <summary>(N, C, H, W, K, R, S, strideH, strideW, padH, padW, groups).</summary>
    public static TheoryData<int[], Layout> Shapes()
    {
        var d = new TheoryData<int[], Layout>();
        int[][] cases =
        [
            [2, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 1],     // ResNet-20 16→32 (Fashion-MNIST)
            [1, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1, 1],     // ResNet 32→64
            [3, 16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1],     // CIFAR 16→32
            [4, 5, 9, 11, 7, 3, 3, 2, 2, 1, 1, 1],        // odd sizes, C and K not multiples of 8
            [2, 3, 8, 7, 4, 3, 3, 2, 2, 0, 0, 1],         // no padding
            [1, 6, 10, 9, 5, 3, 3, 2, 2, 2, 2, 1],        // padding wider than the filter's reach
            [2, 16, 28, 28, 32, 1, 1, 2, 2, 0, 0, 1],     // ResNet-b projection shortcut
            [3, 9, 7, 9, 10, 1, 1, 2, 2, 0, 0, 1],        // odd 1×1 s2: the last row and column are all-zero phases
            [2, 4, 5, 6, 3, 1, 1, 2, 2, 1, 1, 1],         // 1×1 s2 with padding: only the odd phase is reached
            [1, 4, 7, 10, 6, 3, 3, 2, 1, 0, 2, 2],        // stride (2, 1), pad (0, 2), 2 groups
            [2, 3, 9, 8, 6, 3, 3, 2, 2, 1, 1, 3],         // depthwise multiplier 2
            [3, 2, 5, 5, 3, 2, 2, 3, 3, 0, 0, 1],         // 2×2 s3: phases no tap reaches
            [2, 1, 11, 13, 5, 5, 3, 2, 2, 2, 1, 1],       // 5×3 s2 p(2, 1)
            [1, 8, 4, 4, 8, 3, 3, 4, 4, 1, 1, 1],         // stride 4 over a 4×4 image: 1×1 output
            [2, 4, 2, 1, 3, 3, 3, 2, 2, 1, 1, 1],         // 2×1 image
        ];
        foreach (var c in cases)
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                d.Add(c, layout);
        return d;
    }

    private static Geometry Geo(int[] c) => new(c[0], c[1], c[2], c[3], c[4], c[5], c[6], new ConvSpec(c[7], c[8], c[9], c[10], 1, 1, c[11]));

    private static float[] BackwardData(CpuBackend b, TensorScope s, Geometry g, double[] dy, double[] w, double[] start, Layout layout,
        CpuConvAlgorithm alg, bool accumulate)
    {
        var dx = s.UploadLogical(start, g.X, layout);
        using (CpuBackend.UseConvAlgorithm(alg))
            b.Conv2dBackwardData(s.UploadLogical(dy, g.Y, layout), s.UploadLogical(w, g.Wt, Layout.NCHW), dx, g.Spec, accumulate);
        return s.DownloadLogical(dx);
    }

    private static double MaxError(double[] expected, float[] actual) => expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();

    [Theory, MemberData(nameof(Shapes))]
    public void BackwardData_MatchesTheNaiveDefinition_AndCol2ImsError(int[] shape, Layout layout)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo(shape);
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var w = TestData.Normal(5, g.Wt.Dims.ToArray()).ToDouble();
        var start = TestData.Normal(6, g.X.Dims.ToArray()).ToDouble();
        var naive = NaiveConv.BackwardData(g, dy, w);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = accumulate ? naive.Zip(start, (a, z) => a + z).ToArray() : naive;
            var phases = BackwardData(b, s, g, dy, w, start, layout, CpuConvAlgorithm.Winograd, accumulate);
            var col2im = BackwardData(b, s, g, dy, w, start, layout, CpuConvAlgorithm.Im2Col, accumulate);
            Tolerance.AssertClose(expected, phases, Atol, Rtol, $"stride phases dx {g} {layout} accumulate {accumulate}");
            Tolerance.AssertClose(expected, col2im, Atol, Rtol, $"col2im dx {g} {layout} accumulate {accumulate}");
            Assert.True(MaxError(expected, phases) <= RatioToCol2Im * MaxError(expected, col2im) + Floor,
                $"stride phases max error {MaxError(expected, phases):g3} against col2im's {MaxError(expected, col2im):g3} (accumulate {accumulate})");
        }
    }

    [Theory]
    [InlineData(16, 3, true)]       // ResNet 16→32 3×3 s2: auto takes phases
    [InlineData(32, 3, false)]      // 32→64: auto keeps col2im (measured slower by phases)
    [InlineData(16, 1, false)]      // 1×1 projection: auto keeps col2im
    public void Settings_PickThePath_AndThePathsGiveOtherBits(int c, int r, bool autoTakesPhases)
    {
        // A 3×3 stride-2 element's taps are summed in another order by the two paths, so their last bits differ: proof that
        // DEEPTRAIN_CPU_CONV=im2col really takes col2im, winograd (forcing) really takes phases, and auto picks by its rule.
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = Geo([2, c, 14, 14, 2 * c, r, r, 2, 2, r / 2, r / 2, 1]);
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var w = TestData.Normal(5, g.Wt.Dims.ToArray()).ToDouble();
        var start = new double[g.X.Elements];
        var col2im = BackwardData(b, s, g, dy, w, start, Layout.NCHW, CpuConvAlgorithm.Im2Col, false);
        var phases = BackwardData(b, s, g, dy, w, start, Layout.NCHW, CpuConvAlgorithm.Winograd, false);
        var auto = BackwardData(b, s, g, dy, w, start, Layout.NCHW, CpuConvAlgorithm.Auto, false);
        if (r > 1) Assert.NotEqual(col2im, phases);
        Assert.Equal(autoTakesPhases ? phases : col2im, auto);
    }

    [Theory]
    [InlineData(5, 16, 28, 28, 32, 3)]
    [InlineData(7, 32, 15, 13, 64, 3)]
    [InlineData(6, 16, 28, 28, 32, 1)]
    public void Results_DoNotDependOnTheThreadCount_AndRepeatBitForBit(int n, int c, int h, int w, int k, int r)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = new Geometry(n, c, h, w, k, r, r, ConvSpec.Square(2, r / 2));
        var dy = TestData.Normal(4, g.Y.Dims.ToArray()).ToDouble();
        var wt = TestData.Normal(5, g.Wt.Dims.ToArray()).ToDouble();
        var start = TestData.Normal(6, g.X.Dims.ToArray()).ToDouble();
        float[]? first = null, firstAcc = null;
        int saved = CpuBackend.Threads;
        try
        {
            foreach (int threads in new[] { 1, 2, 3, 8, 2 })
            {
                CpuBackend.Threads = threads;
                var dx = BackwardData(b, s, g, dy, wt, start, Layout.NCHW, CpuConvAlgorithm.Winograd, accumulate: false);
                var dxAcc = BackwardData(b, s, g, dy, wt, start, Layout.NCHW, CpuConvAlgorithm.Winograd, accumulate: true);
                first ??= dx;
                firstAcc ??= dxAcc;
                Assert.Equal(first, dx);
                Assert.Equal(firstAcc, dxAcc);
            }
        }
        finally { CpuBackend.Threads = saved; }
    }

    [Fact]
    public unsafe void WorkspaceBound_CoversTheStridePhasesScratch()
    {
        // A 1×1 stride-2 projection needs more per-thread scratch by phases (dy planes Kg·OH·OW plus products) than col2im's
        // dcol (Cg·OH·OW) when K > C: the plan's workspace figure must still bound it.
        using var b = new CpuBackend();
        var x = Shape.Of(4, 16, 28, 28);
        var w = Shape.Of(64, 16, 1, 1);
        var spec = ConvSpec.Square(2);
        var g = new ConvGeometry("test", x, w, Shape.Of(4, 64, 14, 14), spec);
        int* ints = stackalloc int[(int)CpuStridePhases.PlanInts(g)];
        var ah = new CpuStridePhases.Axis(ints, g.H, g.OH, g.R, 2, 0);
        var aw = new CpuStridePhases.Axis(ints + 6, g.W, g.OW, g.S, 2, 0);
        var (planes, products) = CpuStridePhases.ThreadFloats(g, ah, aw);
        long needed = ((planes + products) * CpuBackend.Threads + CpuStridePhases.PlanFloats(g)) * sizeof(float);
        Assert.True(b.Conv2dWorkspaceBytes(x, w, spec, Layout.NCHW, DType.Float32) >= needed);
    }
}

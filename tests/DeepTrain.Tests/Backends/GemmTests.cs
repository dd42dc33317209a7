using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

// Tolerance: fp32 dot products of k ≤ 600 terms of N(0,1)·N(0,1) (|sum| ≈ √k ≤ 25); the packed kernel
// sums in a different order than the double reference, error ≈ ε₃₂·√k·|sum| ≤ 6e-8·25·25 ≈ 4e-5,
// so atol 1e-4 + rtol 1e-5 covers it with margin while catching any dropped or doubled term (error ≥ 0.1).
public class GemmTests
{
    private const double Atol = 1e-4, Rtol = 1e-5;

    // Crosses every boundary of the CPU kernel: 8-row and 16-column micro-tiles and their vector halves.
    private static readonly int[] Sizes = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 67];

    private static void Check(IBackend b, TensorScope s, bool ta, bool tb, int m, int n, int k, float alpha, float beta, int seed)
    {
        var a = TestData.Normal(seed, m * k);
        var bm = TestData.Normal(seed + 1, k * n);
        // β = 0 must ignore C's old contents entirely, so start from NaN there.
        var c0 = beta == 0 ? Enumerable.Repeat(float.NaN, m * n).ToArray() : TestData.Normal(seed + 2, m * n);
        var at = s.Upload(a, ta ? Shape.Of(k, m) : Shape.Of(m, k));
        var bt = s.Upload(bm, tb ? Shape.Of(n, k) : Shape.Of(k, n));
        var ct = s.Upload(c0, Shape.Of(m, n));
        b.Gemm(ta, tb, alpha, at, bt, beta, ct);
        var expected = NaiveConv.Gemm(ta, tb, m, n, k, alpha, a.ToDouble(), bm.ToDouble(), beta, c0.ToDouble());
        Tolerance.AssertClose(expected, s.Download(ct), Atol, Rtol, $"gemm ta={ta} tb={tb} m={m} n={n} k={k} α={alpha} β={beta}");
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gemm_EverySmallShapeAndTranspose_MatchesNaive(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        int seed = 0;
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                foreach (int m in Sizes)
                    foreach (int n in Sizes)
                        foreach (int k in Sizes)
                            Check(b, s, ta, tb, m, n, k, 1f, (m + n + k) % 2 == 0 ? 0f : 1f, seed++ % 1000);
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gemm_SweepsOneDimensionAcrossEveryTail(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                for (int d = 1; d <= 67; d++)
                {
                    Check(b, s, ta, tb, d, 17, 9, 1f, 0f, d);
                    Check(b, s, ta, tb, 9, d, 17, 1f, 0f, d);
                    Check(b, s, ta, tb, 17, 9, d, 1f, 0f, d);
                }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gemm_LargeShapesCrossingCacheBlocks_WithAlphaAndBeta(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        // (130, 270, 300) crosses the 128-row A block and the 256-deep K panel; (9, 4100, 3) the 4096-column
        // B panel; (300, 5, 600) a tall product split over threads by rows; (256, 256, 256) by columns.
        (int M, int N, int K)[] shapes = [(130, 270, 300), (9, 4100, 3), (300, 5, 600), (256, 256, 256)];
        foreach (var (m, n, k) in shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    Check(b, s, ta, tb, m, n, k, 1.5f, 0.5f, m + n);
                    Check(b, s, ta, tb, m, n, k, -0.25f, 0f, m + k);
                }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gemm_AlphaZeroScalesC(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        Check(b, s, false, false, 5, 7, 3, 0f, 2f, 1);
        Check(b, s, false, false, 5, 7, 3, 0f, 0f, 1);
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gemm_ReadsRank4AsDim0ByRest(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        // A flattened feature map (N, C, H, W) times a Linear layer's weightᵀ: (N, C·H·W)·(C·H·W, F).
        var x = TestData.Normal(1, 3 * 2 * 4 * 5);
        var w = TestData.Normal(2, 10 * 40);
        var y = s.Zeros(Shape.Of(3, 10));
        b.Gemm(false, true, 1f, s.Upload(x, Shape.Of(3, 2, 4, 5)), s.Upload(w, Shape.Of(10, 40)), 0f, y);
        Tolerance.AssertClose(NaiveConv.Gemm(false, true, 3, 10, 40, 1, x.ToDouble(), w.ToDouble(), 0, new double[30]), s.Download(y), Atol, Rtol, "flattened gemm");
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Gemm_MismatchedShapes_ThrowNamingTheOperation(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var ex = Assert.Throws<ArgumentException>(() => b.Gemm(false, false, 1f, s.Zeros(Shape.Of(3, 4)), s.Zeros(Shape.Of(5, 6)), 0f, s.Zeros(Shape.Of(3, 6))));
        Assert.Contains("Gemm", ex.Message);
        Assert.Contains("(3, 4)", ex.Message);
        Assert.Throws<ArgumentException>(() => b.Gemm(false, true, 1f, s.Zeros(Shape.Of(3, 4)), s.Zeros(Shape.Of(6, 4)), 0f, s.Zeros(Shape.Of(6, 3))));
    }
}

using DeepTrain.Layers;
using DeepTrain.Utils;
using Xunit;

namespace DeepTrain.Tests.Layers;

/// <summary>Each initialiser's statistics against torch.nn.init's definition (n = 200k draws: 4σ bands).</summary>
public class InitTests
{
    private const int N = 200_000;

    private static (double Mean, double Std, double Min, double Max) Stats(Init init, int fanIn, int fanOut)
    {
        var w = new float[N];
        init.Fill(w, fanIn, fanOut, new Rng(42));
        double mean = w.Average(x => (double)x);
        double std = Math.Sqrt(w.Sum(x => (x - mean) * (x - mean)) / (N - 1));
        return (mean, std, w.Min(), w.Max());
    }

    /// <summary>Sample mean within 4 standard errors of 0; sample std within 1% of σ (its standard error is σ/√(2N) ≈ 0.16%).</summary>
    private static void AssertMoments((double Mean, double Std, double Min, double Max) s, double sigma)
    {
        Assert.InRange(s.Mean, -4 * sigma / Math.Sqrt(N), 4 * sigma / Math.Sqrt(N));
        Assert.InRange(s.Std, 0.99 * sigma, 1.01 * sigma);
    }

    [Fact]
    public void KaimingNormal_FanIn_FanOut()
    {
        AssertMoments(Stats(new Init.KaimingNormal(), 144, 288), Math.Sqrt(2.0 / 144));
        AssertMoments(Stats(new Init.KaimingNormal(FanOut: true), 144, 288), Math.Sqrt(2.0 / 288));
    }

    [Fact]
    public void KaimingUniform_AndPyTorchDefault_StayInBounds()
    {
        double b = Math.Sqrt(6.0 / 50);
        var s = Stats(new Init.KaimingUniform(), 50, 10);
        Assert.True(s.Min >= -b && s.Max <= b);
        AssertMoments(s, b / Math.Sqrt(3));
        // PyTorch's Conv2d/Linear default: kaiming_uniform_(a=√5) = U(±1/√fan_in).
        var d = Stats(Init.PyTorchDefaultWeight, 50, 10);
        Assert.True(d.Min >= -1 / Math.Sqrt(50) && d.Max <= 1 / Math.Sqrt(50));
        AssertMoments(d, 1 / Math.Sqrt(50) / Math.Sqrt(3));
    }

    [Fact]
    public void Xavier_UniformAndNormal()
    {
        double b = Math.Sqrt(6.0 / (30 + 70));
        var u = Stats(new Init.XavierUniform(), 30, 70);
        Assert.True(u.Min >= -b && u.Max <= b);
        AssertMoments(u, b / Math.Sqrt(3));
        AssertMoments(Stats(new Init.XavierNormal(), 30, 70), Math.Sqrt(2.0 / 100));
    }

    [Fact]
    public void Constant_AndNormal()
    {
        var c = Stats(new Init.Constant(0.5f), 1, 1);
        Assert.Equal((0.5, 0.5), (c.Min, c.Max));
        var n = Stats(new Init.Normal(1f, 0.02f), 1, 1);
        Assert.InRange(n.Mean, 1 - 4 * 0.02 / Math.Sqrt(N), 1 + 4 * 0.02 / Math.Sqrt(N));
        Assert.InRange(n.Std, 0.99 * 0.02, 1.01 * 0.02);
    }

    [Fact]
    public void SameSeed_SameWeights()
    {
        var a = new float[100]; var b = new float[100];
        new Init.KaimingNormal().Fill(a, 9, 9, new Rng(7));
        new Init.KaimingNormal().Fill(b, 9, 9, new Rng(7));
        Assert.Equal(a, b);
    }
}

using DeepTrain.Backends.Cpu;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Mixed;

/// <summary>Clipping by global norm against torch.nn.utils.clip_grad_norm_ computed naively in double.</summary>
public class ClipGradNormTests
{
    [Theory]
    [InlineData(1, 0.5f)]
    [InlineData(257, 1f)]       // a vector tail
    [InlineData(1000, 100f)]    // below the threshold: coefficient clamped to 1, g unchanged
    public void ClipByNorm_MatchesTheNaiveDefinition(int n, float maxNorm)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var g = TestData.Uniform(n, n, -3, 3);
        var tg = s.Upload(g, Shape.Of(n));
        var normSq = s.Zeros(Shape.Of(1));
        b.GlobalNormSquared(tg, normSq);
        double norm = Math.Sqrt(g.Sum(x => (double)x * x));
        Tolerance.AssertClose([norm * norm], s.Download(normSq), atol: 0, rtol: 1e-6, "‖g‖²");
        b.ScaleByNorm(tg, normSq, maxNorm);
        double coef = Math.Min(1.0, maxNorm / (norm + 1e-6));
        Tolerance.AssertClose(g.Select(x => x * coef).ToArray(), s.Download(tg), atol: 1e-7, rtol: 1e-6, "clipped g");
        double after = Math.Sqrt(s.Download(tg).Sum(x => (double)x * x));
        Assert.True(after <= maxNorm * (1 + 1e-6), $"norm after clipping {after} > {maxNorm}");
        if (norm < maxNorm) Assert.Equal(g, s.Download(tg));
    }

    [Fact]
    public void Clipper_ClipsTheModelsWholeGradientBuffer_AndReportsTheNormBeforeClipping()
    {
        using var b = new CpuBackend();
        var graph = new ModelGraph("t", Shape.Of(3));
        var x = graph.Apply("fc1", new Linear(3, 5), graph.Input);
        graph.Apply("fc2", new Linear(5, 2), x);
        using var model = new Model(graph, b, seed: 1);
        using var plan = model.Compile(4, training: true, new CrossEntropyLoss());
        b.CopyFromHost<float>(TestData.Uniform(9, 12, -5, 5), plan.Input);
        b.CopyFromHost<int>([0, 1, 1, 0], plan.Target);
        plan.TrainStep();
        var g = model.Parameters.AllGrads.ToArray();
        double norm = Math.Sqrt(g.Sum(v => (double)v * v));
        using var clipper = new GradientClipper(b, (float)(norm / 4));
        clipper.Clip(model.Parameters);
        Assert.Equal(norm, clipper.ReadNorm(), 1e-6 * norm);
        Tolerance.AssertClose(g.Select(v => v * (norm / 4) / (norm + 1e-6)).ToArray(), model.Parameters.AllGrads.ToArray(), 1e-7, 1e-5, "clipped");
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradientClipper(b, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GradientClipper(b, float.NaN));
    }
}

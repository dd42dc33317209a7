using DeepTrain.Backends;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Losses;

/// <summary>torch.nn.TripletMarginLoss: PyTorch golden values, finite differences through a model, bad shapes.</summary>
public class TripletMarginLossTests
{
    public static TheoryData<string, string> GoldenCases()
    {
        var d = new TheoryData<string, string>();
        foreach (var backend in new[] { "cpu", "cuda" })
            foreach (var c in new[] { "margin1_b6_d5", "margin0.5_b8_d16_same_positive", "margin2_b3_d130" })
                d.Add(backend, c);
        return d;
    }

    // The loss is computed in double on the host and rounded to fp32 once, as the golden file is: the only
    // error left is fp32 rounding of a sum of B terms (1e-6 relative) and of each gradient element.
    [Theory, MemberData(nameof(GoldenCases))]
    public void LossAndGradient_MatchPyTorch(string name, string golden)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var g = GoldenFile.Load("triplet", golden);
        var shape = g.ShapeOf("embeddings");
        var output = s.Upload(g.F("embeddings"), shape);
        var loss = s.Zeros(Shape.Of(1));
        var grad = s.Zeros(shape);
        var fn = new TripletMarginLoss((float)g.Real("margin"), (float)g.Real("eps"));
        Assert.Equal(Shape.Of(1), fn.TargetShape(shape));
        fn.Compute(b, output, s.Zeros(Shape.Of(1)), loss, grad, null, scale: 1f);
        Tolerance.AssertClose(g.D("loss"), s.Download(loss), 1e-7, 1e-6, $"{golden} loss");
        Tolerance.AssertClose(g.D("grad"), s.Download(grad), 1e-8, 1e-6, $"{golden} grad");

        // The gradient is scale·∂loss/∂output (loss scaling, accumulation); the loss itself is not scaled.
        fn.Compute(b, output, s.Zeros(Shape.Of(1)), loss, grad, null, scale: 0.25f);
        Tolerance.AssertClose(g.D("grad").Select(x => 0.25 * x).ToArray(), s.Download(grad), 1e-8, 1e-6, $"{golden} grad × 0.25");
        Tolerance.AssertClose(g.D("loss"), s.Download(loss), 1e-7, 1e-6, $"{golden} loss with scale");
    }

    [Fact]
    public void GoldenCases_CoverActiveAndInactiveTriplets()
    {
        // Rows of zero gradient are the triplets already satisfied (h < 0); the check above is only
        // meaningful if both kinds occur.
        var g = GoldenFile.Load("triplet", "margin1_b6_d5");
        var grad = g.F("grad");
        int d = g.ShapeOf("grad")[1];
        int zeroRows = Enumerable.Range(0, grad.Length / d).Count(r => grad.AsSpan(r * d, d).ToArray().All(x => x == 0));
        Assert.InRange(zeroRows, 1, grad.Length / d - 3);
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void FaceEmbeddingModel_GradientsMatchCentralDifferences(string name)
    {
        // The face-embedding case in miniature: one shared network embeds anchors, positives and negatives in
        // one batch of 3B = 12 "images" (8 features here); the checker differentiates through both linears.
        using var b = TestBackends.Create(name);
        var graph = new ModelGraph("embed", Shape.Of(8));
        var x = graph.Apply("fc1", new Linear(8, 6), graph.Input);
        x = graph.Apply("act", new Tanh(), x);
        graph.Apply("fc2", new Linear(6, 4), x);
        using var model = new Model(graph, b, seed: 7);
        using var plan = model.Compile(12, training: true, new TripletMarginLoss(margin: 1f));
        b.CopyFromHost<float>(TestData.Normal(8, 12, 8), plan.Input);
        var samples = GradientChecker.Verify(plan, atol: 2e-3, rtol: 3e-2, perParameter: 8);
        Assert.Contains(samples, s => Math.Abs(s.Analytic) > 1e-3);   // the loss is active, so the check is not vacuous
    }

    [Fact]
    public void Verify_ReportsTheWorstSample_WhenABackwardIsWrong()
    {
        // A loss whose gradient is off by 2× must fail the checker, naming a parameter.
        using var b = TestBackends.Create("cpu");
        var graph = new ModelGraph("wrong", Shape.Of(3));
        graph.Apply("fc", new Linear(3, 2), graph.Input);
        using var model = new Model(graph, b, seed: 1);
        using var plan = model.Compile(6, training: true, new DoubledGradient());
        b.CopyFromHost<float>(TestData.Normal(2, 6, 3), plan.Input);
        var e = Assert.Throws<GradientCheckException>(() => GradientChecker.Verify(plan));
        Assert.Contains("fc.", e.Message);
        Assert.NotEmpty(e.Failures);
    }

    private sealed class DoubledGradient : Loss
    {
        private readonly TripletMarginLoss _inner = new(margin: 5f);
        public override string Name => "DoubledGradient";
        public override Shape TargetShape(Shape output) => _inner.TargetShape(output);
        public override void Compute(IBackend backend, Tensor output, Tensor target, Tensor loss, Tensor? grad, Tensor? correct, float scale)
            => _inner.Compute(backend, output, target, loss, grad, correct, 2 * scale);
    }

    [Fact]
    public void BadShapes_AndHyperParameters_AreRejectedWithTheExpectedForm()
    {
        var fn = new TripletMarginLoss();
        var e = Assert.Throws<LayerShapeException>(() => fn.TargetShape(Shape.Of(10, 4)));
        Assert.Contains("expected (3B, D)", e.Message);
        Assert.Throws<LayerShapeException>(() => fn.TargetShape(Shape.Of(9, 4, 1, 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TripletMarginLoss(margin: -1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TripletMarginLoss(eps: float.NaN));
    }
}

using DeepTrain.Backends.Cpu;
using DeepTrain.Inference;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Tests.Infrastructure;
using Xunit;
using static DeepTrain.Tests.Inference.InferenceFixtures;

namespace DeepTrain.Tests.Inference;

// Tolerance for folded against unfolded logits: folding moves the batch norm's per-channel scale from after the convolution's
// sum to each weight before it (one extra fp32 rounding per weight, relative 6e-8) and adds the shift as a bias; over ~20
// layers of O(1) activations the logits (|y| ≲ 10 here) move by ≲ 1e-5. atol 1e-4 + rtol 1e-4 leaves room for that and still
// fails on any real mistake (a missed ε, mean or γ changes logits by ≳ 1e-2).
public class InferenceFusionTests
{
    private const double Atol = 1e-4, Rtol = 1e-4;

    /// <summary>The fixture model with batch-norm statistics and affine values away from 0 and 1, so folding has work to do.</summary>
    private static Model TrainedModel(CpuBackend b, string? zooName = null)
    {
        var m = zooName is null ? Model(b) : new Model(DeepTrain.Zoo.ModelZoo.Create(Spec with { Name = zooName }), b, seed: 7);
        int seed = 20;
        foreach (var buf in m.Parameters.Buffers)
        {
            var v = TestData.Uniform(seed++, (int)buf.Value.Elements, 0.5f, 1.5f);
            if (buf.Spec.Name == "running_mean") v = TestData.Uniform(seed++, v.Length, -0.3f, 0.3f);
            b.CopyFromHost<float>(v, buf.Value);
        }
        foreach (var p in m.Parameters.Entries.Where(p => p.Layer is BatchNorm))
            b.CopyFromHost<float>(TestData.Uniform(seed++, (int)p.Value.Elements, p.Spec.Name == "weight" ? 0.5f : -0.2f, p.Spec.Name == "weight" ? 1.5f : 0.2f), p.Value);
        return m;
    }

    private static float[] EvaluationPlan(Model model, CpuBackend b, float[] x, int batch)
    {
        using var plan = model.Compile(batch, training: false, new CrossEntropyLoss());
        b.CopyFromHost<float>(x, plan.Input);
        plan.Forward();
        var y = new float[batch * Classes];
        b.CopyToHost<float>(plan.Output, y);
        return y;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void FusedSession_MatchesTheUnfoldedEvaluationPlan_WithinTolerance(int batch)
    {
        using var b = new CpuBackend();
        using var model = TrainedModel(b);
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 1 });
        var x = Inputs(3, batch);
        var y = new float[batch * Classes];
        session.Run(x, y);
        var reference = EvaluationPlan(model, b, x, batch);
        Tolerance.AssertClose(reference, y, Atol, Rtol, $"folded logits, batch {batch}");
        Assert.NotEqual(reference, y);   // folding really ran (the unfused session matches bit for bit, below)

        using var unfused = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 1, FuseLayers = false });
        unfused.Run(x, y);
        Assert.Equal(reference, y);
    }

    [Theory]
    [InlineData("resnet20-b", 9)]          // the downsampling blocks' Adds read two conv → bn chains: the first takes the Add
    [InlineData("preact-resnet20", 9)]     // conv2 → Add with no batch norm between, and no ReLU after
    public void FusedSession_OverOtherResidualShapes_MatchesTheUnfoldedEvaluationPlan(string zooName, int residuals)
    {
        using var b = new CpuBackend();
        using var model = TrainedModel(b, zooName);
        using var folded = InferenceFusion.Fold(model);
        Assert.Equal(residuals, folded.Graph.Nodes.Count(n => n.Layer is Conv2d { FusedResidual: true }));
        Assert.DoesNotContain(folded.Graph.Nodes, n => n.Layer is Add);
        using var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 1 });
        foreach (int batch in new[] { 1, 8 })
        {
            var x = Inputs(5, batch);
            var y = new float[batch * Classes];
            session.Run(x, y);
            Tolerance.AssertClose(EvaluationPlan(model, b, x, batch), y, Atol, Rtol, $"{zooName} folded logits, batch {batch}");
        }
    }

    [Fact]
    public void Fold_AbsorbsEveryBatchNormAfterAConvolution_TheResidualAdds_AndTheReLUsAfterEither()
    {
        using var b = new CpuBackend();
        using var model = TrainedModel(b);
        using var folded = InferenceFusion.Fold(model);
        var before = model.Graph.Nodes.Select(n => n.Layer).ToList();
        var after = folded.Graph.Nodes.Select(n => n.Layer).ToList();
        // ResNet-20: 19 Conv2d → BatchNorm2d pairs; ReLU after the stem and after each block's first batch norm (1 + 9) fuse;
        // each block's second convolution takes its Add (9, the shortcut as its residual) and the ReLU after it.
        Assert.Equal(19, before.Count(l => l is BatchNorm));
        Assert.Equal(9, before.Count(l => l is Add));
        Assert.Empty(after.OfType<BatchNorm>());
        Assert.Empty(after.OfType<Add>());
        Assert.Empty(after.OfType<ReLU>());
        Assert.Equal(19, after.OfType<Conv2d>().Count(c => c.HasBias));
        Assert.Equal(19, after.OfType<Conv2d>().Count(c => c.FusedRelu));
        Assert.Equal(9, after.OfType<Conv2d>().Count(c => c.FusedResidual));
        // The fused convolution reads the block's input (through the shortcut, for the downsampling blocks) as its residual.
        foreach (var n in folded.Graph.Nodes.Where(n => n.Layer is Conv2d { FusedResidual: true }))
            Assert.Equal(2, n.Inputs.Length);
        Assert.Equal(model.Graph.OutputShape, folded.Graph.OutputShape);
        Assert.False(folded.Parameters.HasGradients);
        Assert.Equal(["conv1.weight", "conv1.bias"], folded.Parameters.Of(after[0]).Select(p => p.Name));
    }

    [Fact]
    public void Folding_LeavesTheModelAndItsTrainingNumericsUnchanged()
    {
        using var b = new CpuBackend();
        using var model = TrainedModel(b);
        var x = Inputs(4, 8);
        var weights = new float[model.Parameters.TotalFloats];
        b.CopyToHost<float>(model.Parameters.AllValues, weights);
        var logits = EvaluationPlan(model, b, x, 8);
        using (var session = new InferenceSession(model, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 1 }))
            session.Run(x, new float[8 * Classes]);
        var after = new float[weights.Length];
        b.CopyToHost<float>(model.Parameters.AllValues, after);
        Assert.Equal(weights, after);
        Assert.Equal(logits, EvaluationPlan(model, b, x, 8));
        Assert.DoesNotContain(model.Graph.Nodes, n => n.Layer is Conv2d { FusedRelu: true });
    }

    [Fact]
    public void LoadedSession_ServesTheFoldedWeightsOnly()
    {
        string path = Checkpoint();
        try
        {
            using var session = InferenceSession.Load(path, new InferenceSessionOptions { MaxBatchSize = 8, MaxConcurrency = 1 });
            Assert.Empty(session.Model.Graph.Nodes.Select(n => n.Layer).OfType<BatchNorm>());
            var report = InferenceMemoryReport.For(ModelZooGraph(), session.Options);
            Assert.Equal(report.Weights, (session.Model.Parameters.TotalFloats + session.Model.Parameters.BufferFloats) * 4);
        }
        finally { Directory.Delete(Path.GetDirectoryName(path)!, recursive: true); }
    }

    private static ModelGraph ModelZooGraph() => DeepTrain.Zoo.ModelZoo.Create(Spec);
}

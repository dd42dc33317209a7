using System.Text.RegularExpressions;
using DeepTrain.Backends.Cpu;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Docs;

/// <summary>
/// docs/extending.md stays true: every C# block it quotes ("// from PATH" on its first line) is still
/// verbatim in that compiled file, and the examples it walks through run and pass their checks.
/// </summary>
public partial class ExtendingDocTests
{
    private static string Source(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs-sources", name));

    [GeneratedRegex(@"```csharp\n// from (?<path>\S+)\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex QuotedBlock();

    [Fact]
    public void EveryQuotedBlock_IsStillInTheCompiledSource()
    {
        string doc = Source("extending.md").Replace("\r\n", "\n");
        var blocks = QuotedBlock().Matches(doc);
        Assert.True(blocks.Count >= 5, $"docs/extending.md quotes {blocks.Count} blocks; expected the layer, loss and check examples");
        foreach (Match m in blocks)
        {
            string path = m.Groups["path"].Value, body = m.Groups["body"].Value;
            string source = Source(Path.GetFileName(path)).Replace("\r\n", "\n");
            foreach (var part in body.Split("\n    // …\n"))   // "// …" marks an elision inside a quote
                Assert.True(source.Contains(part.TrimEnd('\n'), StringComparison.Ordinal),
                    $"docs/extending.md quotes {path}, but this part is no longer in it:\n{part}");
        }
    }

    [Fact]
    public void ScaleLayer_ForwardAndBackward_MatchTheDefinition_InPlaceToo()
    {
        using var b = new CpuBackend();
        var graph = new ModelGraph("scaled", Shape.Of(5));
        var x = graph.Apply("fc1", new Linear(5, 4), graph.Input);
        x = graph.Apply("scale", new Scale(0.2f), x);
        graph.Apply("fc2", new Linear(4, 3), x);
        using var model = new Model(graph, b, seed: 2);
        using var plan = model.Compile(6, training: true, new CrossEntropyLoss());
        b.CopyFromHost<float>(TestData.Normal(3, 6, 5), plan.Input);
        b.CopyFromHost<int>([0, 1, 2, 2, 1, 0], plan.Target);
        var samples = GradientChecker.Verify(plan);
        Assert.Contains(samples, s => s.Parameter == "fc1.weight" && Math.Abs(s.Analytic) > 1e-4);   // dx = α·dy reached fc1
    }

    // from docs/extending.md, "Check it": build a tiny model around the new layer and verify.
    [Fact]
    public void CheckYourLayer()
    {
        using var backend = new CpuBackend();
        var graph = new ModelGraph("check-scale", Shape.Of(8));
        var x = graph.Apply("fc1", new Linear(8, 6), graph.Input);   // a weight before the layer: its gradient runs through Backward
        x = graph.Apply("scale", new Scale(0.3f), x);
        x = graph.Apply("act", new Tanh(), x);                       // smooth, so central differences hold everywhere
        graph.Apply("fc2", new Linear(6, 3), x);
        using var model = new Model(graph, backend, seed: 1);
        using var plan = model.Compile(batchSize: 4, training: true, new CrossEntropyLoss());
        backend.CopyFromHost<float>(TestData.Normal(seed: 5, 4, 8), plan.Input);
        backend.CopyFromHost<int>([0, 2, 1, 2], plan.Target);
        GradientChecker.Verify(plan);   // throws GradientCheckException naming the worst parameter element
    }

    // from docs/extending.md, "Train a face embedding": anchors, positives and negatives in one batch.
    [Fact]
    public void TrainAnEmbeddingWithTripletLoss()
    {
        const int triplets = 16, features = 10, dim = 4;
        using var backend = new CpuBackend();
        var graph = new ModelGraph("embedder", Shape.Of(features));
        var x = graph.Apply("fc1", new Linear(features, 16), graph.Input);
        x = graph.Apply("relu", new ReLU(), x);
        graph.Apply("embedding", new Linear(16, dim), x);
        using var model = new Model(graph, backend, seed: 1);
        using var plan = model.Compile(batchSize: 3 * triplets, training: true, new TripletMarginLoss(margin: 1f));
        using var sgd = new SGD(model.Parameters, lr: 0.05f, momentum: 0.9f);
        var batch = new float[3 * triplets * features];   // rows: 16 anchors, 16 positives, 16 negatives
        var loss = new float[1];
        double first = 0, last = 0;
        for (int step = 0; step < 60; step++)
        {
            FillTriplets(batch, triplets, features, seed: step);
            backend.CopyFromHost<float>(batch, plan.Input);
            plan.TrainStep();   // forward, TripletMarginLoss on the host, backward
            sgd.Step();
            backend.CopyToHost<float>(plan.LossValue, loss);
            if (step < 5) first += loss[0] / 5;
            if (step >= 55) last += loss[0] / 5;
        }
        Assert.True(last < 0.5 * first, $"the triplet loss fell from {first:F3} to {last:F3}; expected at least a halving");
    }

    /// <summary>
    /// Toy "identities": 4 class centres in feature space. An anchor and its positive are noisy samples of one
    /// identity, the negative of another, so a good embedding must map identities apart.
    /// </summary>
    private static void FillTriplets(float[] batch, int triplets, int features, int seed)
    {
        var rng = new Utils.Rng((ulong)seed + 100);
        var centres = new Utils.Rng(7);
        var c = new double[4, features];
        for (int k = 0; k < 4; k++) for (int f = 0; f < features; f++) c[k, f] = 2 * centres.NextNormal();
        for (int i = 0; i < triplets; i++)
        {
            int same = rng.NextInt(4), other = (same + 1 + rng.NextInt(3)) % 4;
            for (int f = 0; f < features; f++)
            {
                batch[i * features + f] = (float)(c[same, f] + 0.5 * rng.NextNormal());
                batch[(triplets + i) * features + f] = (float)(c[same, f] + 0.5 * rng.NextNormal());
                batch[(2 * triplets + i) * features + f] = (float)(c[other, f] + 0.5 * rng.NextNormal());
            }
        }
    }
}

using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Distributed;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Distributed;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using DeepTrain.Zoo;
using Xunit;

namespace DeepTrain.Tests.Modeling;

/// <summary>
/// Training plans with batch norm fused with its ReLU and the residual join's gradients shared (TrainingFusion,
/// Planner.JoinGradients) against the same plans with both switched off: the same bits after several steps (every loss,
/// every parameter, every running statistic), the plan rewrites really made (so the comparison can fail), fewer gradient
/// buffers, sync batch norm unchanged, and checkpoints interchangeable.
/// </summary>
public class TrainingFusionTests
{
    private const int Batch = 8, Size = 12, Steps = 5;

    public static TheoryData<ShortcutOption, bool> Models() => new()
    {
        { ShortcutOption.A, false },   // bn2 → Add(shortcut) → ReLU; option A's subsample-and-pad shortcut
        { ShortcutOption.B, false },   // Add(bn2, projection's bn): both inputs batch norms
        { ShortcutOption.A, true },    // pre-activation: bn → ReLU → conv everywhere, Add of a conv and the shortcut
    };

    /// <summary>What a run leaves: each step's loss, then every parameter and buffer, as raw bits.</summary>
    private sealed record Outcome(int[] Losses, int[][] Values, int FusedPairs, int SharedJoins, int GradientBuffers, long GradientBytes);

    private static int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();

    private static Outcome Train(ModelGraph graph, bool fuse, Func<Plan, IDisposable?>? setup = null, int steps = Steps, string? resumeFrom = null, string? saveTo = null)
    {
        using var backend = new CpuBackend();
        using var model = new Model(graph, backend, seed: 7) { Fusion = fuse };
        if (resumeFrom is not null) ModelCheckpoint.Load(model, resumeFrom);
        using var plan = model.Compile(Batch, training: true, new CrossEntropyLoss());
        using var extra = setup?.Invoke(plan);
        using var opt = new SGD(model.Parameters, 0.05f, resumeFrom is null && saveTo is null ? 0.9f : 0f, 5e-4f);
        var losses = new int[steps];
        var one = new float[1];
        int first = resumeFrom is null ? 0 : Steps - steps;
        for (int s = 0; s < steps; s++)
        {
            var x = TestData.Normal(100 + first + s, [Batch, .. Enumerable.Range(0, graph.InputShape.Rank).Select(i => graph.InputShape[i])]);
            var y = Enumerable.Range(0, Batch).Select(i => (i * 7 + first + s) % 10).ToArray();
            backend.CopyFromHost<float>(x, plan.Input);
            backend.CopyFromHost<int>(y, plan.Target);
            plan.TrainStep();
            opt.Step();
            backend.CopyToHost<float>(plan.LossValue, one);
            losses[s] = BitConverter.SingleToInt32Bits(one[0]);
        }
        if (saveTo is not null) ModelCheckpoint.Save(model, saveTo);
        var values = model.Parameters.Entries.Select(e => Bits(backend.ReadFloats(e.Value)))
            .Concat(model.Parameters.Buffers.Select(b => Bits(backend.ReadFloats(b.Value)))).ToArray();
        var m = plan.Memory;
        var grads = m.Buffers.Where(b => b.Kind == BufferKind.Gradient).ToList();
        return new Outcome(losses, values, m.FusedCount, SharedJoins(graph, m), grads.Count, grads.Sum(b => b.Bytes));
    }

    /// <summary>Add inputs whose gradient is the Add's output gradient's own buffer.</summary>
    private static int SharedJoins(ModelGraph graph, MemoryPlan m)
        => graph.Nodes.Where(n => n.Layer is Add).Sum(n => n.Inputs.Count(v => m.GradBuffer[v] == m.GradBuffer[n.Output]));

    private static void AssertSameBits(Outcome want, Outcome got)
    {
        Assert.Equal(want.Losses, got.Losses);
        Assert.Equal(want.Values.Length, got.Values.Length);
        for (int i = 0; i < want.Values.Length; i++) Assert.True(want.Values[i].SequenceEqual(got.Values[i]), $"parameter or buffer {i} differs");
    }

    [Theory, MemberData(nameof(Models))]
    public void FusedPlan_TrainsBitIdenticalToUnfused_WithFewerGradientBuffers(ShortcutOption shortcut, bool preActivation)
    {
        var graph = ResNetCifar.Build(20, 1, 10, Size, shortcut, preActivation);
        var unfused = Train(graph, fuse: false);
        var fused = Train(graph, fuse: true);
        AssertSameBits(unfused, fused);

        // The rewrites happened: every batch norm read only by a ReLU is fused, and the joins share gradients.
        int pairs = graph.Nodes.Count(n => n.Layer is BatchNorm && graph.Nodes.Count(c => c.Inputs.Contains(n.Output)) == 1
            && graph.Nodes.Single(c => c.Inputs.Contains(n.Output)).Layer is ReLU);
        Assert.True(pairs > 0);
        Assert.Equal(pairs, fused.FusedPairs);
        Assert.Equal(0, unfused.FusedPairs);
        Assert.Equal(0, unfused.SharedJoins);
        int joins = graph.Nodes.Count(n => n.Layer is Add);
        Assert.True(fused.SharedJoins >= joins, $"{fused.SharedJoins} shared join inputs, expected at least one per join ({joins})");
        Assert.True(fused.GradientBuffers <= unfused.GradientBuffers - joins, $"{fused.GradientBuffers} gradient buffers fused, {unfused.GradientBuffers} unfused");
        Assert.True(fused.GradientBytes < unfused.GradientBytes);
    }

    /// <summary>
    /// A join that cannot give both inputs the output gradient's buffer. The last join (add2) shares it with both: t's gradient
    /// is only read, by convT, before sum's is next touched. The inner join (add1) hands it on to a, but b, which convT reads
    /// after add1, gets its gradient from convT first and add1 adds to it.
    /// </summary>
    [Fact]
    public void Joins_ShareOnlyWhereNothingCanTellTheInputsApart_AndTrainBitIdentical()
    {
        var g = new ModelGraph("joins", Shape.Of(2, 6, 6));
        var a = g.Apply("convA", new Conv2d(2, 3, 3, padding: 1), g.Input);
        var b = g.Apply("convB", new Conv2d(2, 3, 3, padding: 1), g.Input);
        var sum = g.Apply("add1", new Add(), a, b);
        var t = g.Apply("convT", new Conv2d(3, 3, 3, padding: 1), b);
        var join = g.Apply("add2", new Add(), sum, t);
        var y = g.Apply("flatten", new Flatten(), join);
        g.Apply("fc", new Linear(108, 10), y);

        var m = Planner.Build(g, Batch, true, Layout.NCHW, DeepTrain.Mixed.Precision.Float32, fuse: true);
        Assert.Equal(m.GradBuffer[join.Id], m.GradBuffer[sum.Id]);   // add2's output gradient is sum's and t's
        Assert.Equal(m.GradBuffer[join.Id], m.GradBuffer[t.Id]);
        Assert.Equal(m.GradBuffer[sum.Id], m.GradBuffer[a.Id]);          // add1 hands it on to a ...
        Assert.NotEqual(m.GradBuffer[sum.Id], m.GradBuffer[b.Id]);       // ... but not to b, whose gradient convT writes first
        Assert.True(m.Accumulate[2][1]);

        AssertSameBits(Train(g, fuse: false), Train(g, fuse: true));
    }

    [Fact]
    public void FusionOff_IsWhatTheVariableSays()
    {
        Assert.True(TrainingFusion.Parse(null));
        Assert.True(TrainingFusion.Parse("on"));
        Assert.False(TrainingFusion.Parse("off"));
        Assert.False(TrainingFusion.Parse(" OFF "));
        var e = Assert.Throws<ArgumentException>(() => TrainingFusion.Parse("maybe"));
        Assert.Contains(TrainingFusion.Variable, e.Message);
    }

    /// <summary>
    /// Sync batch norm (one rank, so any plan can carry it) exchanges through its own unfused operations: with it set, a
    /// fused plan runs each layer of a pair on its own and gives the unfused plan's bits, and the exchange does happen.
    /// </summary>
    [Fact]
    public void SyncBatchNorm_RunsUnfused_AndMatchesTheUnfusedPlan()
    {
        var graph = ResNetCifar.Build(20, 1, 10, Size);
        SyncBatchNorm? last = null;
        IDisposable Sync(Plan p)
        {
            var sync = new SyncBatchNorm(p.Backend, new ThreadedRanks(1)[0]);
            p.State.SyncBatchNorm = last = sync;
            return sync;
        }
        var unfused = Train(graph, fuse: false, Sync);
        long exchanges = last!.Exchanges;
        var fused = Train(graph, fuse: true, Sync);
        Assert.True(fused.FusedPairs > 0);
        Assert.Equal(exchanges, last!.Exchanges);
        Assert.True(exchanges >= 2 * Steps * graph.Nodes.Count(n => n.Layer is BatchNorm), $"{exchanges} exchanges");
        AssertSameBits(unfused, fused);
        // And the plain run differs, so the comparison above saw sync batch norm at work.
        Assert.NotEqual(Train(graph, fuse: true).Losses, fused.Losses);
    }

    /// <summary>A checkpoint written after fused steps resumes in an unfused plan (and the other way) to the bits of one run.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Checkpoint_FromOneResumesInTheOther(bool firstFused)
    {
        var graph = ResNetCifar.Build(20, 1, 10, Size);
        var dir = Path.Combine(Path.GetTempPath(), $"deeptrain-fusion-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string path = Path.Combine(dir, "model.safetensors");
            var whole = Train(graph, fuse: firstFused, saveTo: Path.Combine(dir, "whole.safetensors"));
            Train(graph, fuse: firstFused, steps: 2, saveTo: path);
            var resumed = Train(graph, fuse: !firstFused, steps: Steps - 2, resumeFrom: path);
            Assert.Equal(whole.Values.Length, resumed.Values.Length);
            for (int i = 0; i < whole.Values.Length; i++) Assert.True(whole.Values[i].SequenceEqual(resumed.Values[i]), $"parameter or buffer {i} differs");
            Assert.Equal(whole.Losses[2..], resumed.Losses);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>The profile times a fused pair as one "BatchNorm2d+ReLU" layer under the batch norm's name; its ReLU is not listed.</summary>
    [Fact]
    public void Profile_NamesTheFusedPair()
    {
        var graph = ResNetCifar.Build(20, 1, 10, Size);
        using var backend = new CpuBackend();
        using var model = new Model(graph, backend, seed: 7) { Fusion = true };
        using var plan = model.Compile(Batch, training: true, new CrossEntropyLoss());
        var timings = new LayerTimings(graph.Nodes.Count);
        plan.Profile = timings;
        plan.TrainStep();
        var kinds = timings.ByKind().Select(k => k.Kind).ToList();
        Assert.Contains("BatchNorm2d+ReLU", kinds);
        Assert.Contains("BatchNorm2d", kinds);   // bn2 feeds the join, not a ReLU
        Assert.Contains("ReLU", kinds);          // the ReLU after the join
        var layers = timings.ByLayer();
        Assert.Equal(graph.Nodes.Count - plan.Memory.FusedCount, layers.Count);
        Assert.All(layers.Where(l => l.Kind == "BatchNorm2d+ReLU"), l => Assert.EndsWith("bn1", l.Name));
    }
}

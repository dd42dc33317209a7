using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Zoo;
using DeepTrain.Tensors;
using Xunit;

namespace DeepTrain.Tests.Modeling;

/// <summary>The memory planner: in-place decisions, lifetimes, and a packing that never overlaps live buffers.</summary>
public class PlannerTests
{
    /// <summary>No two buffers that are alive at the same step may share a byte.</summary>
    private static void AssertNoLiveOverlap(MemoryPlan plan)
    {
        var b = plan.Buffers;
        for (int i = 0; i < b.Count; i++)
        {
            Assert.True(b[i].Offset >= 0 && b[i].Offset % MemoryPlan.Alignment == 0, $"buffer {i} offset {b[i].Offset}");
            Assert.True(b[i].Offset + b[i].Bytes <= plan.ArenaBytes, $"buffer {i} ends past the arena");
            for (int j = i + 1; j < b.Count; j++)
            {
                bool timeOverlap = b[i].Birth <= b[j].Death && b[j].Birth <= b[i].Death;
                bool spaceOverlap = b[i].Offset < b[j].Offset + b[j].Bytes && b[j].Offset < b[i].Offset + b[i].Bytes;
                Assert.False(timeOverlap && spaceOverlap, $"'{b[i].Description}' and '{b[j].Description}' overlap while both alive");
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ResNet20_PacksWithoutOverlap_AndBeatsUnpacked(bool training)
    {
        var plan = Planner.Build(ResNetCifar.Build(20, 1, 10, 28), 16, training);
        AssertNoLiveOverlap(plan);
        Assert.True(plan.ArenaBytes < plan.UnpackedBytes / 2, $"arena {plan.ArenaBytes} vs unpacked {plan.UnpackedBytes}");
        // The arena can never be smaller than the largest set of simultaneously live buffers.
        int maxT = plan.Buffers.Max(x => x.Death);
        long lower = Enumerable.Range(0, maxT + 1).Max(t => plan.Buffers.Where(x => x.Birth <= t && t <= x.Death).Sum(x => x.Bytes));
        Assert.True(plan.ArenaBytes >= lower);
    }

    [Fact]
    public void ReluAfterBatchNorm_RunsInPlace_ButNotOverTheData()
    {
        var g = new ModelGraph("t", Shape.Of(2, 4, 4));
        var x = g.Apply("relu0", new ReLU(), g.Input);                       // over the data: never in place
        x = g.Apply("conv", new Conv2d(2, 3, 3, padding: 1), x);
        x = g.Apply("bn", BatchNorm2d.Create(3), x);
        x = g.Apply("relu", new ReLU(), x);                                  // BN saves its input, not its output: in place
        x = g.Apply("sig", new Sigmoid(), x);                                // ReLU's backward needs its output: not in place
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(48, 2), x);
        var plan = Planner.Build(g, 4, training: true);
        Assert.Equal([false, false, false, true, false, true, false], plan.InPlace);
        Assert.Equal(plan.ValueBuffer[3], plan.ValueBuffer[4]);
        Assert.Equal(plan.GradBuffer[3], plan.GradBuffer[4]);
        AssertNoLiveOverlap(plan);
        // In evaluation nothing is saved, so the sigmoid may run in place too.
        Assert.True(Planner.Build(g, 4, training: false).InPlace[4]);
    }

    [Fact]
    public void ResidualFork_SecondConsumerAccumulates()
    {
        var plan = Planner.Build(ResNetCifar.Build(20, 1, 10, 28), 2, training: true);
        var nodes = ResNetCifar.Build(20, 1, 10, 28).Nodes;
        // layer1.0.add reads (bn2 output, block input); block input is also read by layer1.0.conv1.
        int add = nodes.ToList().FindIndex(n => n.Layer.Name == "layer1.0.add");
        int conv1 = nodes.ToList().FindIndex(n => n.Layer.Name == "layer1.0.conv1");
        Assert.False(plan.Accumulate[add][1]);   // backward reaches the add first: it writes
        Assert.True(plan.Accumulate[conv1][0]);  // the conv adds its part
    }

    /// <summary>
    /// Training plans with the fusions (Planner.JoinGradients, TrainingFusion) against the same plans without: every basic
    /// block's join hands its output gradient's buffer to both inputs (two gradient buffers fewer per join), the packing still
    /// never overlaps live buffers, and the arena grows by at most the fused batch norms' saved scales (it shrinks here).
    /// </summary>
    [Theory]
    [InlineData(20, 16, ShortcutOption.A)]
    [InlineData(20, 16, ShortcutOption.B)]
    [InlineData(110, 2, ShortcutOption.A)]
    public void FusedPlan_SharesJoinGradients_WithFewerBuffers(int depth, int batch, ShortcutOption shortcut)
    {
        var graph = ResNetCifar.Build(depth, 3, 10, 32, shortcut);
        var plain = Planner.Build(graph, batch, true, Layout.NCHW, DeepTrain.Mixed.Precision.Float32, fuse: false);
        var fused = Planner.Build(graph, batch, true, Layout.NCHW, DeepTrain.Mixed.Precision.Float32, fuse: true);
        AssertNoLiveOverlap(fused);
        var joins = graph.Nodes.Where(n => n.Layer is Add).ToList();
        Assert.NotEmpty(joins);
        foreach (var j in joins)
        {
            Assert.All(j.Inputs, v => Assert.Equal(fused.GradBuffer[j.Output], fused.GradBuffer[v]));
            Assert.All(j.Inputs, v => Assert.NotEqual(plain.GradBuffer[j.Output], plain.GradBuffer[v]));
        }
        int Grads(MemoryPlan p) => p.Buffers.Count(b => b.Kind == BufferKind.Gradient);
        Assert.Equal(Grads(plain) - 2 * joins.Count, Grads(fused));
        long scales = fused.Buffers.Count - plain.Buffers.Count + 2L * joins.Count;   // the saved scales, one per fused pair
        Assert.Equal(fused.FusedCount, scales);
        Assert.True(fused.ArenaBytes <= plain.ArenaBytes + scales * MemoryPlan.Alignment, $"arena {fused.ArenaBytes} fused, {plain.ArenaBytes} unfused");
        Assert.True(fused.UnpackedBytes < plain.UnpackedBytes);
    }

    [Fact]
    public void ResNet1202_Plans_WithoutRecursion()
    {
        var g = ResNetCifar.Build(1202);
        Assert.True(g.Nodes.Count > 3000);
        var plan = Planner.Build(g, 2, training: true);
        Assert.True(plan.ArenaBytes > 0);
    }

    [Fact]
    public void ShapeMismatch_NamesTheLayer()
    {
        var g = new ModelGraph("t", Shape.Of(1, 28, 28));
        var e = Assert.Throws<LayerShapeException>(() => g.Apply("conv1", new Conv2d(3, 16, 3), g.Input));
        Assert.Contains("Conv2d 'conv1'", e.Message);
        Assert.Contains("1 channels, expected 3", e.Message);
    }

    [Fact]
    public void UnusedOutput_IsReported()
    {
        var g = new ModelGraph("t", Shape.Of(4));
        g.Apply("dead", new Linear(4, 3), g.Input);
        var x = g.Apply("fc", new Linear(4, 2), g.Input);
        g.SetOutput(x);
        var e = Assert.Throws<InvalidOperationException>(() => Planner.Build(g, 2, training: true));
        Assert.Contains("'dead'", e.Message);
    }

    [Fact]
    public void DuplicateNamesAndReusedLayers_AreRejected()
    {
        var g = new ModelGraph("t", Shape.Of(4));
        var fc = new Linear(4, 4);
        var x = g.Apply("fc", fc, g.Input);
        Assert.Throws<ArgumentException>(() => g.Apply("fc", new Linear(4, 4), x));
        Assert.Throws<ArgumentException>(() => g.Apply("fc2", fc, x));
    }
}

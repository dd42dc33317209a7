using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Distributed;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Modeling;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// The bucket layout and the reduction's plumbing, in one process over <see cref="LoopbackCollectives"/>. In the console
/// collection because the in-process CLI tests set <c>CpuParallel.Threads</c> (<c>--threads</c>), which changes the CPU
/// backend's chunking and so the last bits of a reduction, and the bit-for-bit comparison here trains twice.
/// </summary>
[Collection(nameof(Cli.ConsoleCollection))]
public sealed class GradientBucketsTests
{
    private static ModelGraph Net()
    {
        var g = new ModelGraph("net", Shape.Of(1, 8, 8));
        var x = g.Apply("conv1", new Conv2d(1, 8, 3, padding: 1), g.Input);
        x = g.Apply("relu1", new ReLU(), x);
        x = g.Apply("conv2", new Conv2d(8, 8, 3, padding: 1), x);
        x = g.Apply("relu2", new ReLU(), x);
        x = g.Apply("pool", new GlobalAvgPool2d(), x);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(8, 4), x);
        return g;
    }

    [Fact]
    public void Buckets_FollowReverseLayerOrder_AndRespectTheCap()
    {
        using var backend = new CpuBackend();
        using var model = new Model(Net(), backend, seed: 1);
        using var buckets = new GradientBuckets(model, new LoopbackCollectives(2), new DistributedOptions { BucketBytes = 300 });
        // fc: 36 floats (144 B); conv2: bias 32 B + weight 2304 B (alone: larger than the cap); conv1: bias + weight 288 B.
        Assert.Equal([36 + 8, 576, 8, 72], buckets.BucketFloats);
        Assert.Equal(model.Parameters.Count, buckets.BucketFloats.Sum());
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(2, true)]
    [InlineData(2, false)]
    public void IdenticalRanks_TrainBitForBitAsOneProcess_ReducingOncePerStep(int accumulation, bool overlap)
    {
        var data = TestData.TinyImages(96);
        using var backend = new CpuBackend();
        float[] Train(LoopbackCollectives? ranks)
        {
            using var model = new Model(Net(), backend, seed: 3);
            var optimizer = OptimizerFactory.Create(new OptimizerOptions("sgd", 0.05f, 0.9f, 5e-4f), model.Parameters);
            using var loader = new DataLoader(data, 16, shuffle: true, Normalization.FromDataset(data), null, seed: 5, dropLast: true, workers: 0);
            var schedule = ScheduleFactory.Create(new ScheduleOptions("cosine"), 0.05f, loader.BatchesPerEpoch, 2);
            using var trainer = new Trainer(model, optimizer, schedule, new CrossEntropyLoss(), 16, seed: 7, accumulationSteps: accumulation);
            if (ranks is not null) trainer.Distribute(ranks, new DistributedOptions { BucketBytes = 300, OverlapWithBackward = overlap });
            for (int e = 0; e < 2; e++) trainer.TrainEpoch(loader, e);
            return model.Parameters.AllValues.ToArray();
        }
        var alone = Train(null);
        var ranks = new LoopbackCollectives(2);   // every rank holds the same gradient g: (g + g) / 2 = g exactly
        var together = Train(ranks);
        Assert.Equal(alone, together);
        Assert.Equal(4 * 2 * (96 / 16), ranks.Started);   // 4 buckets, 12 steps: once per step, not per micro-batch
        Assert.Equal(1, ranks.Broadcasts);                 // the parameters (this net has no buffers)
    }

    [Fact]
    public void Watchdog_TurnsAHangIntoAnErrorNamingTheRank()
    {
        var e = Assert.Throws<CollectiveTimeoutException>(() => CollectiveWatchdog.Wait(() => false, TimeSpan.FromMilliseconds(50), 1, 4, "the all-reduce of 10 floats"));
        Assert.StartsWith("rank 1 of 4: the all-reduce of 10 floats did not complete within", e.Message, StringComparison.Ordinal);
        Assert.Contains("DistributedOptions.Timeout", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_AreCheckedNamingTheProperty()
    {
        Assert.Contains("DistributedOptions.BucketBytes", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedOptions { BucketBytes = 0 }.Validate()).Message, StringComparison.Ordinal);
        Assert.Contains("DistributedOptions.Timeout", Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedOptions { Timeout = TimeSpan.Zero }.Validate()).Message, StringComparison.Ordinal);
    }
}

using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Optim;
using DeepTrain.Training;
using DeepTrain.Zoo;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>
/// Steady memory after the first epoch (issue 13 item 9: LeNet-5's RSS rose ~8 MiB an epoch): an epoch after the first
/// allocates far less than the weights on the training thread, so a checkpoint commit reuses its host buffers
/// instead of making new copies of the weights and optimizer state every epoch.
/// </summary>
public class EpochAllocationTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "deeptrain-alloc-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static Dataset Images(int n, int seed)
    {
        var r = new Random(seed);
        var pixels = new byte[n * 28 * 28];
        r.NextBytes(pixels);
        return new Dataset("noise", 1, 28, 28, 10, pixels, Enumerable.Range(0, n).Select(i => i % 10).ToArray());
    }

    [Fact]
    public void EpochsAfterTheFirst_AllocateLessThanTheWeights()
    {
        using var backend = new CpuBackend();
        var options = new FitOptions
        {
            Epochs = 4, BatchSize = 32, EvalBatchSize = 20, Seed = 1, OutputDirectory = _root,
            Optimizer = new OptimizerOptions("sgd", 0.01f, 0.9f, 5e-4f), Schedule = new ScheduleOptions("one-cycle"),
        };
        using var run = new TrainingRun(ModelZoo.Create("lenet5", 1, 10, 28), Images(96, 1), Images(40, 2), backend, options);
        var perEpoch = new List<long>();
        long mark = 0;
        run.Fit(new SyncProgress(p =>
        {
            if (p.Phase != TrainingPhase.Epoch) return;
            long now = GC.GetAllocatedBytesForCurrentThread();
            perEpoch.Add(now - mark);
            mark = now;
        }), TestContext.Current.CancellationToken);
        long weights = run.Model.Parameters.TotalFloats * 4;
        Assert.Equal(4, perEpoch.Count);
        // Epoch 1 allocates the buffers; epochs 2..4 (training, evaluation, the checkpoint commit) reuse them.
        foreach (long bytes in perEpoch.Skip(2))
            Assert.True(bytes < weights / 2, $"an epoch after the first allocated {bytes:N0} bytes on the training thread; the weights are {weights:N0} bytes (per epoch: {string.Join(", ", perEpoch.Select(b => b.ToString("N0")))})");
    }

    /// <summary>Reports on the calling thread (<see cref="Progress{T}"/> posts to the thread pool).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}

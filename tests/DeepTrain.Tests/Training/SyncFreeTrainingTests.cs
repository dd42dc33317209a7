using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>
/// The training step without host synchronisation: the loss and correct count stay on the device between sync
/// points (<see cref="Trainer.SyncEvery"/>), the epoch's figures equal a loop that reads every step, the host reads
/// only at sync points, and a non-finite loss is still traced to its batch and layer.
/// </summary>
public class SyncFreeTrainingTests
{
    private const int Batch = 12, Batches = 10;

    /// <summary>Three noisy blobs of 4×4 gray images, 120 samples: 10 batches of 12.</summary>
    private static Dataset Blobs() => TestData.Blobs(Batch * Batches, classStep: 50, sigma: 50, offset: 70);

    private static DataLoader Loader(Dataset data) => new(data, Batch, shuffle: true, Normalization.FromDataset(data), null, seed: 9, dropLast: true, workers: 0);

    private static ModelGraph Net() => SmallNets.Mlp(Shape.Of(1, 4, 4), 3, 8);

    /// <summary>
    /// The loop before this change, written out: every micro-step's loss and correct count read to the host at once
    /// and summed in double, a non-finite step left out of the loss. Returns (mean loss, accuracy, weights).
    /// </summary>
    private static (double Loss, double Accuracy, float[] Weights) ReadEveryStep(Dataset data, int accumulation)
    {
        using var backend = new CpuBackend();
        using var model = new Model(Net(), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f, momentum: 0.9f, weightDecay: 1e-3f);
        using var loader = Loader(data);
        using var plan = model.Compile(Batch / accumulation, training: true, new CrossEntropyLoss());
        var one = new float[1];
        double Read(Tensor t) { backend.CopyToHost<float>(t, one); return one[0]; }
        double lossSum = 0, correct = 0;
        long images = 0, lossImages = 0;
        int micro = Batch / accumulation, per = 16;
        foreach (var batch in loader.Epoch(0))
        {
            opt.LearningRate = 0.1f;
            double loss = 0;
            for (int k = 0; k < accumulation; k++)
            {
                backend.CopyFromHost<float>(batch.Images.AsSpan(k * micro * per, micro * per), plan.Input);
                backend.CopyFromHost<int>(batch.Labels.AsSpan(k * micro, micro), plan.Target);
                plan.State.AccumulateParamGrads = k > 0;
                plan.TrainStep(1f / accumulation, null);
                loss += Read(plan.LossValue) / accumulation;
                correct += Read(plan.Correct);
            }
            plan.State.AccumulateParamGrads = false;
            opt.Step();
            if (double.IsFinite(loss)) { lossSum += loss * batch.Count; lossImages += batch.Count; }
            images += batch.Count;
        }
        return (lossSum / lossImages, correct / images, model.Parameters.AllValues.ToArray());
    }

    private static (double Loss, double Accuracy, float[] Weights, List<StepProgress> Steps) Train(Dataset data, int accumulation, int syncEvery)
    {
        using var backend = new CpuBackend();
        using var model = new Model(Net(), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f, momentum: 0.9f, weightDecay: 1e-3f);
        using var loader = Loader(data);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), Batch, accumulationSteps: accumulation) { SyncEvery = syncEvery };
        var steps = new List<StepProgress>();
        var (loss, acc, _, _) = trainer.TrainEpoch(loader, 0, steps.Add, TestContext.Current.CancellationToken);
        return (loss, acc, model.Parameters.AllValues.ToArray(), steps);
    }

    /// <summary>
    /// Whatever the sync interval, the epoch's mean loss and accuracy are those of reading every step — exactly,
    /// since the window is summed on the host in the same order — and so are the weights.
    /// </summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(20, 1)]
    [InlineData(0, 1)]
    [InlineData(4, 2)]
    [InlineData(0, 3)]
    public void EpochFigures_EqualALoopThatReadsEveryStep(int syncEvery, int accumulation)
    {
        var data = Blobs();
        var reference = ReadEveryStep(data, accumulation);
        var r = Train(data, accumulation, syncEvery);
        Assert.Equal(reference.Loss, r.Loss);
        Assert.Equal(reference.Accuracy, r.Accuracy);
        Assert.Equal(reference.Weights, r.Weights);
        Assert.True(r.Loss is > 0.05 and < 1.5, $"mean loss {r.Loss}");
    }

    /// <summary>
    /// At a sync point a step's progress carries its own batch loss (what the reference loop read for it), between
    /// them the last sync point's; the window mean is the mean of the window's step losses.
    /// </summary>
    [Fact]
    public void StepProgress_CarriesTheLastSynchronisedStep()
    {
        var data = Blobs();
        var every = Train(data, 1, 1).Steps;
        var steps = Train(data, 1, 4).Steps;
        Assert.Equal(Batches, steps.Count);
        // Sync points: the first step, global steps 4 and 8, the last (batch 10).
        int[] synced = [1, 4, 8, 10];
        Assert.Equal(synced, steps.Where(s => s.Synchronised).Select(s => s.Batch));
        foreach (var s in steps)
        {
            int from = synced.Last(b => b <= s.Batch);
            Assert.Equal(from, s.LossBatch);
            Assert.Equal(every[from - 1].Loss, s.Loss);
            Assert.Equal(every[from - 1].Accuracy, s.Accuracy);
        }
        // The window that ended at batch 8 holds batches 5–8 (equal batch sizes: the plain mean).
        double mean = every.Skip(4).Take(4).Average(s => s.Loss);
        Assert.Equal(mean, steps[7].WindowLoss, 12);
        Assert.Equal(every.Skip(4).Take(4).Average(s => s.Accuracy), steps[7].WindowAccuracy, 12);
    }

    /// <summary>
    /// The host reads only at sync points: one CopyToHost per sync point (the first step, every SyncEvery-th,
    /// the last), at most ⌈steps/SyncEvery⌉ + 2 per epoch, whatever the gradient accumulation; never Synchronize.
    /// </summary>
    [Theory]
    [InlineData(1, 1, 10)]
    [InlineData(3, 1, 5)]    // batches 1, 3, 6, 9, 10
    [InlineData(5, 2, 3)]    // batches 1, 5, 10
    [InlineData(0, 1, 2)]    // batches 1, 10
    [InlineData(20, 1, 2)]
    public void HostReads_HappenOnlyAtSyncPoints(int syncEvery, int accumulation, int expected)
    {
        var data = Blobs();
        using var cpu = new CpuBackend();
        using var backend = new CountingBackend(cpu);
        using var model = new Model(Net(), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f, momentum: 0.9f);
        using var loader = Loader(data);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), Batch, accumulationSteps: accumulation) { SyncEvery = syncEvery };
        backend.HostReads = 0;
        trainer.TrainEpoch(loader, 0, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(expected, backend.HostReads);
        Assert.True(backend.HostReads <= (syncEvery == 0 ? 0 : (Batches + syncEvery - 1) / syncEvery) + 2);
        Assert.Equal(0, backend.Synchronizations);
        // A second epoch continues the global step count: with SyncEvery = 3, global steps 12, 15, 18 and batches 1, 10.
        if (syncEvery == 3)
        {
            backend.HostReads = 0;
            trainer.TrainEpoch(loader, 1, cancel: TestContext.Current.CancellationToken);
            Assert.Equal(5, backend.HostReads);
        }
    }

    /// <summary>Under a loss scaler the scaler's state is read with the window: still one read per sync point.</summary>
    [Fact]
    public void HostReads_UnderALossScaler_IncludeTheScalerState()
    {
        var data = Blobs();
        using var cpu = new CpuBackend();
        using var backend = new CountingBackend(cpu);
        using var model = new Model(Net(), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f, momentum: 0.9f);
        using var loader = Loader(data);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), Batch) { SyncEvery = 5 };
        trainer.ConfigureLossScaling(LossScalerOptions.Static(1024f));
        backend.HostReads = 0;
        trainer.TrainEpoch(loader, 0, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(3, backend.HostReads);   // batches 1, 5, 10
        Assert.Equal(0, trainer.LastEpochSkippedSteps);
    }

    /// <summary>
    /// Under a loss scaler, a step whose loss is non-finite is skipped and left out of the mean loss: the figures
    /// and the skip count do not depend on the sync interval. The last layer's weights are made to overflow for
    /// batch 4 only (set after step 3, restored after step 4, which the scaler skipped).
    /// </summary>
    [Theory]
    [InlineData(3)]
    [InlineData(0)]
    public void NonFiniteStepUnderTheScaler_IsSkippedAndLeftOutOfTheMean(int syncEvery)
    {
        var data = Blobs();
        var every = TrainThroughOneBadStep(data, 1);
        Assert.Equal(1, every.Skipped);
        Assert.False(double.IsFinite(every.Steps[3].Loss));
        // Equal batches: the mean loss is the plain mean of the nine finite step losses read one by one.
        Assert.Equal(every.Steps.Where(s => double.IsFinite(s.Loss)).Average(s => s.Loss), every.Loss, 12);

        var r = TrainThroughOneBadStep(data, syncEvery);
        Assert.Equal(1, r.Skipped);
        Assert.Equal(1, r.Steps[^1].SkippedSteps);
        Assert.Equal(every.Loss, r.Loss);
        Assert.Equal(every.Accuracy, r.Accuracy);
    }

    private static (double Loss, double Accuracy, long Skipped, List<StepProgress> Steps) TrainThroughOneBadStep(Dataset data, int syncEvery)
    {
        using var backend = new CpuBackend();
        using var model = new Model(Net(), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f, momentum: 0.9f);
        using var loader = Loader(data);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), Batch) { SyncEvery = syncEvery };
        trainer.ConfigureLossScaling(LossScalerOptions.Static(1024f));
        var w = model.Parameters.Entries.Single(e => e.Name == "fc2.weight").Value;
        var saved = new float[w.Elements];
        var steps = new List<StepProgress>();
        var (loss, acc, _, _) = trainer.TrainEpoch(loader, 0, s =>
        {
            steps.Add(s);
            if (s.Batch == 3) { backend.CopyToHost<float>(w, saved); backend.Fill(w, float.MaxValue); }
            if (s.Batch == 4) backend.CopyFromHost<float>(saved, w);
        }, TestContext.Current.CancellationToken);
        return (loss, acc, trainer.LastEpochSkippedSteps, steps);
    }

    /// <summary>
    /// Without a loss scaler a non-finite loss is an error naming its batch and the layer. The last layer's weights
    /// overflow from batch 5 on (set after step 5). With SyncEvery = 1 the run stops at batch 5 before its update and
    /// the checked forward names fc2; with SyncEvery = 8 it is found at the sync after batch 7 (global step 8), the
    /// message says so, and a layer is still named (the weights are non-finite by then).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    public void NonFiniteLoss_WithoutAScaler_NamesTheBatchAndTheLayer(int syncEvery)
    {
        var data = Blobs();
        using var backend = new CpuBackend();
        using var model = new Model(Net(), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f, momentum: 0.9f);
        using var loader = Loader(data);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), Batch) { SyncEvery = syncEvery };
        var w = model.Parameters.Entries.Single(e => e.Name == "fc2.weight").Value;
        float[]? before = null;
        var e = Assert.Throws<NonFiniteLossException>(() => trainer.TrainEpoch(loader, 0, s =>
        {
            if (s.Batch == 5) { backend.Fill(w, float.MaxValue); before = model.Parameters.AllValues.ToArray(); }
        }, TestContext.Current.CancellationToken));
        Assert.StartsWith("epoch 0, batch 5: the loss is", e.Message);
        Assert.Contains("output element", e.Message);   // a layer was traced
        if (syncEvery == 1)
        {
            Assert.Contains("Linear 'fc2'", e.Message);
            Assert.DoesNotContain("SyncEvery", e.Message);
            Assert.Equal(before, model.Parameters.AllValues.ToArray());   // stopped before the bad update
            Assert.Equal(5, trainer.GlobalStep);
        }
        else
        {
            Assert.Contains("found at the host sync after batch 7 (batches 1–7", e.Message);
            Assert.Contains("SyncEvery = 1", e.Message);
            Assert.Equal(7, trainer.GlobalStep);   // batches 5 and 6 were updated
        }
    }

    [Fact]
    public void NegativeSyncEvery_IsRejected()
    {
        using var backend = new CpuBackend();
        using var model = new Model(Net(), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), Batch);
        Assert.Equal(Trainer.DefaultSyncEvery, trainer.SyncEvery);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.SyncEvery = -1);
        Assert.Equal("SyncEvery", e.ParamName);
    }

    /// <summary>The CPU backend counting the calls that would wait for a GPU: CopyToHost and Synchronize.</summary>
    private sealed class CountingBackend(CpuBackend inner) : ForwardingBackend(inner)
    {
        /// <summary>CopyToHost calls so far.</summary>
        public int HostReads { get; set; }
        /// <summary>Synchronize calls so far.</summary>
        public int Synchronizations { get; set; }
        public override void CopyToHost<T>(Tensor src, Span<T> dst) { HostReads++; Inner.CopyToHost<T>(src, dst); }
        public override void Synchronize() { Synchronizations++; Inner.Synchronize(); }
    }
}

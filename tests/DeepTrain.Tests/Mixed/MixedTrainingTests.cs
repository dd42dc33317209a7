using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Memory;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Mixed;

/// <summary>Whole 16-bit plans on the CPU: the memory plan, one step against fp32, training to fp32's accuracy, skipping.</summary>
public class MixedTrainingTests
{
    /// <summary>A small CNN with every layer kind whose dtype matters: conv, batch norm, ReLU in place, residual add, pooling, linear.</summary>
    private static ModelGraph Net()
    {
        var g = new ModelGraph("tiny", Shape.Of(1, 8, 8));
        var x = g.Apply("conv1", new Conv2d(1, 8, 3, padding: 1, bias: false), g.Input);
        x = g.Apply("bn1", BatchNorm2d.Create(8), x);
        var a = g.Apply("relu1", new ReLU(), x);
        var y = g.Apply("conv2", new Conv2d(8, 8, 3, padding: 1), a);
        y = g.Apply("bn2", BatchNorm2d.Create(8), y);
        y = g.Apply("add", new Add(), y, a);
        y = g.Apply("relu2", new ReLU(), y);
        y = g.Apply("pool", new GlobalAvgPool2d(), y);
        y = g.Apply("flatten", new Flatten(), y);
        g.Apply("fc", new Linear(8, 4), y);
        return g;
    }

    [Theory]
    [InlineData(Precision.Float16)]
    [InlineData(Precision.BFloat16)]
    public void MemoryPlan_Stores16BitActivations_LogitsAndSavedStatisticsInFp32(Precision precision)
    {
        var graph = ModelZoo.Create("resnet20", 1, 10, 28);
        var p32 = Planner.Build(graph, 8, training: true);
        var p16 = Planner.Build(graph, 8, training: true, precision: precision);
        Assert.Equal(precision, p16.Precision);
        // Everything but the logits (8 × 10 fp32 twice) and batch norm's saved (C) vectors halves.
        Assert.InRange(p16.ArenaBytes, p32.ArenaBytes * 0.45, p32.ArenaBytes * 0.55);
        var dt = precision.ActivationDType();
        Assert.All(p16.Buffers.Where(b => b.Kind == BufferKind.Saved), b => Assert.Equal(DType.Float32, b.DType));
        int output = graph.Output.Id;
        Assert.Equal(DType.Float32, p16.Buffers[p16.ValueBuffer[output]].DType);
        Assert.Equal(DType.Float32, p16.Buffers[p16.GradBuffer[output]].DType);
        Assert.Equal(dt, p16.Buffers[p16.ValueBuffer[1]].DType);
        var report = MemoryReport.For(graph, p16, 1);
        Assert.Equal(report.Parameters / 2, report.WorkingCopy);
    }

    /// <summary>
    /// One training step of the same model on the same batch at fp32 and at 16 bits: the loss and the fp32 weight
    /// gradients agree within the storage precision. Tolerances, as a norm-relative error over all gradients: fp16
    /// keeps 11 significant bits (2^−11 ≈ 5e−4 per store) and the step stores ~10 tensors in a chain, so 5e−3;
    /// bf16 keeps 8 (2^−8 ≈ 4e−3 per store), so 4e−2.
    /// </summary>
    [Theory]
    [InlineData(Precision.Float16, 5e-3)]
    [InlineData(Precision.BFloat16, 4e-2)]
    public void OneTrainingStep_MatchesFp32_WithinTheStoragePrecision(Precision precision, double tolerance)
    {
        var data = TestData.TinyImages(16);
        var norm = Normalization.FromDataset(data);
        using var loader = new DataLoader(data, 16, shuffle: false, norm, null, seed: 1, dropLast: true, workers: 1);
        var batch = loader.Epoch(0).First();
        (float Loss, float[] Grads, float[] Logits) Step(Precision p)
        {
            using var b = new CpuBackend();
            using var model = new Model(Net(), b, seed: 3);
            using var plan = model.Compile(16, training: true, new CrossEntropyLoss(), precision: p);
            b.CopyFromHost<float>(batch.Images.AsSpan(0, 16 * 64), plan.Input);
            b.CopyFromHost<int>(batch.Labels.AsSpan(0, 16), plan.Target);
            plan.TrainStep();
            return (plan.LossValue.ToArray()[0], model.Parameters.AllGrads.ToArray(), plan.Output.ToArray());
        }
        var full = Step(Precision.Float32);
        var half = Step(precision);
        Assert.True(Math.Abs(half.Loss - full.Loss) <= tolerance * Math.Abs(full.Loss), $"loss {half.Loss} vs fp32 {full.Loss}");
        double RelErr(float[] a, float[] e) => Math.Sqrt(a.Zip(e, (x, y) => (double)(x - y) * (x - y)).Sum() / e.Sum(y => (double)y * y));
        Assert.True(RelErr(half.Grads, full.Grads) <= tolerance, $"gradients: relative error {RelErr(half.Grads, full.Grads):G3} > {tolerance}");
        Assert.True(RelErr(half.Logits, full.Logits) <= tolerance, $"logits: relative error {RelErr(half.Logits, full.Logits):G3}");
        Assert.NotEqual(full.Grads, half.Grads);   // the 16-bit path really rounded something
    }

    private static (double Accuracy, Trainer Trainer, Model Model, Optimizer Opt) Train(Precision precision, int epochs, CpuBackend b, LossScalerOptions? scaling = null, bool configure = false)
    {
        var data = TestData.TinyImages(256);
        var test = TestData.TinyImages(128, seed: 12);
        var norm = Normalization.FromDataset(data);
        using var loader = new DataLoader(data, 32, shuffle: true, norm, null, seed: 2, dropLast: true, workers: 1);
        using var testLoader = new DataLoader(test, 32, shuffle: false, norm, null, seed: 2, dropLast: false, workers: 1);
        var model = new Model(Net(), b, seed: 5);
        var opt = new SGD(model.Parameters, 0.05f, 0.9f, 5e-4f);
        var trainer = new Trainer(model, opt, new ConstantLr(0.05f), new CrossEntropyLoss(), 32, seed: 2, precision: precision);
        if (configure) trainer.ConfigureLossScaling(scaling);
        for (int e = 0; e < epochs; e++) trainer.TrainEpoch(loader, e, cancel: TestContext.Current.CancellationToken);
        return (trainer.Evaluate(testLoader).Accuracy, trainer, model, opt);
    }

    [Fact]
    public void Fp16AndBf16Training_ReachFp32Accuracy()
    {
        using var b = new CpuBackend();
        var full = Train(Precision.Float32, 6, b);
        var fp16 = Train(Precision.Float16, 6, b);
        var bf16 = Train(Precision.BFloat16, 6, b);
        try
        {
            Assert.True(full.Accuracy >= 0.9, $"fp32 accuracy {full.Accuracy:P1} fp16 {fp16.Accuracy:P1} bf16 {bf16.Accuracy:P1}: the task should be easy");
            Assert.True(fp16.Accuracy >= full.Accuracy - 0.03, $"fp16 {fp16.Accuracy:P1} vs fp32 {full.Accuracy:P1}");
            Assert.True(bf16.Accuracy >= full.Accuracy - 0.03, $"bf16 {bf16.Accuracy:P1} vs fp32 {full.Accuracy:P1}");
            // fp16 trains with GradScaler's defaults; bf16 without a scaler.
            Assert.NotNull(fp16.Trainer.Scaler);
            Assert.Equal(65536f, fp16.Trainer.Scaler!.Options.InitScale);
            Assert.Null(bf16.Trainer.Scaler);
            Assert.Equal(DType.Float16, fp16.Model.Parameters.WorkingCopy!.DType);
            // The working copy is the masters rounded, after the last fused step.
            var masters = fp16.Model.Parameters.AllValues.ToArray();
            var wide = new float[masters.Length];
            ReducedFloat.Widen(fp16.Model.Parameters.WorkingCopy.AsSpan<ushort>(), DType.Float16, wide);
            Assert.Equal(masters.Select(x => ReducedFloat.Round(x, DType.Float16)).ToArray(), wide);
        }
        finally
        {
            foreach (var r in new[] { full, fp16, bf16 }) { r.Trainer.Dispose(); r.Opt.Dispose(); r.Model.Dispose(); }
        }
    }

    /// <summary>
    /// The first convolution's weights scaled so its fp16 output overflows (±∞ past 65504) on every batch: the loss is
    /// NaN, the scaler skips every step (no exception), halves the scale each time, and no weight moves. Without the
    /// scaler the same run stops with NonFiniteLossException.
    /// </summary>
    [Fact]
    public void NonFiniteLossUnderTheScaler_IsSkippedAndCounted_NotThrown()
    {
        var data = TestData.TinyImages(64);
        var norm = Normalization.FromDataset(data);
        using var loader = new DataLoader(data, 16, shuffle: true, norm, null, seed: 2, dropLast: true, workers: 1);
        using var b = new CpuBackend();
        using var model = new Model(Net(), b, seed: 5);
        using var opt = new SGD(model.Parameters, 0.05f, 0.9f);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.05f), new CrossEntropyLoss(), 16, precision: Precision.Float16);
        var conv1 = model.Parameters.Entries.Single(e => e.Name == "conv1.weight");
        b.Axpby(0f, conv1.Value, 1e6f, conv1.Value);
        model.Parameters.SyncWorkingCopy();
        var before = model.Parameters.AllValues.ToArray();
        var (loss, _, _, _) = trainer.TrainEpoch(loader, 0, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(4, trainer.LastEpochSkippedSteps);
        Assert.True(double.IsNaN(loss));   // no finite loss to average
        Assert.Equal(65536f / 16, trainer.Scaler!.Read().Scale);
        Assert.Equal(0, trainer.Scaler.Read().StepCount);
        Assert.Equal(before, model.Parameters.AllValues.ToArray());

        trainer.ConfigureLossScaling(null);
        Assert.Throws<NonFiniteLossException>(() => trainer.TrainEpoch(loader, 1, cancel: TestContext.Current.CancellationToken));
    }

    [Fact]
    public void LossScaling_WithAnOptimizerThatCannotSkip_SaysWhatToDo()
    {
        using var b = new CpuBackend();
        using var model = new Model(Net(), b, seed: 5);
        using var opt = new Adagrad(model.Parameters, 0.01f);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.01f), new CrossEntropyLoss(), 16, precision: Precision.Float16);
        Assert.Null(trainer.Scaler);   // not silently attached
        var e = Assert.Throws<NotSupportedException>(() => trainer.ConfigureLossScaling(LossScalerOptions.Dynamic));
        Assert.Contains("Adagrad", e.Message);
        Assert.Contains("FitOptions.LossScaling = off", e.Message);
    }

    /// <summary>The CPU backend answering SupportsPrecision like an old GPU: no 16-bit precision.</summary>
    private sealed class NoHalfBackend(CpuBackend inner) : ForwardingBackend(inner)
    {
        public override bool SupportsPrecision(Precision precision, out string reason)
        {
            reason = precision == Precision.Float32 ? "" : "GPU 0 (Tesla K80, sm_37) has no fp16 arithmetic (needs sm_53 or newer); use FitOptions.Precision = fp32";
            return precision == Precision.Float32;
        }
    }

    [Fact]
    public void Fp16OnABackendWithoutIt_SaysSo()
    {
        using var cpu = new CpuBackend();
        var b = new NoHalfBackend(cpu);
        using var model = new Model(Net(), b, seed: 5);
        using var opt = new SGD(model.Parameters, 0.05f);
        var e = Assert.Throws<NotSupportedException>(() => new Trainer(model, opt, new ConstantLr(0.05f), new CrossEntropyLoss(), 16, precision: Precision.Float16));
        Assert.Contains("cannot train at fp16", e.Message);
        Assert.Contains("sm_37", e.Message);
        Assert.Null(model.Parameters.WorkingCopy);   // refused before anything was allocated
        using var fp32 = model.Compile(16, training: true, new CrossEntropyLoss());
    }

    [Fact]
    public void PlansOfOneModel_ShareOne16BitPrecision()
    {
        using var b = new CpuBackend();
        using var model = new Model(Net(), b, seed: 5);
        using var p1 = model.Compile(4, training: true, new CrossEntropyLoss(), precision: Precision.Float16);
        var e = Assert.Throws<InvalidOperationException>(() => model.Compile(4, training: false, new CrossEntropyLoss(), precision: Precision.BFloat16));
        Assert.Contains("Float16", e.Message);
        using var p32 = model.Compile(4, training: false, new CrossEntropyLoss());   // fp32 plans read the masters: fine
    }
}

/// <summary>Runs alone (allocation is counted process-wide): the scaled and clipped step allocates nothing.</summary>
[Collection(nameof(Backends.AllocationCollection))]
public class MixedStepAllocationTests
{
    /// <summary>The scaled fp32 step (scale the loss gradient, unscale, clip, skip-aware SGD, update) stays allocation-free on the CPU.</summary>
    [Fact]
    public void ScaledAndClippedFp32Step_AfterWarmUp_AllocatesNoManagedBytes()
    {
        using var b = new CpuBackend();
        using var model = new Model(ResNetCifar.Build(8, 1, 10, 16), b, 1);
        using var plan = model.Compile(4, true, new CrossEntropyLoss());
        using var sgd = new SGD(model.Parameters, 0.01f, 0.9f, 5e-4f);
        using var scaler = new LossScaler(b, LossScalerOptions.Dynamic);
        using var clipper = new GradientClipper(b, 1f);
        sgd.Scaler = scaler;
        b.CopyFromHost<float>(Infrastructure.TestData.Normal(3, 4, 1, 16, 16), plan.Input);
        b.CopyFromHost<int>([1, 2, 3, 4], plan.Target);
        void Step()
        {
            plan.TrainStep(1f, scaler.State);
            scaler.Unscale(model.Parameters);
            clipper.Clip(model.Parameters);
            sgd.Step();
            scaler.Update();
        }
        for (int i = 0; i < 8; i++) Step();
        long least = long.MaxValue;   // the smallest of several trials, as in CpuParallelTests (other threads allocate too)
        for (int trial = 0; trial < 5; trial++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            Step();
            least = Math.Min(least, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        Assert.Equal(0, least);
        Assert.Equal(13, scaler.Read().StepCount);
    }
}

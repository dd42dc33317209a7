using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// Whole 16-bit ResNet-20 training on CudaBackend: one mixed-precision step against CpuBackend's, and the issue's
/// acceptance run (fp16 Fashion-MNIST reaching the fp32 run's accuracy), which is marked
/// <c>[Trait("Category", "GpuAcceptance")]</c> — it takes minutes and runs as its own stage (acceptance) of bundle/device-check.sh, on the Fashion-MNIST subset that ./build.sh device-pack writes.
/// </summary>
public class CudaMixedTrainingTests
{
    /// <summary>The trait value of the slow acceptance runs (xunit filter: <c>-trait "Category=GpuAcceptance"</c>).</summary>
    public const string GpuAcceptance = "GpuAcceptance";

    public static TheoryData<Precision, Layout, double> StepCases() => new()
    {
        { Precision.Float16, Layout.NCHW, 1e-2 }, { Precision.Float16, Layout.NHWC, 1e-2 },
        { Precision.BFloat16, Layout.NCHW, 6e-2 }, { Precision.BFloat16, Layout.NHWC, 6e-2 },
    };

    /// <summary>
    /// One training step of ResNet-20 (1×28×28 input, batch 8) in fp16 or bf16 on both backends from the same
    /// initialisation and batch, then one fused SGD step with the working copy. Both store every activation and
    /// activation gradient in 16 bits and compute in fp32, so they differ by where summation order moves a 16-bit
    /// rounding (one step of 2⁻¹⁰ or 2⁻⁷ here and there, carried through ~20 layers) and by the GPU's 16-bit rounding of
    /// each weight gradient before it is widened (CudaBackend.Precision.cs). Tolerance, as a norm-relative error over all
    /// fp32 weight gradients, the fp32 logits, the loss and the updated weights: 1e-2 for fp16 (10 steps of its 2⁻¹⁰),
    /// 6e-2 for bf16 (8 steps of its 2⁻⁷).
    /// </summary>
    [Theory, MemberData(nameof(StepCases))]
    public void ResNet20_OneMixedStep_MatchesCpu(Precision precision, Layout layout, double tolerance)
    {
        using var gpu = TestBackends.Cuda();
        using var cpu = new CpuBackend();
        const int batch = 8;
        var images = TestData.Normal(1, batch, 1, 28, 28);
        var labels = TestData.Labels(2, batch, 10);

        (float Loss, float[] Logits, float[] Grads, float[] Weights, float[] Working) Step(IBackend b)
        {
            using var model = new Model(ModelZoo.Create("resnet20", 1, 10, 28), b, seed: 7);
            using var plan = model.Compile(batch, training: true, new CrossEntropyLoss(), layout, precision);
            using var opt = new SGD(model.Parameters, 0.1f, 0.9f, 5e-4f);
            b.CopyFromHost<float>(images, plan.Input);
            b.CopyFromHost<int>(labels, plan.Target);
            plan.TrainStep();
            var loss = new float[1];
            b.CopyToHost<float>(plan.LossValue, loss);
            var logits = Host(b, plan.Output);
            var grads = Host(b, model.Parameters.AllGrads);
            opt.Step();
            var working = Host(b, model.Parameters.WorkingCopy!);
            return (loss[0], logits, grads, Host(b, model.Parameters.AllValues), working);
        }

        var c = Step(cpu);
        var g = Step(gpu);
        Assert.True(Math.Abs(g.Loss - c.Loss) <= tolerance * Math.Abs(c.Loss), $"{precision} {layout} loss GPU {g.Loss} vs CPU {c.Loss}");
        AssertNormClose(c.Logits, g.Logits, tolerance, $"{precision} {layout} logits");
        AssertNormClose(c.Grads, g.Grads, tolerance, $"{precision} {layout} weight gradients");
        AssertNormClose(c.Weights, g.Weights, tolerance, $"{precision} {layout} weights after the step");
        // The working copy is the GPU's own weights rounded (the fused step writes both in one pass).
        Assert.Equal(g.Weights.Select(v => ReducedFloat.Round(v, precision.ActivationDType())).ToArray(), g.Working);
    }

    /// <summary>A tensor's values on the host, widened to fp32 when stored in 16 bits.</summary>
    private static float[] Host(IBackend b, Tensor t)
    {
        var a = new float[t.Elements];
        if (t.DType == DType.Float32) { b.CopyToHost<float>(t, a); return a; }
        var raw = new ushort[t.Elements];
        b.CopyToHost<ushort>(t, raw);
        ReducedFloat.Widen(raw, t.DType, a);
        return a;
    }

    private static void AssertNormClose(float[] expected, float[] actual, double tolerance, string what)
    {
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        double rel = Math.Sqrt(num / Math.Max(den, double.Epsilon));
        Assert.True(rel <= tolerance, $"{what}: norm-relative error {rel:G3} > {tolerance}");
    }

    /// <summary>
    /// Issue 4's acceptance test: ResNet-20 on Fashion-MNIST, trained on the GPU for 3 epochs at fp32 and at fp16 (dynamic
    /// loss scaling with GradScaler's defaults, fp32 master weights) from the same seed — SGD with momentum 0.9, Nesterov,
    /// weight decay 5e-4, batch 128, cosine schedule from 0.1 to 0 — and scored on the 10 000 test images. The fp16 run's
    /// test accuracy must reach the fp32 run's within 0.3 points, and fp32 must have learned the task (≥ 88%). It trains
    /// on whatever training set DatasetCatalog finds ($DEEPTRAIN_DATA/fashion-mnist, /usr/share/datasets/fashion-mnist,
    /// ./data/…): the full 60 000 images, or in the device check the subset `./build.sh device-pack` writes (3 000 per
    /// class, 30 000; the test set whole). On that subset the same recipe reached 90.92% at fp32 on the CPU backend
    /// (`deeptrain train --data-dir artifacts/device-pack/datasets/fashion-mnist --epochs 3 --lr 0.1 --schedule cosine
    /// --nesterov --seed 3`, 2026-12-02), so the 88% floor holds with room. Skipped without a GPU or the dataset.
    /// </summary>
    [Fact, Trait("Category", GpuAcceptance)]
    public void Fp16ResNet20_FashionMnist_ReachesFp32AccuracyWithin0_3Points()
    {
        using var b = TestBackends.Cuda();
        Assert.SkipUnless(b.SupportsPrecision(Precision.Float16, out string reason), reason);
        Dataset train, test;
        try
        {
            train = DatasetCatalog.Load("fashion-mnist", null, train: true);
            test = DatasetCatalog.Load("fashion-mnist", null, train: false);
        }
        catch (FileNotFoundException e)
        {
            Assert.Skip($"Fashion-MNIST not found (set DEEPTRAIN_DATA to a folder holding fashion-mnist/): {e.Message}");
            return;
        }
        const int batch = 128, epochs = 3;
        var norm = Normalization.FromDataset(train);

        (double Accuracy, long Skipped) Run(Precision precision)
        {
            using var loader = new DataLoader(train, batch, shuffle: true, norm, null, seed: 3, dropLast: true, workers: 2);
            using var testLoader = new DataLoader(test, 500, shuffle: false, norm, null, seed: 3, dropLast: false, workers: 2);
            using var model = new Model(ModelZoo.Create("resnet20", 1, 10, 28), b, seed: 11);
            using var opt = new SGD(model.Parameters, 0.1f, 0.9f, 5e-4f, nesterov: true);
            long steps = (long)epochs * (train.Count / batch);
            using var trainer = new Trainer(model, opt, new CosineLr(0.1f, steps), new CrossEntropyLoss(), batch, evalBatchSize: 500, seed: 3, precision: precision);
            long skipped = 0;
            for (int e = 0; e < epochs; e++)
            {
                trainer.TrainEpoch(loader, e, cancel: TestContext.Current.CancellationToken);
                skipped += trainer.LastEpochSkippedSteps;
            }
            return (trainer.Evaluate(testLoader).Accuracy, skipped);
        }

        var full = Run(Precision.Float32);
        var half = Run(Precision.Float16);
        string summary = $"fp32 {full.Accuracy:P2}, fp16 {half.Accuracy:P2} ({half.Skipped} steps skipped by the loss scaler) on {b.Description}";
        TestContext.Current.SendDiagnosticMessage(summary);
        Assert.True(full.Accuracy >= 0.88, $"the fp32 run did not learn Fashion-MNIST: {summary}");
        Assert.True(half.Accuracy >= full.Accuracy - 0.003, $"fp16 is more than 0.3 points below fp32: {summary}");
    }

    private const int StaticBatch = 12, StaticSteps = 6;
    private const float StaticScale = 1024f;

    /// <summary>
    /// Six fp16 SGD steps (momentum 0.9) of a small conv net (Conv2d 1→4, 3×3 → ReLU → Linear 64→3) on the seeded blobs,
    /// through the Trainer with <c>--loss-scale static:1024</c> (LossScalerOptions.Static). Returns the fp32 master weights
    /// before and after, the scaler's state, and the number of skipped steps.
    /// </summary>
    private static (float[] Before, float[] After, LossScalerState.Fields State, long Skipped) TrainWithStaticScale(IBackend b)
    {
        var data = TestData.Blobs(StaticBatch * StaticSteps, classStep: 50, sigma: 50, offset: 70);
        var g = new ModelGraph("static-scale-net", Shape.Of(1, 4, 4));
        var x = g.Apply("conv", new Conv2d(1, 4, 3, padding: 1), g.Input);
        x = g.Apply("relu", new ReLU(), x);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(64, 3), x);
        using var model = new Model(g, b, seed: 5);
        using var opt = new SGD(model.Parameters, 0.05f, momentum: 0.9f);
        using var loader = new DataLoader(data, StaticBatch, shuffle: false, Normalization.FromDataset(data), null, seed: 9, dropLast: true, workers: 0);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.05f), new CrossEntropyLoss(), StaticBatch, precision: Precision.Float16);
        trainer.ConfigureLossScaling(LossScalerOptions.Static(StaticScale));
        var before = Host(b, model.Parameters.AllValues);
        trainer.TrainEpoch(loader, 0, cancel: TestContext.Current.CancellationToken);
        return (before, Host(b, model.Parameters.AllValues), trainer.Scaler!.Read(), trainer.LastEpochSkippedSteps);
    }

    /// <summary>The reference run on the CPU: the scale stays, every step is taken and counted, the weights move.</summary>
    [Fact]
    public void StaticLossScale_Fp16Training_OnTheCpu_KeepsTheScale_AndLearns()
    {
        using var cpu = new CpuBackend();
        var c = TrainWithStaticScale(cpu);
        Assert.Equal(new LossScalerState.Fields(StaticScale, StaticSteps, 0, StaticSteps), c.State);
        Assert.Equal(0, c.Skipped);
        AssertMoved(c.Before, c.After, "CPU");
    }

    /// <summary>
    /// Issue 9: the same run on CudaBackend. dt_update_scale used to refuse growth 1 and backoff 1, so the first fp16 step
    /// with a static scale threw. Now the scale stays 1024, the state equals the CPU's field for field, the weights move,
    /// and they match the CPU's within 1e-2 norm-relative (fp16's tolerance of <see cref="ResNet20_OneMixedStep_MatchesCpu"/>:
    /// both store activations in fp16 and compute in fp32, differing where summation order moves a 16-bit rounding).
    /// </summary>
    [Fact]
    public void StaticLossScale_Fp16Training_OnTheGpu_KeepsTheScale_AndMatchesCpu()
    {
        using var gpu = TestBackends.Cuda();
        Assert.SkipUnless(gpu.SupportsPrecision(Precision.Float16, out string reason), reason);
        using var cpu = new CpuBackend();
        var c = TrainWithStaticScale(cpu);
        var r = TrainWithStaticScale(gpu);
        Assert.Equal(c.Before, r.Before);   // the same initialisation
        Assert.Equal(new LossScalerState.Fields(StaticScale, StaticSteps, 0, StaticSteps), r.State);
        Assert.Equal(0, r.Skipped);
        AssertMoved(r.Before, r.After, "GPU");
        AssertNormClose(c.After, r.After, 1e-2, "fp16 weights after six steps with a static loss scale");
    }

    private static void AssertMoved(float[] before, float[] after, string what)
    {
        double moved = 0, size = 0;
        for (int i = 0; i < before.Length; i++) { moved += Math.Pow((double)after[i] - before[i], 2); size += (double)before[i] * before[i]; }
        Assert.True(moved > 1e-6 * size, $"{what}: the weights did not move (‖Δw‖² = {moved:G3}, ‖w‖² = {size:G3})");
    }
}

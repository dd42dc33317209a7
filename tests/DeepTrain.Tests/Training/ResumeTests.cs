using DeepTrain.Backends.Cpu;
using DeepTrain.Checkpoints;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>Save, resume, and the weights match an uninterrupted run bit for bit.</summary>
public class ResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deeptrain-resume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private float[] Run(string optimizer, int epochs, string? saveAfter1 = null, string? resumeFrom = null, Precision precision = Precision.Float32)
    {
        var data = TestData.TinyImages(64);
        using var backend = new CpuBackend();
        using var model = new Model(TestNets.Stateful(), backend, seed: 2);
        using Optimizer opt = optimizer == "sgd" ? new SGD(model.Parameters, 0.05f, 0.9f, 1e-3f) : new AdamW(model.Parameters, 0.01f);
        using var loader = new DataLoader(data, 16, shuffle: true, Normalization.FromDataset(data), AugmentationOptions.Standard, seed: 4, dropLast: true, workers: 1);
        var sched = new OneCycleLr(0.05f, 4L * epochs);
        using var trainer = new Trainer(model, opt, sched, new CrossEntropyLoss(), 16, seed: 4, precision: precision);
        // A small growth interval, so the scale moves within the run and the resumed run must restore it to agree.
        if (precision == Precision.Float16) trainer.ConfigureLossScaling(new LossScalerOptions(InitScale: 1024f, GrowthInterval: 3));
        int start = resumeFrom is null ? 0 : TrainingState.Load(resumeFrom, model, opt, trainer);
        for (int e = start; e < epochs; e++)
        {
            trainer.TrainEpoch(loader, e);
            if (saveAfter1 is not null && e == 0) { TrainingState.Save(saveAfter1, model, opt, trainer, e + 1); break; }
        }
        var result = model.Parameters.AllValues.ToArray().Concat(model.Parameters.Buffers.SelectMany(b => b.Value.ToArray()));
        if (trainer.Scaler is { } scaler) result = result.Append(scaler.Read().Scale).Append(scaler.Read().StepCount);
        return result.ToArray();
    }

    [Theory]
    [InlineData("sgd", Precision.Float16)]
    [InlineData("adamw", Precision.Float16)]
    [InlineData("adamw", Precision.BFloat16)]
    public void ResumedMixedPrecisionRun_EqualsUninterruptedRun_BitForBit(string optimizer, Precision precision)
    {
        var straight = Run(optimizer, 3, precision: precision);
        Run(optimizer, 3, saveAfter1: _dir, precision: precision);
        var resumed = Run(optimizer, 3, resumeFrom: _dir, precision: precision);
        Assert.Equal(straight, resumed);
        // The fp16 run's scale grew (interval 3, 12 steps): what was compared includes a scale that moved.
        if (precision == Precision.Float16) Assert.True(straight[^2] > 1024f, $"scale {straight[^2]}");
    }

    [Fact]
    public void ResumingAtAnotherPrecision_SaysWhich()
    {
        Run("sgd", 2, saveAfter1: _dir, precision: Precision.Float16);
        var e = Assert.Throws<CheckpointMismatchException>(() => Run("sgd", 2, resumeFrom: _dir));
        Assert.Contains("FitOptions.Precision = fp16", e.Message);
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    public void ResumedRun_EqualsUninterruptedRun_BitForBit(string optimizer)
    {
        var straight = Run(optimizer, 3);
        Run(optimizer, 3, saveAfter1: _dir);
        var resumed = Run(optimizer, 3, resumeFrom: _dir);
        Assert.Equal(straight, resumed);
    }

    [Fact]
    public void ResumingWithAnotherOptimizer_SaysWhich()
    {
        Run("sgd", 2, saveAfter1: _dir);
        var e = Assert.Throws<CheckpointMismatchException>(() => Run("adamw", 2, resumeFrom: _dir));
        Assert.Contains("optimizer SGD, not AdamW", e.Message);
    }
}

using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>Precise batch-norm statistics: the running statistics become the plain average of the batch statistics.</summary>
public class PreciseBatchNormTests
{
    [Fact]
    public void RunningStatistics_AreTheAverageOfTheBatchStatistics()
    {
        const int n = 48, batch = 8;
        var rng = new DeepTrain.Utils.Rng(1);
        var pixels = new byte[n * 4];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)rng.NextInt(256);
        var data = new Dataset("d", 1, 2, 2, 2, pixels, Enumerable.Range(0, n).Select(i => i % 2).ToArray());
        var g = new ModelGraph("bn-first", Shape.Of(1, 2, 2));
        var x = g.Apply("bn", BatchNorm2d.Create(1), g.Input);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(4, 2), x);
        using var backend = new CpuBackend();
        using var model = new Model(g, backend);
        using var opt = new SGD(model.Parameters, 0.1f);
        var norm = new Normalization([0f], [1f / 255f]);   // x = pixel value: easy to check by hand
        using var loader = new DataLoader(data, batch, shuffle: false, norm, null, seed: 0, dropLast: true, workers: 0);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), batch);

        Assert.Equal(4, trainer.RecomputeBatchNormStatistics(loader, 4));

        // By hand: per batch of 8 images × 4 pixels, the mean and the unbiased variance; then their averages.
        double meanSum = 0, varSum = 0;
        for (int b = 0; b < 4; b++)
        {
            var v = pixels.Skip(b * batch * 4).Take(batch * 4).Select(p => (double)p).ToArray();
            double m = v.Average();
            meanSum += m;
            varSum += v.Sum(t => (t - m) * (t - m)) / (v.Length - 1);
        }
        var stats = model.Parameters.Buffers;
        Tolerance.AssertClose([meanSum / 4], stats.Single(s => s.Name == "bn.running_mean").Value.ToArray(), 1e-3, 1e-5, "running_mean");
        Tolerance.AssertClose([varSum / 4], stats.Single(s => s.Name == "bn.running_var").Value.ToArray(), 1e-2, 1e-5, "running_var");
        Assert.Equal(0.1, ((BatchNorm)g.Nodes[0].Layer).Momentum);   // the layer's own momentum is restored
    }
}

/// <summary>Cumulative batch-norm statistics (PyTorch's momentum=None): the average of every training batch's statistics.</summary>
public class CumulativeBatchNormTests
{
    [Fact]
    public void AfterAnEpoch_RunningStatistics_AreTheAverageOfEveryBatch()
    {
        const int n = 40, batch = 8;
        var rng = new DeepTrain.Utils.Rng(2);
        var pixels = new byte[n * 4];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)rng.NextInt(256);
        var data = new Dataset("d", 1, 2, 2, 2, pixels, Enumerable.Range(0, n).Select(i => i % 2).ToArray());
        var g = new ModelGraph("bn-first", Shape.Of(1, 2, 2));
        var x = g.Apply("bn", BatchNorm2d.Create(1), g.Input);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(4, 2), x);
        using var backend = new CpuBackend();
        using var model = new Model(g, backend);
        using var opt = new SGD(model.Parameters, 0.1f);
        var norm = new Normalization([0f], [1f / 255f]);
        using var loader = new DataLoader(data, batch, shuffle: false, norm, null, seed: 0, dropLast: true, workers: 0);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), batch, accumulationSteps: 2) { CumulativeBatchNorm = true };
        trainer.TrainEpoch(loader, 0, cancel: TestContext.Current.CancellationToken);

        // 5 batches of 8, each two micro-batches of 4 images × 4 pixels: 10 batch statistics, averaged with equal weight.
        double meanSum = 0, varSum = 0;
        for (int b = 0; b < 10; b++)
        {
            var v = pixels.Skip(b * 16).Take(16).Select(p => (double)p).ToArray();
            double m = v.Average();
            meanSum += m;
            varSum += v.Sum(t => (t - m) * (t - m)) / (v.Length - 1);
        }
        var stats = model.Parameters.Buffers;
        Tolerance.AssertClose([meanSum / 10], stats.Single(s => s.Name == "bn.running_mean").Value.ToArray(), 1e-3, 1e-5, "running_mean");
        Tolerance.AssertClose([varSum / 10], stats.Single(s => s.Name == "bn.running_var").Value.ToArray(), 1e-2, 1e-5, "running_var");
    }
}

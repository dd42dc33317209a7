using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>
/// The trainer feeds the data as it comes (fp32, NCHW) whatever the plan runs in: an NHWC plan converts it, and
/// an evaluation batch smaller than the loader's batch still sees every row.
/// </summary>
public class TrainerLayoutTests
{
    private static Dataset Rgb(int n)
    {
        var rng = new DeepTrain.Utils.Rng(7);
        var pixels = new byte[n * 3 * 8 * 8];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)rng.NextInt(256);
        return new Dataset("rgb", 3, 8, 8, 4, pixels, Enumerable.Range(0, n).Select(i => i % 4).ToArray());
    }

    private static (double Loss, double Acc, float[] Weights) TrainOneEpoch(Layout layout, int evalBatch, int loaderBatch)
    {
        var data = Rgb(32);
        using var backend = new CpuBackend();
        using var model = new Model(ResNetCifar.Build(8, 3, 4, 8), backend, seed: 3);
        using var opt = new SGD(model.Parameters, 0.05f, 0.9f);
        var norm = Normalization.FromDataset(data);
        using var train = new DataLoader(data, 8, shuffle: true, norm, null, seed: 1, workers: 0);
        using var test = new DataLoader(data, loaderBatch, shuffle: false, norm, null, seed: 0, workers: 0);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.05f), new CrossEntropyLoss(), 8, evalBatch, layout);
        trainer.TrainEpoch(train, 0);
        var (loss, acc) = trainer.Evaluate(test);
        return (loss, acc, model.Parameters.AllValues.ToArray());
    }

    /// <summary>
    /// RGB images through an NHWC plan train like the NCHW plan (same arithmetic up to summation order): before
    /// the plan converted its input, NCHW pixels were read as NHWC and the runs parted at the first step.
    /// </summary>
    [Fact]
    public void NhwcPlan_TrainsOnNchwData_LikeTheNchwPlan()
    {
        var nchw = TrainOneEpoch(Layout.NCHW, 32, 32);
        var nhwc = TrainOneEpoch(Layout.NHWC, 32, 32);
        Assert.Equal(nchw.Loss, nhwc.Loss, 1e-3);
        Assert.Equal(nchw.Acc, nhwc.Acc, 1e-9);
        double maxDiff = nchw.Weights.Zip(nhwc.Weights, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff < 1e-3, $"weights differ by up to {maxDiff}");
    }

    /// <summary>A loader batch of 32 evaluated 12 rows at a time (12, 12, 8) gives the figures of one batch of 32.</summary>
    [Fact]
    public void Evaluate_LoaderBatchLargerThanEvalBatch_CoversEveryRow()
    {
        var whole = TrainOneEpoch(Layout.NCHW, 32, 32);
        var chunked = TrainOneEpoch(Layout.NCHW, 12, 32);
        Assert.Equal(whole.Loss, chunked.Loss, 1e-5);
        Assert.Equal(whole.Acc, chunked.Acc, 1e-9);
    }
}

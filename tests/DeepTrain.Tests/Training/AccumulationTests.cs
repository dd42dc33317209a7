using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>Gradient accumulation (Caffe's iter_size): k micro-batches equal one large batch for a model without batch norm.</summary>
public class AccumulationTests
{
    private static Dataset Blobs(int n) => TestData.Blobs(n);

    private static float[] TrainOneEpoch(int accumulation)
    {
        var data = Blobs(96);
        using var backend = new CpuBackend();
        using var model = new Model(SmallNets.Mlp(Shape.Of(1, 4, 4), 3, 8), backend, seed: 5);
        using var opt = new SGD(model.Parameters, 0.1f, momentum: 0.9f, weightDecay: 1e-3f);
        using var loader = new DataLoader(data, 24, shuffle: true, Normalization.FromDataset(data), null, seed: 9, dropLast: true, workers: 0);
        using var trainer = new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), 24, accumulationSteps: accumulation);
        trainer.TrainEpoch(loader, 0);
        return model.Parameters.AllValues.ToArray();
    }

    [Fact]
    public void FourMicroBatches_EqualOneBatch()
    {
        var whole = TrainOneEpoch(1);
        // Same sums in another order and with a 1/4 factor per part: fp32 rounding only.
        Tolerance.AssertClose(whole, TrainOneEpoch(4), atol: 1e-6, rtol: 1e-5, "parameters after 4 steps");
        Tolerance.AssertClose(whole, TrainOneEpoch(3), atol: 1e-6, rtol: 1e-5, "parameters after 4 steps (k = 3)");
    }

    [Fact]
    public void AccumulationThatDoesNotDivideTheBatch_IsRejectedWithTheValidValues()
    {
        using var backend = new CpuBackend();
        using var model = new Model(SmallNets.Mlp(Shape.Of(1, 4, 4), 3, 8), backend);
        using var opt = new SGD(model.Parameters, 0.1f);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(model, opt, new ConstantLr(0.1f), new CrossEntropyLoss(), 24, accumulationSteps: 5));
        Assert.Contains("1, 2, 3, 4, 6, 8, 12, 24", e.Message);
    }
}

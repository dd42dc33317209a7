using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Mixed;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary><see cref="Trainer.StepLoadedBatch"/>, the step `deeptrain bench` times: the same step as <see cref="Trainer.TrainEpoch"/>.</summary>
public class StepLoadedBatchTests
{
    private static Dataset Blobs(int n) => TestData.Blobs(n);

    [Theory]
    [InlineData(Precision.Float32)]
    [InlineData(Precision.Float16)]   // the loss scaler's unscale and update run too
    [InlineData(Precision.BFloat16)]
    public void TwoSteps_OnTheLoadedBatch_EqualTwoOneBatchEpochs_BitForBit(Precision precision)
    {
        var data = Blobs(24);
        float[] images;
        int[] labels;
        using (var once = new DataLoader(data, 24, shuffle: false, Normalization.FromDataset(data), null, seed: 9, dropLast: true, workers: 0))
        {
            var batch = once.Epoch(0).Single();
            (images, labels) = (batch.Images[..(24 * 16)], batch.Labels[..24]);
        }

        (float[] Initial, float[] Weights, float[] State, LossScalerState.Fields? Scaler) Run(bool epochs)
        {
            using var backend = new CpuBackend();
            using var model = new Model(SmallNets.Mlp(Shape.Of(1, 4, 4), 3, 8), backend, seed: 5);
            using var opt = new AdamW(model.Parameters, 1e-2f);
            using var loader = new DataLoader(data, 24, shuffle: false, Normalization.FromDataset(data), null, seed: 9, dropLast: true, workers: 0);
            using var trainer = new Trainer(model, opt, new ConstantLr(1e-2f), new CrossEntropyLoss(), 24, precision: precision);
            var initial = model.Parameters.AllValues.ToArray();
            Assert.Equal(precision == Precision.Float16, trainer.Scaler is not null);
            if (epochs)
            {
                trainer.TrainEpoch(loader, 0);
                trainer.TrainEpoch(loader, 1);
            }
            else
            {
                backend.CopyFromHost<float>(images, trainer.TrainPlan.Input);
                backend.CopyFromHost<int>(labels, trainer.TrainPlan.Target);
                trainer.StepLoadedBatch();
                trainer.StepLoadedBatch();
            }
            Assert.Equal(2, trainer.GlobalStep);
            return (initial, model.Parameters.AllValues.ToArray(), opt.State.SelectMany(s => s.Value.AsSpan<float>().ToArray()).ToArray(), trainer.Scaler?.Read());
        }

        var byEpochs = Run(epochs: true);
        var loaded = Run(epochs: false);
        Assert.NotEqual(loaded.Initial, loaded.Weights);
        Assert.Equal(byEpochs.Weights, loaded.Weights);
        Assert.Equal(byEpochs.State, loaded.State);
        Assert.Equal(byEpochs.Scaler, loaded.Scaler);
    }
}

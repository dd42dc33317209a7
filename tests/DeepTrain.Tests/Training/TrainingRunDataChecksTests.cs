using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Optim;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>
/// A run that cannot succeed fails when it is set up, naming the data set, instead of after an epoch: an empty training
/// or test set used to train and then fail writing an infinite loss (or say "ValidationSamples must be in [0, -1]"),
/// and a test set of another image size was evaluated anyway at the plan's stride (issue 13, items 3 and 4).
/// </summary>
public class TrainingRunDataChecksTests
{
    private static FitOptions Options() => new()
    {
        Epochs = 1, BatchSize = 16, EvalBatchSize = 16, Seed = 4,
        Optimizer = new OptimizerOptions("sgd", 0.05f, 0.9f, 1e-3f), Schedule = new ScheduleOptions("constant"),
    };

    private static InvalidDatasetException Refused(Dataset train, Dataset test)
    {
        using var backend = new CpuBackend();
        return Assert.Throws<InvalidDatasetException>(() => new TrainingRun(TestNets.Stateful(), train, test, backend, Options()));
    }

    [Fact]
    public void EmptyTrainingSet_IsRefusedNamingIt()
    {
        var empty = new Dataset("tiny-empty", 1, 8, 8, 4, [], []);
        Assert.Equal("training set 'tiny-empty' has no images; expected at least one", Refused(empty, TestData.TinyImages(32, 12)).Message);
    }

    [Fact]
    public void EmptyTestSet_IsRefusedNamingIt()
    {
        var empty = new Dataset("tiny-test", 1, 8, 8, 4, [], []);
        Assert.Equal("test set 'tiny-test' has no images; expected at least one", Refused(TestData.TinyImages(64, 11), empty).Message);
    }

    [Fact]
    public void TestSetOfAnotherImageSize_IsRefusedNamingBothShapes()
    {
        var test = new Dataset("wide", 1, 8, 10, 4, new byte[4 * 80], [0, 1, 2, 3]);
        Assert.Equal("test set 'wide' has images of 1×8×10, but training set 'tiny' has 1×8×8; expected the same shape",
            Refused(TestData.TinyImages(64, 11), test).Message);
    }
}

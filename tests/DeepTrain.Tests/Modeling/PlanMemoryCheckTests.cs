using DeepTrain.Backends.Cpu;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Zoo;
using DeepTrain.Tests.Cli;
using Xunit;

namespace DeepTrain.Tests.Modeling;

/// <summary>
/// A plan larger than the memory left is refused by <see cref="Model.Compile"/> before anything is allocated,
/// with the batch size and both figures; it was an OutOfMemoryException from the allocator (issue 13, items 3 and 6).
/// </summary>
public class PlanMemoryCheckTests
{
    [Fact]
    public void AbsurdBatch_IsRefusedWithBothFigures_BeforeAllocating()
    {
        using var backend = new CpuBackend();
        using var model = new Model(ModelZoo.Create("lenet5"), backend);
        long before = backend.LiveBytes;
        var e = Assert.Throws<InsufficientMemoryForPlanException>(() => model.Compile(100_000_000, training: true, new CrossEntropyLoss()));
        Assert.Equal(before, backend.LiveBytes);
        Assert.Equal(100_000_000, e.BatchSize);
        Assert.True(e.PlannedBytes > e.AvailableBytes);
        Assert.Contains("at batch size 100000000 (training, fp32)", e.Message);
        Assert.Contains($"({e.PlannedBytes} bytes:", e.Message);
        Assert.Contains($"({e.AvailableBytes} bytes) available", e.Message);
        Assert.Contains("'conv1'", e.Message);
        Assert.DoesNotContain("--", e.Message);   // the library speaks the API; the CLI names its flags
    }

    [Fact]
    public void OrdinaryBatch_Compiles()
    {
        using var backend = new CpuBackend();
        using var model = new Model(ModelZoo.Create("lenet5"), backend);
        using var plan = model.Compile(64, training: true, new CrossEntropyLoss());
        Assert.True(backend.AvailableMemoryBytes > 0);
    }
}

/// <summary>The same through the command line: one error line, exit code 1.</summary>
[Collection(nameof(ConsoleCollection))]
public class PlanMemoryCheckCliTests
{
    [Fact]
    public void Bench_WithAnAbsurdBatch_IsOneErrorLine()
    {
        var (code, output, err) = CliRunner.Run("bench", "--model", "lenet5", "--batch-size", "100000000", "--steps", "1", "--warmup", "0");
        Assert.Equal(1, code);
        Assert.StartsWith("error: model 'lenet5' at batch size 100000000 (training, fp32) plans ", err);
        Assert.Contains("available; expected the plan to fit", err);
        Assert.DoesNotContain("   at ", output + err);
    }
}

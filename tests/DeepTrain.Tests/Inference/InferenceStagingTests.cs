using Xunit;
using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using DeepTrain.Inference;
using DeepTrain.Mixed;
using DeepTrain.Modeling;
using DeepTrain.Tensors;
using DeepTrain.Zoo;
using static DeepTrain.Tests.Inference.InferenceFixtures;

namespace DeepTrain.Tests.Inference;

/// <summary>
/// The sizing and layout of a GPU execution context's pinned staging, which need no GPU; the copies through it are
/// <c>Cuda/CudaInferenceSessionTests</c>.
/// </summary>
public sealed class InferenceStagingTests
{
    [Theory]
    [InlineData(Layout.NCHW, Precision.Float32)]
    [InlineData(Layout.NHWC, Precision.Float16)]
    public void StagingBytes_AreTheLargestPlansHostInputAndFp32Logits(Layout layout, Precision precision)
    {
        var graph = ModelZoo.Create(Spec);
        int[] sizes = [1, 8, 16];
        var memories = sizes.Select(n => Planner.Build(graph, n, training: false, layout, precision)).ToArray();
        var (input, output) = InferenceContext.StagingBytesFor(graph, memories);
        Assert.Equal(16L * Sample * sizeof(float), input);     // (16, 1, 8, 8) fp32, as the caller passes it
        Assert.Equal(16L * Classes * sizeof(float), output);   // (16, 4) fp32 logits at every precision
        // The order of the plan sizes does not matter: the largest of each.
        Assert.Equal((input, output), InferenceContext.StagingBytesFor(graph, memories.Reverse().ToArray()));
        if (layout != Layout.NCHW)
            // Not the plan's device input, which also holds the converted NHWC 16-bit copy.
            Assert.True(memories[^1].InputBytes > input, $"device input {memories[^1].InputBytes} vs staged {input}");
    }

    [Theory]
    [InlineData(0, 0, 0, 1)]
    [InlineData(1, 0, 256, 256)]
    [InlineData(256, 16, 256, 272)]
    [InlineData(4096, 256, 4096, 4352)]
    [InlineData(4097, 64, 4352, 4416)]
    public void StagingLayout_StartsTheOutputRegionAligned(long inputBytes, long outputBytes, long outputOffset, long total)
    {
        Assert.Equal(outputOffset, CudaStaging.OutputOffset(inputBytes));
        Assert.Equal(0, CudaStaging.OutputOffset(inputBytes) % CudaStaging.Alignment);
        Assert.Equal(total, CudaStaging.BytesFor(inputBytes, outputBytes));
    }

    [Fact]
    public void MemoryReport_StatesThePinnedStagingOfAGpuContext()
    {
        var graph = ModelZoo.Create(Spec);
        var report = InferenceMemoryReport.For(graph, new InferenceSessionOptions { MaxBatchSize = 16, MaxConcurrency = 2 });
        Assert.Equal(CudaStaging.BytesFor(16L * Sample * 4, 16L * Classes * 4), report.CudaStagingBytes);
        // Host memory: the device bound does not count it.
        Assert.Equal(report.Weights + report.WorkingCopy + report.PreparedWeights + 2 * report.ContextBytes, report.Total);
    }

    [Fact]
    public void CpuContext_StagesNothing()
    {
        using var b = new CpuBackend();
        using var model = Model(b);
        using var context = new InferenceContext(model, [1, 8], Layout.NCHW, Precision.Float32, ownBackend: null);
        Assert.Equal(0, context.StagingBytes);
        var x = Inputs(2, 3);
        var y = new float[3 * Classes];
        context.Run(x, 3, y);
        Assert.Contains(y, v => v != 0);
    }
}

using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using DeepTrain.Inference;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;
using static DeepTrain.Tests.Inference.InferenceFixtures;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// Inference sessions on the GPU: every execution context has its own backend (stream) and pinned staging, and gives the CPU
/// session's logits; a run allocates no managed memory. Skipped, saying why, where no CUDA backend can be made.
/// </summary>
public sealed class CudaInferenceSessionTests
{
    // fp32 with TF32 off: cuDNN's algorithms sum in another order than the CPU's kernels.
    private const double Atol = 1e-4, Rtol = 1e-4;

    /// <summary>Skips unless a CUDA backend can be made (the session makes its own).</summary>
    private static void RequireCuda() => TestBackends.Cuda().Dispose();

    private static InferenceSessionOptions Options(Device device, int concurrency = 2) =>
        new() { Device = device, MaxBatchSize = 8, PlanBatchSizes = [1, 8], MaxConcurrency = concurrency };

    [Fact]
    public void GpuSession_GivesTheCpuSessionsLogits_FromManyThreads()
    {
        RequireCuda();
        string path = Checkpoint();
        using var cpu = InferenceSession.Load(path, Options(Device.Cpu));
        using var gpu = InferenceSession.Load(path, Options(Device.Cuda(0), concurrency: 4));
        var inputs = Enumerable.Range(0, 12).Select(i => Inputs(200 + i, 1 + i % 8)).ToArray();
        var expected = inputs.Select(x => { var y = new float[x.Length / Sample * Classes]; cpu.Run(x, y); return y; }).ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, t =>
        {
            for (int round = 0; round < 3; round++)
                for (int i = t % inputs.Length; i < inputs.Length; i += 8)
                {
                    // A longer output span: the rows past the request keep their values.
                    var y = Enumerable.Repeat(-7f, 8 * Classes).ToArray();
                    gpu.Run(inputs[i], y);
                    int n = expected[i].Length;
                    try { Tolerance.AssertClose(expected[i], y.AsSpan(0, n), Atol, Rtol, $"request {i} ({n / Classes} samples)"); }
                    catch (Exception e) { failures.Add(e.Message); }
                    if (y.AsSpan(n).ToArray().Any(v => v != -7f)) failures.Add($"request {i}: rows past the request were written");
                }
        });
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(5)));
    }

    [Fact]
    public void GpuContext_OwnsPinnedStagingForItsLargestPlan_AndRunsThroughIt()
    {
        using var backend = TestBackends.Cuda();
        string path = Checkpoint();
        var info = CheckpointInfo.Read(path);
        using var cpuBackend = new CpuBackend();
        using var cpuModel = info.CreateForwardOnlyModel(cpuBackend);
        using var gpuModel = info.CreateForwardOnlyModel(backend);
        backend.Synchronize();   // the weights are on the device before another stream reads them (as the session does)
        using var reference = new InferenceContext(cpuModel, [1, 8], Layout.NCHW, Precision.Float32, ownBackend: null);
        using var context = new InferenceContext(gpuModel, [1, 8], Layout.NCHW, Precision.Float32, () => new CudaBackend());
        Assert.Equal(CudaStaging.BytesFor(8L * Sample * 4, 8L * Classes * 4), context.StagingBytes);
        foreach (int rows in new[] { 1, 3, 8 })
        {
            var x = Inputs(rows, rows);
            var expected = new float[rows * Classes];
            var y = new float[rows * Classes];
            reference.Run(x, rows, expected);
            context.Run(x, rows, y);
            Tolerance.AssertClose(expected, y, Atol, Rtol, $"{rows} rows through the staging");
        }
    }

    [Fact]
    public void Staging_RoundTripsTheBits_AndRefusesATensorLargerThanItsRegion()
    {
        using var backend = TestBackends.Cuda();
        using var scope = new TensorScope(backend);
        using var staging = new CudaStaging(backend, inputBytes: 6 * 4, outputBytes: 6 * 4);
        var t = scope.Zeros(Shape.Of(2, 3));
        float[] x = [1f, -2.5f, float.Epsilon, 3e38f, -0f, 0.1f];
        var y = new float[6];
        staging.Stage(x, t);
        staging.Fetch(t, y);
        Assert.Equal(x.Select(BitConverter.SingleToInt32Bits), y.Select(BitConverter.SingleToInt32Bits));

        var big = scope.Zeros(Shape.Of(2, 4));
        var e = Assert.Throws<ArgumentException>(() => staging.Stage(new float[8], big));
        Assert.Contains("does not fit the input region of 24 bytes", e.Message);
        e = Assert.Throws<ArgumentException>(() => staging.Fetch(t, new float[5]));
        Assert.Contains("5 host values for a tensor of", e.Message);
    }

    [Fact]
    public void GpuRun_AfterWarmUp_AllocatesNoManagedBytes()
    {
        RequireCuda();
        using var session = InferenceSession.Load(Checkpoint(), Options(Device.Cuda(0)) with { Output = InferenceOutput.Probabilities });
        var x = Inputs(3, 5);
        Assert.Equal(0, AllocatedPerRun(session, x, new float[5 * Classes]));
    }
}

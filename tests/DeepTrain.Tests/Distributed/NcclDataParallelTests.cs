using DeepTrain.Interop;
using DeepTrain.Interop.Tests;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// Data parallelism on GPUs: <c>mpirun -n 2</c> of the rank program's <c>equal-sgd-cuda</c> (one rank per GPU, gradients
/// over NCCL, the same check as on the CPU). It needs Open MPI, two CUDA devices and NCCL (NVIDIA's pip wheel or a CUDA
/// install); it skips here, saying which is missing, and is meant for a multi-GPU device check (one GPU cannot hold two
/// NCCL ranks: NCCL refuses a duplicate device).
/// </summary>
public sealed class NcclDataParallelTests(ITestOutputHelper output)
{
    private static string? SkipReason()
    {
        if (MpiTools.SkipReason is string mpi) return mpi;
        var cuda = CudaAvailability.Probe();
        if (!cuda.IsAvailable) return $"no usable CUDA: {cuda.Reason}";
        if (cuda.Versions.DeviceCount < 2) return $"{cuda.Versions.DeviceCount} CUDA device(s): two ranks over NCCL need two GPUs";
        if (!NativeLibraryResolver.TryLoad(Libraries.Nccl, out string why)) return $"NCCL does not load: {why}";
        return null;
    }

    [Fact]
    public void TwoGpus_TrainAsOneProcessWithTheGlobalBatch()
    {
        if (SkipReason() is string why) Assert.Skip(why);
        string exe = Path.Combine(AppContext.BaseDirectory, "DeepTrain.DistributedRanks");
        var r = MpiTools.MpiRun(2, exe, ["equal-sgd-cuda"], TimeSpan.FromSeconds(180));
        output.WriteLine($"{r.StdOut}\n{r.StdErr}");
        Assert.False(r.TimedOut, "mpirun did not end in time");
        Assert.DoesNotContain("FAIL", r.StdOut, StringComparison.Ordinal);
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}:\n{r.StdOut}\n{r.StdErr}");
        for (int rank = 0; rank < 2; rank++) Assert.Contains($"rank {rank}: done", r.StdOut, StringComparison.Ordinal);
    }
}

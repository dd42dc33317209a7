namespace DeepTrain.Interop.Tests;

/// <summary>
/// Real two-rank runs: <c>mpirun -n 2</c> of tests/DeepTrain.MpiRanks (built beside this assembly), asserting what each
/// rank printed and how the job ended. Each run is bounded (<see cref="Limit"/>): a hang fails the test instead of
/// stalling CI. Skips, saying why, only where Open MPI is not installed.
/// </summary>
public sealed class MpiRankTests(ITestOutputHelper output)
{
    // Each run takes about 2 s here; the limit only turns a hang into a failure.
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private static string RankProgram()
    {
        string exe = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "DeepTrain.MpiRanks.exe" : "DeepTrain.MpiRanks");
        Assert.True(File.Exists(exe), $"{exe} is missing: the test project references tests/DeepTrain.MpiRanks, which builds it");
        return exe;
    }

    private (int ExitCode, string StdOut, string StdErr) Run(string mode)
    {
        if (MpiTools.SkipReason is string why) Assert.Skip(why);
        var r = MpiTools.MpiRun(2, RankProgram(), [mode], Limit);
        output.WriteLine($"mpirun -n 2 DeepTrain.MpiRanks {mode}: exit {r.ExitCode} after {r.Elapsed.TotalSeconds:F1} s");
        output.WriteLine("stdout:\n" + r.StdOut);
        output.WriteLine("stderr:\n" + r.StdErr);
        Assert.False(r.TimedOut, $"mpirun -n 2 ... {mode} did not end within {Limit.TotalSeconds} s and was killed:\n{r.StdOut}\n{r.StdErr}");
        return (r.ExitCode, r.StdOut, r.StdErr);
    }

    [Fact]
    public void TwoRanks_CollectivesGiveExactResults()
    {
        var (code, stdout, stderr) = Run("collectives");
        string[] checks = ["size", "thread level", "local rank", "broadcast float", "broadcast bytes", "allreduce sum",
            "iallreduce test", "iallreduce sum", "iallreduce wait", "allreduce int max", "error is typed"];
        Assert.DoesNotContain("FAIL", stdout, StringComparison.Ordinal);
        foreach (int rank in (int[])[0, 1])
        {
            foreach (string check in checks) Assert.Contains($"rank {rank}: ok {check}\n", stdout, StringComparison.Ordinal);
            Assert.Contains($"rank {rank}: done", stdout, StringComparison.Ordinal);
            Assert.Contains($"rank {rank}: MpiException: MPI_Bcast(", stdout, StringComparison.Ordinal);
        }
        Assert.True(code == 0, $"mpirun exited with {code}:\n{stderr}");
    }

    [Fact]
    public void TwoRanks_AbortFromOneRankEndsTheOther()
    {
        var (code, stdout, stderr) = Run("abort");
        // Both ranks were up before rank 1 aborted; rank 0 never got past the barrier rank 1 left.
        Assert.Contains("rank 0: started, size 2", stdout, StringComparison.Ordinal);
        Assert.Contains("rank 1: started, size 2", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL", stdout, StringComparison.Ordinal);
        Assert.Equal(3, code);   // mpirun exits with the code given to MPI_Abort
        string all = stdout + stderr;
        // Ours names the rank and the cause. mpirun's own "MPI_ABORT was invoked on rank 1" is relayed through its
        // help-message channel, which Open MPI 4.1 sometimes loses when the aborting rank exits at once ("ORTE_ERROR_LOG:
        // Data unpack would read past end of buffer ... show_help.c"): only ours is required.
        Assert.Contains("rank 1 of 2 aborts the job: test abort from rank 1", all, StringComparison.Ordinal);
    }
}

using DeepTrain.Interop.Tests;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// Two real ranks: <c>mpirun -n 2</c> of tests/DeepTrain.DistributedRanks (built beside this assembly) on this machine
/// (shared memory, the launcher on loopback), asserting what each rank prints. A 90 s limit turns a hang into a failure.
/// Skips, saying why, only where Open MPI is not installed (<c>./build.sh test</c> installs it).
/// </summary>
public sealed class DataParallelRankTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    private (int ExitCode, string StdOut, string StdErr) Ranks(string mode)
    {
        if (MpiTools.SkipReason is string why) Assert.Skip(why);
        string exe = Path.Combine(AppContext.BaseDirectory, "DeepTrain.DistributedRanks");
        Assert.True(File.Exists(exe), $"{exe} is missing: the test project references tests/DeepTrain.DistributedRanks, which builds it");
        var r = MpiTools.MpiRun(2, exe, [mode], Limit);
        output.WriteLine($"mpirun -n 2 DeepTrain.DistributedRanks {mode}: exit {r.ExitCode} after {r.Elapsed.TotalSeconds:F1} s");
        output.WriteLine(r.StdOut);
        output.WriteLine(r.StdErr);
        Assert.False(r.TimedOut, $"mpirun -n 2 ... {mode} did not end within {Limit.TotalSeconds} s and was killed:\n{r.StdOut}\n{r.StdErr}");
        return (r.ExitCode, r.StdOut, r.StdErr);
    }

    /// <summary>equal-sgd / equal-adamw: 20 steps of 2 ranks x batch 16 vs 1 process x batch 32 (tolerance in Ranks.Equal);
    /// collectives: known sums, maximum, host counts, found-inf (one rank overflows, both skip); overlap: the bucket hook;
    /// sync-bn: ResNet-20 with sync batch norm against one process with the global batch (tolerances in Ranks.SyncBatchNorm).</summary>
    [Theory]
    [InlineData("equal-sgd")]
    [InlineData("equal-adamw")]
    [InlineData("collectives")]
    [InlineData("overlap")]
    [InlineData("sync-bn")]
    public void TwoRanks_PassEveryCheck(string mode)
    {
        var (code, stdout, stderr) = Ranks(mode);
        Assert.DoesNotContain("FAIL", stdout, StringComparison.Ordinal);
        Assert.True(code == 0, $"exit {code}:\n{stdout}\n{stderr}");
        for (int r = 0; r < 2; r++) Assert.Contains($"rank {r}: done", stdout, StringComparison.Ordinal);
        int oks = stdout.Split('\n').Count(l => l.Contains(": ok ", StringComparison.Ordinal));
        Assert.True(oks >= 4, $"expected every rank's checks, saw {oks} ok lines:\n{stdout}");
    }

    /// <summary>Bad input on rank 1 only (a test set of another image size): the whole job stops, naming rank 1 and the cause.</summary>
    [Fact]
    public void BadInputOnOneRank_AbortsTheJobNamingIt()
    {
        var (code, stdout, stderr) = Ranks("bad-input");
        Assert.NotEqual(0, code);
        Assert.Contains("rank 1 of 2 aborts the job: InvalidDatasetException: test set", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("the run completed", stdout, StringComparison.Ordinal);
    }

    /// <summary>Rank 1 arrives late at the start-up broadcast of the parameters: rank 0's watchdog ends the job, naming itself
    /// and the broadcast, before rank 1 wakes up.</summary>
    [Fact]
    public void LateRankAtStart_TimesOutTheBroadcastNamingTheRank()
    {
        var (code, stdout, stderr) = Ranks("late-start");
        Assert.NotEqual(0, code);
        Assert.Contains("rank 1: sleeping before the start", stdout, StringComparison.Ordinal);
        Assert.Contains("rank 0 of 2 aborts the job: CollectiveTimeoutException: rank 0 of 2: the broadcast of", stderr, StringComparison.Ordinal);
        Assert.Contains("did not complete within 2 s", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL", stdout, StringComparison.Ordinal);
    }

    /// <summary>Rank 1 is killed (SIGKILL) mid-epoch while rank 0 waits in an all-reduce: the launcher ends the job and says which rank died how.</summary>
    [Fact]
    public void KilledRank_EndsTheOtherWithTheRankNamed()
    {
        var (code, stdout, stderr) = Ranks("kill");
        Assert.NotEqual(0, code);
        Assert.Contains("rank 1: killing myself", stdout, StringComparison.Ordinal);
        Assert.Matches(@"process rank 1 with PID \d+ on node \S+ exited on signal 9", stderr);
        Assert.DoesNotContain("the run completed", stdout, StringComparison.Ordinal);
    }
}

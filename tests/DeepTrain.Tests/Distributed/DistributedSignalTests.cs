using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using DeepTrain.Checkpoints;
using DeepTrain.Interop.Tests;
using DeepTrain.Tests.Cli;
using DeepTrain.Tests.Data;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// Ctrl-C under <c>mpirun -n 2 deeptrain train</c>: a signal that reaches one rank stops both before the same step (the
/// trainer's stop vote), both exit 130, rank 0's checkpoint set is the last completed epoch's and intact, and two ranks
/// resume from it. The signal goes to rank 0's process alone, the case a vote exists for: rank 1 never sees it. Rank 0
/// holds after epoch 1's commit until its signal arrives (the CLI's test seam), so the signal lands mid-run however
/// busy the machine is, while rank 1 goes on into epoch 2 and waits for rank 0 in the first step's vote.
/// </summary>
[Collection(nameof(ConsoleCollection))]
public sealed partial class DistributedSignalTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task SignalToOneRank_StopsBothBeforeTheSameStep_LeavingASetThatResumes()
    {
        if (MpiTools.SkipReason is string why) Assert.Skip(why);
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads /proc to find rank 0's process");
        string data = CliRunner.MakeMnist(_dir, 96, 40), outDir = _dir["run"];
        string cli = Path.Combine(AppContext.BaseDirectory, "DeepTrain.Cli");
        string[] Train(int epochs) => ["train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--batch-size", "16", "--eval-batch-size", "16",
            "--lr", "0.05", "--threads", "1", "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--out", outDir];
        // env restores SIGINT's default in the ranks (a test runner in the background has it ignored, which a child
        // inherits and .NET keeps); it execs the CLI, so each rank's pid is the CLI's.
        var psi = new ProcessStartInfo(MpiTools.FindOnPath("mpirun")!) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in MpiTools.MpiRunArguments(2, "env", ["--default-signal=INT,TERM", cli, .. Train(3)])) psi.ArgumentList.Add(a);
        foreach (var (k, v) in MpiTools.MpiRunEnvironment()) psi.Environment[k] = v;
        psi.Environment[DeepTrain.Cli.Commands.TrainCommand.HoldVariable] = "1";
        using var mpirun = Process.Start(psi)!;
        mpirun.StandardInput.Close();
        var stdout = mpirun.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = mpirun.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(Path.Combine(outDir, CheckpointSet.MetricsFile)) && !mpirun.HasExited && clock.Elapsed < Limit) Thread.Sleep(10);
            if (mpirun.HasExited) Assert.Fail($"the job ended (exit {mpirun.ExitCode}) before the signal:\n{await stdout}{await stderr}");
            int rank0 = RankProcess(mpirun.Id, 0);
            using (var kill = Process.Start("kill", ["-INT", rank0.ToString(CultureInfo.InvariantCulture)])!) kill.WaitForExit();
            Assert.True(mpirun.WaitForExit(Limit), "the job did not end within two minutes of the signal");
            mpirun.WaitForExit();
        }
        finally
        {
            if (!mpirun.HasExited) mpirun.Kill(entireProcessTree: true);
        }
        string err = await stderr;
        output.WriteLine($"exit {mpirun.ExitCode}\n{await stdout}\n{err}");
        Assert.Equal(DeepTrain.Cli.Commands.TrainCommand.ExitSigint, mpirun.ExitCode);
        // Both ranks stopped before the same step: epoch 1 is 96 / (2 x 16) = 3 steps, so before step 4.
        var stops = StopLine().Matches(err).Select(m => (Rank: m.Groups[1].Value, Step: m.Groups[2].Value, Tail: m.Groups[3].Value)).ToList();
        Assert.True(stops.Count == 2, $"expected a stop line from each rank:\n{err}");
        Assert.All(stops, s => Assert.Equal("3", s.Step));
        Assert.Contains(stops, s => s.Rank == "1" && s.Tail.Contains("another rank was signalled", StringComparison.Ordinal));
        Assert.All(stops, s => Assert.Contains($"--resume {outDir}", s.Tail, StringComparison.Ordinal));
        // Rank 0's set: epoch 1, committed, no leftovers.
        var set = new CheckpointSet(outDir, DiskCheckpointFileSystem.Instance);
        Assert.DoesNotContain(Directory.GetFiles(outDir), f => f.Contains(".tmp-", StringComparison.Ordinal) || f.EndsWith(CheckpointSet.JournalFile, StringComparison.Ordinal));
        Assert.Equal(1, set.Verify().Epoch);

        var resumed = MpiTools.MpiRun(2, cli, [.. Train(2), "--resume", outDir], Limit);
        output.WriteLine($"resume: exit {resumed.ExitCode}\n{resumed.StdOut}\n{resumed.StdErr}");
        Assert.True(resumed.ExitCode == 0, $"two-rank resume: exit {resumed.ExitCode}\n{resumed.StdOut}\n{resumed.StdErr}");
        Assert.Contains("resuming after epoch 1", resumed.StdOut, StringComparison.Ordinal);
        Assert.Equal(2, set.Verify().Epoch);
    }

    [GeneratedRegex(@"rank (\d) of 2: interrupted after step (\d+)(.*)")]
    private static partial Regex StopLine();

    /// <summary>The pid of the child of <paramref name="launcher"/> that is MPI rank <paramref name="rank"/> (Open MPI's mpirun forks its local ranks).</summary>
    private static int RankProcess(int launcher, int rank)
    {
        string want = $"OMPI_COMM_WORLD_RANK={rank}";
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(rest[1], CultureInfo.InvariantCulture) != launcher) continue;
                if (File.ReadAllText(Path.Combine(dir, "environ")).Split('\0').Contains(want)) return pid;
            }
            catch (IOException) { }   // the process ended meanwhile
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException($"no child of mpirun (pid {launcher}) has {want}");
    }

    public void Dispose() => _dir.Dispose();
}

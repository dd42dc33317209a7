using System.Text.Json;
using DeepTrain.Interop.Tests;
using DeepTrain.Tests.Cli;
using DeepTrain.Tests.Data;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// <c>mpirun -n 2 deeptrain train</c> on a tiny MNIST-format set: rank 0 alone prints and writes; the checkpoint of the two
/// ranks then resumes in one process, and that one's in two ranks again (checkpoints do not depend on N).
/// </summary>
[Collection(nameof(ConsoleCollection))]
public sealed class DistributedCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();

    [Fact]
    public void TwoRankTrain_RankZeroWrites_AndCheckpointsMoveBetweenOneAndTwoRanks()
    {
        if (MpiTools.SkipReason is string why) Assert.Skip(why);
        string data = CliRunner.MakeMnist(_dir, 96, 40), outDir = _dir["run"];
        string cli = Path.Combine(AppContext.BaseDirectory, "DeepTrain.Cli");
        string[] common = ["--model", "mlp", "--data", "mnist", "--data-dir", data, "--batch-size", "16", "--eval-batch-size", "16", "--lr", "0.05"];
        var r = MpiTools.MpiRun(2, cli, ["train", .. common, "--threads", "1", "--epochs", "1", "--out", outDir], TimeSpan.FromSeconds(120));
        output.WriteLine($"exit {r.ExitCode} after {r.Elapsed.TotalSeconds:F1} s\n{r.StdOut}\n{r.StdErr}");
        Assert.False(r.TimedOut, "mpirun did not end in time");
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}:\n{r.StdOut}\n{r.StdErr}");
        // Only rank 0 printed: one header, one 'done'. 96 images over 2 ranks of 16 each: 3 steps, global batch 32.
        Assert.Equal(1, Count(r.StdOut, "data parallel: 2 ranks"));
        Assert.Contains("3 steps of 16 per rank = global batch 32", r.StdOut, StringComparison.Ordinal);
        Assert.Equal(1, Count(r.StdOut, "done: 1 epochs"));
        var rows = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"));
        Assert.Single(rows);
        using (var row = JsonDocument.Parse(rows[0]))
            Assert.InRange(row.RootElement.GetProperty("test_acc").GetDouble(), 0, 1);

        var (code, stdout, stderr) = CliRunner.Run(["train", .. common, "--epochs", "2", "--resume", outDir]);
        output.WriteLine(stdout + stderr);
        Assert.True(code == 0, $"resume in one process: exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("resuming after epoch 1", stdout, StringComparison.Ordinal);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Length);

        // And back: the one-process checkpoint resumes in two ranks.
        r = MpiTools.MpiRun(2, cli, ["train", .. common, "--threads", "1", "--epochs", "3", "--resume", outDir], TimeSpan.FromSeconds(120));
        output.WriteLine($"exit {r.ExitCode} after {r.Elapsed.TotalSeconds:F1} s\n{r.StdOut}\n{r.StdErr}");
        Assert.False(r.TimedOut, "mpirun did not end in time");
        Assert.True(r.ExitCode == 0, $"two-rank resume: exit {r.ExitCode}:\n{r.StdOut}\n{r.StdErr}");
        Assert.Equal(1, Count(r.StdOut, "resuming after epoch 2"));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Length);
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    public void Dispose() => _dir.Dispose();
}

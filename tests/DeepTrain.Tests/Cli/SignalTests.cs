using System.Diagnostics;
using System.Security.Cryptography;
using DeepTrain.Checkpoints;
using DeepTrain.Tests.Data;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary>
/// Ctrl-C and SIGTERM sent to a child <c>deeptrain train</c>: it stops at a step boundary with 130 or 143 and leaves a
/// consistent set, from which <c>--resume</c> reaches the uninterrupted run's weights bit for bit; a second signal
/// exits at once, and the set is still consistent.
/// </summary>
public class SignalTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private const int Epochs = 6;

    /// <summary>Starts the CLI from the test output (the apphost beside the tests) with <paramref name="args"/>.</summary>
    private static Process Start(IEnumerable<string> args, bool holdAfterEpoch1 = false)
    {
        string host = Path.Combine(AppContext.BaseDirectory, "DeepTrain.Cli");
        // A test runner started in the background (CI: `bash .ci/run` without job control) has SIGINT ignored, a child
        // inherits that, and .NET keeps an ignored SIGINT ignored (as nohup expects): restore the default in the child
        // (coreutils' env --default-signal execs the CLI, so the pid is the CLI's).
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("--default-signal=INT,TERM");
        psi.ArgumentList.Add(host);
        // The run waits after epoch 1's checkpoint for the signal, so the signal lands mid-run on a loaded machine too
        // (without the hold, the remaining epochs could finish before `kill` ran, and the run exited 0).
        if (holdAfterEpoch1) psi.Environment[DeepTrain.Cli.Commands.TrainCommand.HoldVariable] = "1";
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static (int Code, string Out, string Err) RunToEnd(IEnumerable<string> args)
    {
        using var p = Start(args);
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    /// <summary>Sends <paramref name="signal"/>; a repeated one may find the process already gone (it stopped at the first).</summary>
    private static void Kill(Process p, string signal, bool repeated)
    {
        using var kill = Process.Start("kill", [$"-{signal}", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        if (kill.ExitCode != 0 && !(repeated && p.HasExited)) Assert.Fail($"kill -{signal} {p.Id} exited {kill.ExitCode} while the run was still going");
    }

    /// <summary>
    /// Runs until epoch 1's set is committed (its metrics.jsonl appears in <paramref name="outDir"/>), then sends
    /// <paramref name="signal"/> <paramref name="times"/> times. The file, not the piped output, is the trigger: it does
    /// not depend on when this process gets to read the pipe.
    /// </summary>
    private static (int Code, string Out, string Err) Interrupt(IEnumerable<string> args, string outDir, string signal, int times)
    {
        using var p = Start(args, holdAfterEpoch1: true);
        var output = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEndAsync();
        string metrics = Path.Combine(outDir, "metrics.jsonl");
        while (!File.Exists(metrics) && !p.HasExited) Thread.Sleep(5);
        if (p.HasExited) Assert.Fail($"the run ended (exit {p.ExitCode}) before the signal:\n{output.Result}{err.Result}");
        for (int i = 0; i < times; i++) Kill(p, signal, repeated: i > 0);
        Assert.True(p.WaitForExit(60_000), "the run did not stop within a minute of the signal");
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    /// <summary>LeNet-5 on 800 images: about half a second an epoch on two threads, so a signal sent after epoch 1 lands mid-run.</summary>
    private string[] Train(string data, string outDir) => ["train", "--model", "lenet5", "--data", "mnist", "--data-dir", data, "--batch-size", "16",
        "--lr", "0.02", "--eval-batch-size", "100", "--threads", "2", "--epochs", Epochs.ToString(System.Globalization.CultureInfo.InvariantCulture), "--out", outDir];

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Theory]
    [InlineData("INT", 130)]
    [InlineData("TERM", 143)]
    public void TheFirstSignal_StopsAtAStep_LeavingASetThatResumesToTheUninterruptedWeights(string signal, int code)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "POSIX signals");
        string data = CliRunner.MakeMnist(_dir, 800, 100), straight = _dir["straight"], cut = _dir["cut"];
        var full = RunToEnd(Train(data, straight));
        Assert.True(full.Code == 0, full.Err);
        var stopped = Interrupt(Train(data, cut), cut, signal, times: 1);
        Assert.True(stopped.Code == code, $"exit {stopped.Code}, expected {code}:\n{stopped.Out}\n{stopped.Err}");
        Assert.Contains("--resume", stopped.Err);
        Assert.DoesNotContain("   at ", stopped.Err);   // no stack trace
        var set = new CheckpointSet(cut, DiskCheckpointFileSystem.Instance);
        Assert.DoesNotContain(Directory.GetFiles(cut), f => f.Contains(".tmp-", StringComparison.Ordinal) || f.EndsWith(CheckpointSet.JournalFile, StringComparison.Ordinal));
        int epoch = set.Verify().Epoch;
        Assert.InRange(epoch, 1, Epochs - 1);
        var resumed = RunToEnd([.. Train(data, cut), "--resume", cut]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains($"resuming after epoch {epoch}", resumed.Out);
        Assert.Equal(Sha(Path.Combine(straight, "model.safetensors")), Sha(Path.Combine(cut, "model.safetensors")));
        Assert.Equal(Sha(Path.Combine(straight, "training_state.safetensors")), Sha(Path.Combine(cut, "training_state.safetensors")));
    }

    [Fact]
    public void ASecondSignal_ExitsAtOnce_LeavingAConsistentSet()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "POSIX signals");
        string data = CliRunner.MakeMnist(_dir, 800, 100), cut = _dir["cut"];
        var stopped = Interrupt(Train(data, cut), cut, "INT", times: 2);
        Assert.Equal(130, stopped.Code);
        var set = new CheckpointSet(cut, DiskCheckpointFileSystem.Instance);
        set.Recover();
        Assert.InRange(set.Verify().Epoch, 1, Epochs);
    }
}

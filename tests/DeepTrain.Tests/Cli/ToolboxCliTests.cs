using System.CommandLine;
using System.Text.Json;
using System.Text.RegularExpressions;
using DeepTrain.Cli.Plotting;
using DeepTrain.Tests.Data;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary><c>deeptrain train</c>'s toolbox options (penalties, step log, plot) and the help text and README reference.</summary>
[Collection(nameof(ConsoleCollection))]
public partial class ToolboxCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private string MakeMnist(int train = 96, int test = 40) => CliRunner.MakeMnist(_dir, train, test);

    [GeneratedRegex(@"^\[(\d{8})\] lr=\d\.\d\de[+-]\d\d, Train Loss = \d+\.\d{4}, Train Acc = \d+\.\d\d%$", RegexOptions.Multiline)]
    private static partial Regex StepLog();

    [Fact]
    public void Train_WithPenalties_LogsSteps_WritesPenaltyAndPng_ThenPlotRedrawsIt()
    {
        string data = MakeMnist(), outDir = _dir["run"];
        var (code, output, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--epochs", "2", "--batch-size", "16",
            "--eval-batch-size", "16", "--val-split", "16", "--l1", "1e-4", "--l2", "1e-3", "--log-every", "2", "--out", outDir);
        Assert.True(code == 0, err);
        Assert.Contains("penalty elastic net λ1=0.0001 λ2=0.001", output);
        var steps = StepLog().Matches(output).Select(m => int.Parse(m.Groups[1].Value)).ToArray();
        Assert.Equal([2, 4, 6, 8, 10], steps);   // 5 batches of 16 per epoch (80 after the split), 2 epochs

        var lines = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"));
        using (var doc = JsonDocument.Parse(lines[^1]))
            Assert.True(doc.RootElement.GetProperty("penalty").GetDouble() > 0, "metrics.jsonl records the penalty's value");
        string png = Path.Combine(outDir, "metrics.png");
        var image = PngDecoder.Decode(File.ReadAllBytes(png));
        Assert.True(image.Count(MetricsPlot.TrainColor) > 100 && image.Count(MetricsPlot.ValidationColor) > 100 && image.Count(MetricsPlot.TestColor) > 100);
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp"));

        File.Delete(png);
        var plot = Run("plot", outDir);
        Assert.True(plot.Code == 0, plot.Err);
        Assert.True(File.Exists(png));
        Assert.Equal(1, Run("plot", _dir["nowhere"]).Code);
    }

    /// <summary>
    /// The loss reaches the host only at sync points, and --log-every makes each logged step one: the log lines equal
    /// those of --detect-anomaly, which reads every step. Steps 3 and 9 fall mid-epoch (6 batches per epoch).
    /// </summary>
    [Fact]
    public void StepLog_ShowsTheLoggedStepsOwnFigures_AsWhenEveryStepIsRead()
    {
        string data = MakeMnist();
        string[] Lines(string output) => StepLog().Matches(output).Select(m => m.Value).ToArray();
        string[] common = ["train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--epochs", "2", "--batch-size", "16", "--eval-batch-size", "16", "--log-every", "3"];
        var synced = Run([.. common, "--out", _dir["synced"]]);
        var every = Run([.. common, "--detect-anomaly", "--out", _dir["every"]]);
        Assert.True(synced.Code == 0, synced.Err);
        Assert.True(every.Code == 0, every.Err);
        Assert.Equal(["[00000003]", "[00000006]", "[00000009]", "[00000012]"], Lines(synced.Out).Select(l => l[..10]));
        Assert.Equal(Lines(every.Out), Lines(synced.Out));
    }

    [Fact]
    public void ImpossiblePenalties_AreRejectedWithTheValidRange()
    {
        var (code, _, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", MakeMnist(), "--l1", "-0.1", "--out", _dir["x"]);
        Assert.Equal(1, code);
        Assert.Contains("--l1 must be a finite number ≥ 0, got -0.1", err);
        Assert.Contains("--l2 must be", Run("train", "--l2", "NaN", "--out", _dir["y"]).Err);
    }

    [Theory]
    [InlineData("--momentum", "1", "--momentum must be in [0, 1)")]
    [InlineData("--weight-decay", "-0.5", "--weight-decay must be a finite number ≥ 0")]
    [InlineData("--eval-batch-size", "0", "--eval-batch-size must be ≥ 1")]
    [InlineData("--threads", "0", "--threads must be ≥ 1")]
    [InlineData("--log-every", "-1", "--log-every must be ≥ 0")]
    [InlineData("--precise-bn", "-2", "--precise-bn must be ≥ 0")]
    [InlineData("--lr-reference-batch", "-8", "--lr-reference-batch must be ≥ 1 (or 0 for no scaling)")]
    public void ImpossibleHyperParameters_FailBeforeTraining_NamingTheOptionAndRange(string option, string value, string expected)
    {
        var (code, output, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", MakeMnist(), "--out", _dir["x"], option, value);
        Assert.Equal(1, code);
        Assert.Contains(expected, err);
        Assert.DoesNotContain("epoch", output);   // rejected before anything trained
    }

    [Fact]
    public void LinearScaling_AndTheExponentialSchedule_AreReachable()
    {
        var (code, output, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", MakeMnist(), "--epochs", "1", "--batch-size", "32",
            "--eval-batch-size", "16", "--lr", "0.4", "--lr-reference-batch", "128", "--schedule", "exponential", "--bn-average", "cumulative", "--out", _dir["s"]);
        Assert.True(code == 0, err);
        Assert.Contains("linear scaling: lr 0.4 for batch 128 becomes 0.1 for batch 32", output);
        Assert.Contains("exponential lr=0.1", output);
    }

    [Fact]
    public void Help_NamesTheCommandDeeptrain()
    {
        var (code, output, _) = Run("train", "--help");
        Assert.Equal(0, code);
        Assert.Contains("deeptrain train [options]", output);
        Assert.DoesNotContain("DeepTrain.Cli", output);
        Assert.Contains("deeptrain [command] [options]", Run("--help").Out);
    }

    [Fact]
    public void EveryTrainOption_IsInTheReadmesCliReference()
    {
        // README.md is copied beside the tests (docs-sources); each option must appear as `--name` in it.
        string readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs-sources", "README.md"));
        var train = DeepTrain.Cli.Commands.TrainCommand.Create();
        var missing = train.Options.Where(o => o.Name.StartsWith("--", StringComparison.Ordinal) && o.Name != "--help" && !readme.Contains($"`{o.Name}`", StringComparison.Ordinal))
            .Select(o => o.Name).ToArray();
        Assert.True(missing.Length == 0, "README's `deeptrain train` reference lacks: " + string.Join(", ", missing));
    }
}

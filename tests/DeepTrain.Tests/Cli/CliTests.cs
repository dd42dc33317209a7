using System.Text.Json;
using DeepTrain.Checkpoints;
using DeepTrain.Tests.Data;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary>Console redirection is process-wide, so the command tests run alone.</summary>
[CollectionDefinition(nameof(ConsoleCollection), DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>The <c>deeptrain</c> command, in process: outputs, files, and the errors users see.</summary>
[Collection(nameof(ConsoleCollection))]
public class CliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private string MakeMnist(int train = 96, int test = 40) => CliRunner.MakeMnist(_dir, train, test);

    [Fact]
    public void Models_ListsExactCounts()
    {
        var (code, output, _) = Run("models");
        Assert.Equal(0, code);
        Assert.Contains("269,722", output);       // ResNet-20
        Assert.Contains("19,421,274", output);    // ResNet-1202
    }

    [Fact]
    public void Models_NamesEveryModelsDefaults_WithWhereTheyComeFrom()
    {
        var (code, output, _) = Run("models");
        Assert.Equal(0, code);
        var lines = output.ReplaceLineEndings("\n").Split('\n');
        var defaults = lines.SkipWhile(l => !l.StartsWith("training defaults", StringComparison.Ordinal)).Skip(1).Where(l => l.Length > 0).ToList();
        foreach (var m in DeepTrain.Zoo.ModelZoo.All)
        {
            var line = Assert.Single(defaults, l => l.TrimEnd(')').Split('(').Last().Split(", ").Contains(m.Name));
            Assert.Contains($"{m.Training.Reason} (", line);
        }
        Assert.StartsWith("  lr 0.01 one-cycle: Caffe's LeNet rate", Assert.Single(defaults, l => l.Contains("lenet5")));
    }

    [Fact]
    public void Plan_PrintsEveryPart_AndThePeak()
    {
        var (code, output, _) = Run("plan", "--model", "resnet20", "--batch-size", "8", "--input", "1x28x28");
        Assert.Equal(0, code);
        foreach (var part in new[] { "parameters", "gradients", "optimizer state", "activations (arena)", "workspace", "peak" })
            Assert.Contains(part, output);
    }

    [Fact]
    public void PlanEval_StatesTheSessionBound_AndAGpuContextsPinnedStaging()
    {
        var (code, output, err) = Run("plan", "--model", "resnet20", "--batch-size", "8", "--input", "1x28x28", "--eval");
        Assert.True(code == 0, err);
        Assert.Contains("session bound", output);
        // The convolutions' packed and Winograd-transformed weights, made once by a CPU session, are part of the bound.
        Assert.Matches(@"prepared weights +[0-9.]+ (KiB|MiB)", output);
        // 8 × 784 fp32 inputs (25,088 B, already 256-aligned) and 8 × 10 fp32 logits (320 B): 25,408 B.
        Assert.Matches(@"pinned host \(cuda\) +24\.8 KiB", output);
    }

    [Fact]
    public void Plan_AtFp16_HalvesTheArena_AndShowsTheWorkingCopy()
    {
        string[] common = ["plan", "--model", "resnet20", "--batch-size", "64", "--input", "1x28x28"];
        var full = Run(common);
        var half = Run([.. common, "--precision", "fp16"]);
        Assert.Equal(0, half.Code);
        Assert.Contains("fp16", half.Out);
        Assert.Contains("working copy", half.Out);
        Assert.DoesNotContain("working copy", full.Out);
        var bad = Run([.. common, "--precision", "fp8"]);
        Assert.Equal(1, bad.Code);
        Assert.Contains("unknown precision 'fp8'; expected one of fp32, fp16, bf16", bad.Err);
    }

    [Fact]
    public void Train_AtFp16_ReportsTheLossScale_AndResumes()
    {
        string data = MakeMnist(), outDir = _dir["fp16"];
        string[] common = ["train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--batch-size", "32", "--lr", "0.05", "--eval-batch-size", "20",
            "--precision", "fp16", "--clip-grad-norm", "5", "--out", outDir];
        string[] Bf16(string dir) => [.. common.Select(a => a == "fp16" ? "bf16" : a == outDir ? dir : a)];
        var (code, output, err) = Run([.. common, "--epochs", "1"]);
        Assert.True(code == 0, err);
        Assert.Contains("fp16, loss scale dynamic", output);
        Assert.Contains("clip norm 5", output);
        var row = JsonDocument.Parse(File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"))[0]).RootElement;
        Assert.Equal(65536.0, row.GetProperty("loss_scale").GetDouble());
        Assert.Equal(0, row.GetProperty("skipped_steps").GetInt64());
        var resumed = Run([.. common, "--epochs", "2", "--resume", outDir]);
        Assert.True(resumed.Code == 0, resumed.Err);
        var wrong = Run([.. Bf16(outDir), "--epochs", "3", "--resume", outDir]);
        Assert.Equal(1, wrong.Code);
        Assert.Contains("--precision fp16", wrong.Err);
        var badScale = Run([.. common, "--epochs", "1", "--loss-scale", "static:-2"]);
        Assert.Equal(1, badScale.Code);
        Assert.Contains("static:S", badScale.Err);
        var adagrad = Run([.. common, "--epochs", "1", "--optimizer", "adagrad"]);
        Assert.Equal(1, adagrad.Code);
        Assert.Contains("--loss-scale off", adagrad.Err);
        var bf16 = Run([.. Bf16(_dir["bf16"]), "--epochs", "1"]);
        Assert.True(bf16.Code == 0, bf16.Err);
        Assert.DoesNotContain("loss scale", bf16.Out);   // off by default at bf16
    }

    [Fact]
    public void UnknownModel_ListsValidOnes_AndFails()
    {
        var (code, _, err) = Run("plan", "--model", "resnet21");
        Assert.Equal(1, code);
        Assert.Contains("unknown model 'resnet21'", err);
        Assert.Contains("resnet20", err);
    }

    [Fact]
    public void Train_WritesMetricsAndCheckpoint_ThenEvalReadsIt()
    {
        string data = MakeMnist(), outDir = _dir["run"];
        var (code, output, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--epochs", "2",
            "--batch-size", "32", "--lr", "0.05", "--out", outDir, "--eval-batch-size", "16");
        Assert.True(code == 0, err);
        Assert.Contains("done: 2 epochs", output);
        var lines = File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"));
        Assert.Equal(2, lines.Length);
        using var doc = JsonDocument.Parse(lines[1]);
        foreach (var key in new[] { "epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds", "images_per_sec" })
            Assert.True(doc.RootElement.TryGetProperty(key, out _), $"metrics.jsonl lacks '{key}'");
        Assert.Equal(2, doc.RootElement.GetProperty("epoch").GetInt32());
        string ckpt = Path.Combine(outDir, "model.safetensors");
        Assert.Contains("fc1.weight", Safetensors.Load(ckpt).Names);
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp*"));

        var (evalCode, evalOut, evalErr) = Run("eval", "--checkpoint", ckpt, "--data-dir", data);
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains("accuracy", evalOut);
    }

    [Fact]
    public void Resume_ContinuesTheRun_AndAppendsMetrics()
    {
        string data = MakeMnist(), outDir = _dir["run"];
        string[] common = ["--model", "mlp", "--data", "mnist", "--data-dir", data, "--batch-size", "32", "--lr", "0.05", "--eval-batch-size", "16"];
        var first = Run(["train", .. common, "--epochs", "1", "--out", outDir]);
        Assert.True(first.Code == 0, first.Err);
        Assert.True(File.Exists(Path.Combine(outDir, "training_state.safetensors")));
        var second = Run(["train", .. common, "--epochs", "3", "--out", outDir, "--resume", outDir]);
        Assert.True(second.Code == 0, second.Err);
        Assert.Contains("resuming after epoch 1", second.Out);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl")).Length);
        var done = Run(["train", .. common, "--epochs", "3", "--out", outDir, "--resume", outDir]);
        Assert.Equal(1, done.Code);
        Assert.Contains("already completed 3 epochs", done.Err);
    }

    [Fact]
    public void ValidationSplit_IsReported_AndEarlyStoppingNeedsIt()
    {
        string data = MakeMnist(), outDir = _dir["val"];
        string[] common = ["--model", "mlp", "--data", "mnist", "--data-dir", data, "--batch-size", "16", "--eval-batch-size", "16", "--out", outDir];
        var run = Run(["train", .. common, "--epochs", "2", "--val-split", "32", "--early-stop", "5"]);
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("val loss", run.Out);
        using var doc = JsonDocument.Parse(File.ReadAllLines(Path.Combine(outDir, "metrics.jsonl"))[0]);
        Assert.True(doc.RootElement.TryGetProperty("val_acc", out _));
        var bad = Run(["train", .. common, "--epochs", "2", "--early-stop", "2"]);
        Assert.Equal(1, bad.Code);
        Assert.Contains("--val-split", bad.Err);
        var tooBig = Run(["train", .. common, "--epochs", "1", "--val-split", "96"]);
        Assert.Contains("[0, 95]", tooBig.Err);
    }

    [Fact]
    public void LrFind_SweepsAndSuggestsARate()
    {
        var (code, output, err) = Run("lr-find", "--model", "mlp", "--data", "mnist", "--data-dir", MakeMnist(), "--batch-size", "16", "--steps", "12");
        Assert.True(code == 0, err);
        Assert.Contains("suggested learning rate", output);
        Assert.Equal(1, Run("lr-find", "--start", "1", "--end", "0.1").Code);
    }

    [Fact]
    public void StatsEvery_PrintsLayerAndGradientTables()
    {
        var (code, output, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", MakeMnist(), "--epochs", "1",
            "--batch-size", "32", "--eval-batch-size", "16", "--stats-every", "2", "--out", _dir["stats"]);
        Assert.True(code == 0, err);
        Assert.Contains("statistics before step 2", output);
        Assert.Contains("relu1", output);
        Assert.Contains("fc1.weight", output);
    }

    [Fact]
    public void FreezeAndLrScale_AreValidated()
    {
        string data = MakeMnist();
        string[] common = ["--model", "mlp", "--data", "mnist", "--data-dir", data, "--epochs", "1", "--batch-size", "32", "--eval-batch-size", "16"];
        var ok = Run(["train", .. common, "--freeze", "fc1", "--lr-scale", "fc2=0.5", "--out", _dir["f"]]);
        Assert.True(ok.Code == 0, ok.Err);
        var bad = Run(["train", .. common, "--lr-scale", "fc2:0.5", "--out", _dir["g"]]);
        Assert.Equal(1, bad.Code);
        Assert.Contains("PREFIX=SCALE", bad.Err);
        var none = Run(["train", .. common, "--freeze", "backbone", "--out", _dir["h"]]);
        Assert.Contains("'backbone' matches no parameter", none.Err);
    }

    [Fact]
    public void TruncatedData_NamesFileAndOffset_AndWritesNothing()
    {
        string data = MakeMnist();
        var bytes = DataBytes.IdxImages(96, 28, 28);
        _dir.Write("mnist/train-images-idx3-ubyte.gz", bytes[..5000], gzip: true);
        var (code, _, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--epochs", "1", "--out", _dir["bad"]);
        Assert.Equal(1, code);
        Assert.Contains("train-images-idx3-ubyte.gz", err);
        Assert.Contains("offset", err);
        Assert.False(File.Exists(Path.Combine(_dir["bad"], "model.safetensors")));
    }

    [Fact]
    public void BadArguments_AreRejectedWithTheValidRange()
    {
        var (code, _, err) = Run("train", "--lr", "-1", "--data-dir", MakeMnist(), "--data", "mnist", "--model", "mlp", "--out", _dir["x"]);
        Assert.Equal(1, code);
        Assert.Contains("--lr", err);
        Assert.NotEqual(0, Run("train", "--schedule", "cosine-ish").Code);
        Assert.NotEqual(0, Run("bench", "--bogus").Code);
    }
}

using System.IO.Compression;
using DeepTrain.Checkpoints;
using DeepTrain.Tests.Data;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary>
/// The remaining messages of issue 13 item 9: each failure or doubtful input is one sentence naming the file, tensor,
/// key or option, with the exit code a script can act on and no stack trace.
/// </summary>
[Collection(nameof(ConsoleCollection))]
public class MessageCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string[] Common(string? data = null, string batch = "32") => ["train", "--model", "mlp", "--data", "mnist", "--data-dir", data ?? CliRunner.MakeMnist(_dir, 96, 40),
        "--batch-size", batch, "--lr", "0.05", "--eval-batch-size", "20"];

    /// <summary>A run of one epoch in <c>dir/name</c>; returns the folder.</summary>
    private string TrainOnce(string name, params string[] extra)
    {
        string folder = _dir[name];
        var r = CliRunner.Run([.. Common(), "--epochs", "1", "--out", folder, .. extra]);
        Assert.True(r.Code == 0, r.Err);
        return folder;
    }

    /// <summary>Rewrites <paramref name="path"/> with <paramref name="tensor"/>'s first value NaN and its second +∞; returns its element count.</summary>
    private static long Poison(string path, string tensor)
    {
        var file = Safetensors.Load(path);
        var arrays = new List<NamedArray>();
        long elements = 0;
        foreach (var name in file.Names)
        {
            var info = file[name];
            if (name != tensor) { arrays.Add(new NamedArray(name, info.DType, info.Shape, file.GetBytes(name).ToArray())); continue; }
            float[] v = file.GetFloat32(name);
            (v[0], v[1], elements) = (float.NaN, float.PositiveInfinity, v.Length);
            arrays.Add(NamedArray.FromFloat32(name, v, info.Shape.Dims));
        }
        var meta = new Dictionary<string, string>(file.Metadata);
        meta.Remove("__metadata__");
        Safetensors.Save(path, arrays, meta);
        return elements;
    }

    /// <summary>Rewrites <paramref name="path"/>'s metadata entry <paramref name="key"/> as <paramref name="value"/>.</summary>
    private static void SetMetadata(string path, string key, string value)
    {
        var file = Safetensors.Load(path);
        var arrays = file.Names.Select(n => new NamedArray(n, file[n].DType, file[n].Shape, file.GetBytes(n).ToArray())).ToList();
        var meta = new Dictionary<string, string>(file.Metadata) { [key] = value };
        Safetensors.Save(path, arrays, meta);
    }

    [Fact]
    public void Eval_OfACheckpointWithNaNWeights_WarnsNamingFileAndTensor()
    {
        string model = Path.Combine(TrainOnce("a"), "model.safetensors");
        string tensor = Safetensors.Load(model).Names[0];
        long n = Poison(model, tensor);
        var (code, output, err) = CliRunner.Run("eval", "--checkpoint", model, "--data-dir", _dir["mnist"], "--batch-size", "20");
        Assert.Equal(0, code);
        Assert.Contains($"warning: checkpoint '{model}' holds non-finite weights: tensor '{tensor}' has 1 NaN and 1 infinite of {n} values; its outputs will not be meaningful\n",
            err.ReplaceLineEndings("\n"));
        Assert.Contains("accuracy", output);
        Assert.DoesNotContain("   at ", output + err);
    }

    [Fact]
    public void InitFrom_ACheckpointWithNaNWeights_WarnsNamingFileAndTensor()
    {
        string model = Path.Combine(TrainOnce("a"), "model.safetensors");
        string tensor = Safetensors.Load(model).Names[0];
        long n = Poison(model, tensor);
        var (_, output, err) = CliRunner.Run([.. Common(), "--epochs", "1", "--out", _dir["b"], "--init-from", model]);
        Assert.Contains($"warning: --init-from '{model}' holds non-finite weights: tensor '{tensor}' has 1 NaN and 1 infinite of {n} values", err);
        Assert.DoesNotContain("   at ", output + err);
    }

    [Theory]
    [InlineData("--seed", "2", "1")]
    [InlineData("--batch-size", "16", "32")]
    public void Resume_WithAnotherSeedOrBatchSize_WarnsTheRunIsNoLongerTheUninterruptedOne(string option, string value, string recorded)
    {
        string a = TrainOnce("a");
        string[] rest = option == "--batch-size" ? [.. Common(batch: value)] : [.. Common(), option, value];
        var (code, output, err) = CliRunner.Run([.. rest, "--epochs", "2", "--resume", a]);
        Assert.True(code == 0, err);
        Assert.Contains($"warning: resuming '{a}' with {option} {value}, but that run was trained with {option} {recorded}: the result will differ from the uninterrupted run's\n",
            err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("FitOptions", err);
        Assert.DoesNotContain("   at ", output + err);
    }

    [Fact]
    public void Resume_WithTheRunsOwnSettings_WarnsNothing()
    {
        string a = TrainOnce("a");
        var (code, _, err) = CliRunner.Run([.. Common(), "--epochs", "2", "--resume", a]);
        Assert.True(code == 0, err);
        Assert.DoesNotContain("warning", err);
    }

    [Fact]
    public void Resume_GivenAFile_AsksForItsFolder()
    {
        string a = TrainOnce("a");
        string file = Path.Combine(a, "model.safetensors");
        var (code, output, err) = CliRunner.Run([.. Common(), "--epochs", "2", "--resume", file]);
        Assert.Equal(1, code);
        Assert.Equal($"error: --resume '{file}' is a file; expected the run's folder, e.g. --resume {a}\n", err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("   at ", output + err);
    }

    [Theory]
    [InlineData("global_step", "12x", "a whole number")]
    [InlineData("momentum", "fast", "a number")]
    public void Resume_FromAStateWithABadValue_NamesFileAndKey(string key, string value, string expected)
    {
        string a = TrainOnce("a");
        string state = Path.Combine(a, "training_state.safetensors");
        SetMetadata(state, key, value);
        var (code, output, err) = CliRunner.Run([.. Common(), "--epochs", "2", "--resume", a]);
        Assert.Equal(1, code);
        Assert.Equal($"error: checkpoint '{state}': '{key}' is '{value}', expected {expected}\n", err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("   at ", output + err);
    }

    [Fact]
    public void GzipWithTrailingGarbage_IsRefusedNamingTheFile()
    {
        string data = CliRunner.MakeMnist(_dir, 96, 40);
        string labels = Path.Combine(data, "t10k-labels-idx1-ubyte.gz");
        using (var f = File.Open(labels, FileMode.Append)) f.Write([1, 2, 3]);
        var (code, output, err) = CliRunner.Run([.. Common(data), "--epochs", "1", "--out", _dir["a"]]);
        Assert.Equal(1, code);
        Assert.StartsWith($"error: {labels}", err);
        Assert.Contains("data follows the gzip stream", err);
        Assert.DoesNotContain("   at ", output + err);
    }

    [Fact]
    public void NonSquareImages_AreRefusedNamingTheDataAndTheModel()
    {
        Directory.CreateDirectory(_dir["wide"]);
        foreach (var (split, count) in new[] { ("train", 96), ("t10k", 40) })
        {
            _dir.Write($"wide/{split}-images-idx3-ubyte.gz", DataBytes.IdxImages(count, 28, 20), gzip: true);
            _dir.Write($"wide/{split}-labels-idx1-ubyte.gz", DataBytes.IdxLabels(DataBytes.Labels(count)), gzip: true);
        }
        var (code, output, err) = CliRunner.Run("train", "--model", "lenet5", "--data", "mnist", "--data-dir", _dir["wide"], "--epochs", "1",
            "--batch-size", "32", "--out", _dir["a"]);
        Assert.Equal(1, code);
        Assert.Equal("error: training set 'mnist/train' has images of 1×28×20, but model 'lenet5' takes 1×28×28 (model 'lenet5' takes square images; these are 28 high and 20 wide)\n",
            err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("   at ", output + err);
    }

    [Fact]
    public void OutUnderProc_SaysTheFolderCannotBeCreatedAndWhy()
    {
        var (code, output, err) = CliRunner.Run([.. Common(), "--epochs", "1", "--out", "/proc/x"]);
        Assert.Equal(1, code);
        Assert.StartsWith("error: cannot create the output folder '/proc/x' (--out): ", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.DoesNotContain("   at ", output + err);
    }
}

/// <summary><c>--verbose</c> and <c>DEEPTRAIN_DEBUG=1</c> add an expected failure's stack trace, for a bug report; without them there is none.</summary>
[Collection(nameof(ConsoleCollection))]
public class VerboseCliTests
{
    private static readonly string[] Failing = ["eval", "--checkpoint", "/nonexistent-deeptrain/model.safetensors"];

    [Fact]
    public void WithoutVerbose_TheErrorIsOneLine()
    {
        var (code, _, err) = CliRunner.Run(Failing);
        Assert.Equal(1, code);
        Assert.StartsWith("error: ", err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void Verbose_AddsTheStackTrace_AfterTheSameLine()
    {
        var plain = CliRunner.Run(Failing);
        var (code, _, err) = CliRunner.Run([.. Failing, "--verbose"]);
        Assert.Equal(1, code);
        Assert.StartsWith(plain.Err, err);
        Assert.Contains("   at DeepTrain.", err);
    }

    [Fact]
    public void DebugVariable_AddsTheStackTrace()
    {
        Environment.SetEnvironmentVariable("DEEPTRAIN_DEBUG", "1");
        try
        {
            var (code, _, err) = CliRunner.Run(Failing);
            Assert.Equal(1, code);
            Assert.Contains("   at DeepTrain.", err);
        }
        finally { Environment.SetEnvironmentVariable("DEEPTRAIN_DEBUG", null); }
    }
}

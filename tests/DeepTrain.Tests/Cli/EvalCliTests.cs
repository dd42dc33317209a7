using DeepTrain.Checkpoints;
using DeepTrain.Tests.Data;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary><c>deeptrain eval</c> reads what the checkpoint records, and the test split only; older checkpoints still evaluate.</summary>
[Collection(nameof(ConsoleCollection))]
public class EvalCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Trains mlp for an epoch on a small MNIST-format set; returns the data folder and the checkpoint.</summary>
    private (string Data, string Checkpoint) Train()
    {
        string data = CliRunner.MakeMnist(_dir, 96, 40), outDir = _dir["run"];
        var (code, _, err) = CliRunner.Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--epochs", "1",
            "--batch-size", "32", "--lr", "0.05", "--eval-batch-size", "20", "--out", outDir);
        Assert.True(code == 0, err);
        return (data, Path.Combine(outDir, "model.safetensors"));
    }

    /// <summary>A folder holding only the test split's two files.</summary>
    private string TestSplitOnly(string data)
    {
        string only = _dir["test-only"];
        Directory.CreateDirectory(only);
        foreach (var f in new[] { "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz" }) File.Copy(Path.Combine(data, f), Path.Combine(only, f));
        return only;
    }

    /// <summary>The checkpoint rewritten as before format 1: its tensors, and metadata without the deeptrain.* keys (and without <paramref name="drop"/>).</summary>
    private static void MakeOldFormat(string path, params string[] drop)
    {
        var file = Safetensors.Load(path);
        var arrays = file.Names.Select(n => new NamedArray(n, file[n].DType, file[n].Shape, file.GetBytes(n).ToArray())).ToList();
        var meta = file.Metadata.Where(kv => !kv.Key.StartsWith("deeptrain.", StringComparison.Ordinal) && !drop.Contains(kv.Key)).ToDictionary();
        Safetensors.Save(path, arrays, meta);
    }

    [Fact]
    public void Eval_NeedsOnlyTheTestSplit()
    {
        var (data, ckpt) = Train();
        var (fullCode, fullOut, fullErr) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", data);
        Assert.True(fullCode == 0, fullErr);

        var (code, output, err) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", TestSplitOnly(data));
        Assert.True(code == 0, err);
        Assert.Equal(fullOut, output);   // the same normalisation, so the same figures and report
        Assert.Contains("accuracy", output);
        Assert.DoesNotContain("note:", err);
    }

    [Fact]
    public void Eval_OfAnOldCheckpoint_RecomputesTheNormalisation_AndSaysWhenItCannot()
    {
        var (data, ckpt) = Train();
        var (_, expected, _) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", data);
        MakeOldFormat(ckpt);

        var (code, output, err) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", data);
        Assert.True(code == 0, err);
        Assert.Equal(expected, output);
        Assert.Contains("does not record its input normalisation", err);

        var (failCode, _, failErr) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", TestSplitOnly(data));
        Assert.Equal(1, failCode);
        Assert.Contains("does not record its input normalisation, and the training split it is recomputed from was not found", failErr);
    }

    [Fact]
    public void Eval_OfAnOldCheckpointWithoutItsModel_AsksForModel()
    {
        var (data, ckpt) = Train();
        MakeOldFormat(ckpt, "model");
        var (code, _, err) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", data);
        Assert.Equal(1, code);
        Assert.Contains("does not record its model (metadata 'deeptrain.model'", err);
        Assert.Contains("pass --model", err);
        Assert.DoesNotContain("CheckpointLoadOptions", err);

        var (ok, output, okErr) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", data, "--model", "mlp");
        Assert.True(ok == 0, okErr);
        Assert.Contains("accuracy", output);

        var (wrong, _, wrongErr) = CliRunner.Run("eval", "--checkpoint", ckpt, "--data-dir", data, "--model", "lenet5");
        Assert.Equal(1, wrong);
        Assert.Contains("checkpoint '" + ckpt + "'", wrongErr);
    }
}

using DeepTrain.Tests.Data;
using Xunit;

namespace DeepTrain.Tests.Cli;

/// <summary>Where <c>deeptrain train</c> writes: into the resumed folder unless --out says otherwise, and never over another run without --overwrite.</summary>
[Collection(nameof(ConsoleCollection))]
public class RunFolderCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private string[] Common() => ["train", "--model", "mlp", "--data", "mnist", "--data-dir", CliRunner.MakeMnist(_dir, 96, 40), "--batch-size", "32", "--lr", "0.05", "--eval-batch-size", "20"];

    [Fact]
    public void ResumeWithoutOut_WritesIntoTheResumedFolder()
    {
        string[] common = Common();
        string a = _dir["a"];
        var first = CliRunner.Run([.. common, "--epochs", "1", "--out", a]);
        Assert.True(first.Code == 0, first.Err);
        string cwdLatest = Path.GetFullPath(Path.Combine("runs", "latest", "metrics.jsonl"));
        var before = File.Exists(cwdLatest) ? File.GetLastWriteTimeUtc(cwdLatest) : default;
        var second = CliRunner.Run([.. common, "--epochs", "2", "--resume", a]);
        Assert.True(second.Code == 0, second.Err);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(a, "metrics.jsonl")).Length);
        Assert.Equal("2", DeepTrain.Training.ModelCheckpoint.ReadMetadata(Path.Combine(a, "model.safetensors"))["epoch"]);
        Assert.Equal(before, File.Exists(cwdLatest) ? File.GetLastWriteTimeUtc(cwdLatest) : default);   // runs/latest untouched
    }

    [Fact]
    public void AnOutFolderHoldingAnotherRun_IsRefusedWithoutOverwrite()
    {
        string[] common = Common();
        string a = _dir["a"];
        Assert.Equal(0, CliRunner.Run([.. common, "--epochs", "1", "--out", a]).Code);
        byte[] model = File.ReadAllBytes(Path.Combine(a, "model.safetensors"));
        var again = CliRunner.Run([.. common, "--epochs", "1", "--seed", "2", "--out", a]);
        Assert.Equal(1, again.Code);
        Assert.Contains("--out", again.Err);
        Assert.Contains("--overwrite", again.Err);
        Assert.DoesNotContain("FitOptions", again.Err);
        Assert.Equal(model, File.ReadAllBytes(Path.Combine(a, "model.safetensors")));
        var forced = CliRunner.Run([.. common, "--epochs", "1", "--seed", "2", "--out", a, "--overwrite"]);
        Assert.True(forced.Code == 0, forced.Err);
        Assert.NotEqual(model, File.ReadAllBytes(Path.Combine(a, "model.safetensors")));
    }
}

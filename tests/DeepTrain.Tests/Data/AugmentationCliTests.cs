using DeepTrain.Tests.Cli;
using Xunit;

namespace DeepTrain.Tests.Data;

/// <summary><c>deeptrain train</c>'s augmentation options and <c>deeptrain eval --tta</c>, in process.</summary>
[Collection(nameof(ConsoleCollection))]
public class AugmentationCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static (int Code, string Out, string Err) Run(params string[] args) => CliRunner.Run(args);

    private string MakeMnist(int train = 64, int test = 20) => CliRunner.MakeMnist(_dir, train, test);

    [Fact]
    public void Help_ListsEveryAugmentationOption()
    {
        var (_, output, _) = Run("train", "--help");
        foreach (var option in new[] { "--augment", "--color-jitter", "--rotate", "--translate", "--random-erasing", "--cutmix" })
            Assert.Contains(option, output);
        Assert.Contains("--tta", Run("eval", "--help").Out);
    }

    [Fact]
    public void TrainWithEveryGrayAugmentation_ThenEvalWithTta()
    {
        string data = MakeMnist(), outDir = _dir["run"];
        var (code, output, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", data, "--epochs", "1", "--batch-size", "16",
            "--out", outDir, "--augment", "--color-jitter", "0.4,0.4,0", "--rotate", "5", "--translate", "0.1", "--random-erasing", "0.5", "--cutmix", "1.0,0.5");
        Assert.True(code == 0, err);
        Assert.Contains("affine(degrees=5, translate=0.1)", output);
        Assert.Contains("cutmix(alpha=1, p=0.5)", output);
        var (evalCode, evalOut, evalErr) = Run("eval", "--checkpoint", Path.Combine(outDir, "model.safetensors"), "--data-dir", data, "--tta", "flip+crops");
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains("without TTA", evalOut);
        Assert.Contains("10 views", evalOut);
    }

    [Theory]
    [InlineData("--rotate", "7", "[0, 5]")]
    [InlineData("--translate", "-0.1", "[0, 1]")]
    [InlineData("--random-erasing", "1.5", "[0, 1]")]
    [InlineData("--color-jitter", "0.1,0.2", "B,C,S")]
    [InlineData("--color-jitter", "0.1,0.1,0.3", "RGB")]   // saturation on MNIST
    [InlineData("--cutmix", "0", "> 0")]
    [InlineData("--cutmix", "1,2", "[0, 1]")]
    [InlineData("--cutmix", "one", "ALPHA[,P]")]
    public void BadAugmentationOptions_AreRejected_NamingTheOptionAndRange(string option, string value, string expected)
    {
        var (code, _, err) = Run("train", "--model", "mlp", "--data", "mnist", "--data-dir", MakeMnist(), "--epochs", "1", "--out", _dir["bad"], option, value);
        Assert.Equal(1, code);
        Assert.Contains(option, err);
        Assert.Contains(expected, err);
    }

    [Fact]
    public void Eval_RejectsAnUnknownTta()
    {
        var (code, _, err) = Run("eval", "--checkpoint", _dir["none.safetensors"], "--tta", "mirror");
        Assert.Equal(1, code);
        Assert.Contains("flip+crops", err);
    }
}

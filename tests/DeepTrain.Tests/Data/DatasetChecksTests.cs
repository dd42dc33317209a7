using DeepTrain.Data;
using DeepTrain.Tests.Cli;
using Xunit;

namespace DeepTrain.Tests.Data;

/// <summary>Consistency of the splits before training (issue 13, items 3 and 4).</summary>
public class DatasetChecksTests
{
    private static Dataset Set(string name, int count, int c = 1, int h = 4, int w = 4, int classes = 10) =>
        new(name, c, h, w, classes, new byte[count * c * h * w], Enumerable.Range(0, count).Select(i => i % classes).ToArray());

    [Fact]
    public void MatchingSplits_Pass()
        => DatasetChecks.EnsureCompatible(Set("a/train", 20), Set("a/val", 5), Set("a/test", 7), classes: 10);

    [Fact]
    public void TestSetOfAnotherImageSize_NamesBothSetsAndShapes()
    {
        var e = Assert.Throws<InvalidDatasetException>(() => DatasetChecks.EnsureCompatible(Set("cifar10/train", 4, 3, 32, 32), test: Set("cifar10/test", 4, 3, 24, 24)));
        Assert.Equal("test set 'cifar10/test' has images of 3×24×24, but training set 'cifar10/train' has 3×32×32; expected the same shape", e.Message);
        Assert.Equal("cifar10/test", e.DatasetName);
    }

    [Fact]
    public void ValidationSetOfOtherChannels_IsRefused()
    {
        var e = Assert.Throws<InvalidDatasetException>(() => DatasetChecks.EnsureCompatible(Set("t", 4), Set("v", 4, c: 3)));
        Assert.StartsWith("validation set 'v' has images of 3×4×4, but training set 't' has 1×4×4", e.Message);
    }

    [Theory]
    [InlineData(0, 5)]
    [InlineData(5, 0)]
    public void EmptySplit_NamesTheSet(int train, int test)
    {
        var e = Assert.Throws<InvalidDatasetException>(() => DatasetChecks.EnsureCompatible(Set("m/train", train), test: Set("m/test", test)));
        Assert.Equal(train == 0 ? "training set 'm/train' has no images; expected at least one" : "test set 'm/test' has no images; expected at least one", e.Message);
    }

    [Fact]
    public void LabelBeyondTheModelsClasses_NamesSetLabelAndImage()
    {
        var e = Assert.Throws<InvalidDatasetException>(() => DatasetChecks.EnsureCompatible(Set("m/train", 12), classes: 5));
        Assert.Equal("training set 'm/train' has label 5 at image 5, but the model has 5 classes; expected labels 0..4", e.Message);
    }
}

/// <summary>The checks as the commands that load data themselves (eval, lr-find) report them.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class DatasetChecksCliTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void LrFind_OnAnEmptyTrainingSet_SaysSo()
    {
        string data = CliRunner.MakeMnist(_dir, train: 0, test: 8);
        var (code, output, err) = CliRunner.Run("lr-find", "--model", "lenet5", "--data", "mnist", "--data-dir", data);
        Assert.Equal(1, code);
        Assert.Equal("error: training set 'mnist/train' has no images; expected at least one\n", err.ReplaceLineEndings("\n"));
        Assert.DoesNotContain("   at ", output + err);
    }
}

/// <summary>A data folder that exists but cannot be listed is reported as such, not as missing files (issue 13, item 9).</summary>
public class UnreadableDataFolderTests
{
    [Fact]
    public void UnreadableFolder_SaysCannotRead_NotMissing()
    {
        using var dir = new TempDir();
        string full = Path.GetFullPath(dir.Path);
        // Root lists every folder whatever its mode, so the failure is injected for this one folder.
        var e = Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Load("mnist", dir.Path, train: true, dataRoot: null,
            readProblem: f => f == full ? $"Access to the path '{f}' is denied." : null));
        Assert.Contains($"  {full} (cannot read: Access to the path '{full}' is denied.)\n", e.Message);
        Assert.DoesNotContain($"{full} (missing:", e.Message);
    }
}

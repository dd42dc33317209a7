using DeepTrain.Data;
using Xunit;

namespace DeepTrain.Tests.Data;

public class DatasetCatalogTests
{
    [Fact]
    public void MissingFiles_MessageListsFilesFoldersAndDownload()
    {
        using var dir = new TempDir();
        dir.Write("train-images-idx3-ubyte.gz", DataBytes.IdxImages(2, 2, 2), gzip: true);
        var e = Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Load("fashion-mnist", dir.Path, train: true, dataRoot: null));
        Assert.Contains("train-images-idx3-ubyte.gz", e.Message);
        Assert.Contains("train-labels-idx1-ubyte.gz", e.Message);
        Assert.Contains($"{dir.Path} (missing: train-labels-idx1-ubyte)", e.Message);
        Assert.Contains($"{Path.Combine(dir.Path, "fashion-mnist")} (does not exist)", e.Message);
        Assert.Contains("https://github.com/zalandoresearch/fashion-mnist", e.Message);
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.DoesNotContain("/usr/share/datasets", e.Message.Split("Searched folders:")[1].Split("Download")[0]);
    }

    [Fact]
    public void MissingCifar_MessageNamesBatchesAndUrl()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Load("cifar10", dir.Path, train: false, dataRoot: null));
        Assert.Contains("test_batch.bin", e.Message);
        Assert.Contains("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", e.Message);
    }

    [Fact]
    public void DefaultSearch_UsesDataRootSubfolderThenSystemFolders()
    {
        using var root = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => DatasetCatalog.Load("mnist", null, train: false, dataRoot: root.Path));
        int r = e.Message.IndexOf(Path.Combine(root.Path, "mnist"), StringComparison.Ordinal);
        int s = e.Message.IndexOf("/usr/share/datasets/mnist", StringComparison.Ordinal);
        Assert.True(r >= 0 && s > r, e.Message);
        Assert.Contains("t10k-images-idx3-ubyte", e.Message);
    }

    [Theory]
    [InlineData("mnist", false)]
    [InlineData("Fashion_MNIST", true)]
    public void Load_FindsIdxFilesInDataRootSubfolder(string name, bool gzip)
    {
        using var root = new TempDir();
        string sub = name == "mnist" ? "mnist" : "fashion-mnist";
        string ext = gzip ? ".gz" : "";
        root.Write($"{sub}/t10k-images-idx3-ubyte{ext}", DataBytes.IdxImages(6, 4, 4), gzip);
        root.Write($"{sub}/t10k-labels-idx1-ubyte{ext}", DataBytes.IdxLabels(DataBytes.Labels(6)), gzip);
        var ds = DatasetCatalog.Load(name, null, train: false, dataRoot: root.Path);
        Assert.Equal(($"{sub}/test", 6, 4, 4, 10), (ds.Name, ds.Count, ds.Height, ds.Width, ds.ClassNames!.Count));
    }

    [Fact]
    public void Load_FindsCifarInDataDirSubfolder()
    {
        using var dir = new TempDir();
        dir.Write("cifar-10-batches-bin/test_batch.bin", DataBytes.Cifar(2));
        var ds = DatasetCatalog.Load("cifar10", dir.Path, train: false, dataRoot: null);
        Assert.Equal(("cifar10/test", 2, 3), (ds.Name, ds.Count, ds.Channels));
    }

    [Fact]
    public void UnknownName_ListsValidNames()
    {
        var e = Assert.Throws<ArgumentException>(() => DatasetCatalog.Load("imagenet", null, train: true));
        Assert.Contains("imagenet", e.Message);
        Assert.Contains("mnist, fashion-mnist, cifar10", e.Message);
    }

    [Fact]
    public void FashionMnist_SystemCopy_Loads()
    {
        const string dir = "/usr/share/datasets/fashion-mnist";
        Assert.SkipUnless(File.Exists(Path.Combine(dir, "train-images-idx3-ubyte.gz")),
            $"{dir} is not installed (apt-get install dataset-fashion-mnist)");
        var train = DatasetCatalog.Load("fashion-mnist", dir, train: true);
        var test = DatasetCatalog.Load("fashion-mnist", dir, train: false);
        Assert.Equal((60000, 1, 28, 28, 10), (train.Count, train.Channels, train.Height, train.Width, train.Classes));
        Assert.Equal((10000, 1, 28, 28, 10), (test.Count, test.Channels, test.Height, test.Width, test.Classes));
        // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
        Assert.All(train.Labels.CountBy(l => l), kv => Assert.Equal(6000, kv.Value));
        Assert.All(test.Labels.CountBy(l => l), kv => Assert.Equal(1000, kv.Value));
        // Published statistics of the training set: mean 0.2860, std 0.3530 (of x/255).
        var norm = Normalization.FromDataset(train);
        Assert.Equal(0.2860, norm.Mean[0], 3);
        Assert.Equal(0.3530, norm.Std[0], 3);
    }
}

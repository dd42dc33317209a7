using DeepTrain.Data;
using Xunit;

namespace DeepTrain.Tests.Data;

public class Cifar10ReaderTests
{
    private static TempDir MakeCifar(int perTrainBatch = 2, int test = 3)
    {
        var dir = new TempDir();
        for (int b = 0; b < 5; b++) dir.Write($"data_batch_{b + 1}.bin", DataBytes.Cifar(perTrainBatch, first: b * perTrainBatch));
        dir.Write("test_batch.bin", DataBytes.Cifar(test, first: 100));
        return dir;
    }

    [Fact]
    public void Load_ReadsRecordsAsChw()
    {
        using var dir = MakeCifar();
        var train = Cifar10Reader.Load(dir.Path, train: true);
        Assert.Equal((10, 3, 32, 32, 10), (train.Count, train.Channels, train.Height, train.Width, train.Classes));
        Assert.Equal(Cifar10Reader.StandardClassNames, train.ClassNames);
        for (int n = 0; n < train.Count; n++)
        {
            Assert.Equal(n % 10, train.Labels[n]);
            var img = train.Image(n);
            foreach (var (c, y, x) in new[] { (0, 0, 0), (1, 5, 7), (2, 31, 31), (2, 0, 31) })
                Assert.Equal(DataBytes.Pixel(n, c, y, x), img[c * 1024 + y * 32 + x]);
        }
        var test = Cifar10Reader.Load(dir.Path, train: false);
        Assert.Equal(3, test.Count);
        Assert.Equal(DataBytes.Pixel(102, 1, 3, 4), test.Image(2)[1024 + 3 * 32 + 4]);
        Assert.Equal(102 % 10, test.Labels[2]);
    }

    [Fact]
    public void ClassNames_ComeFromBatchesMeta()
    {
        using var dir = MakeCifar();
        string[] names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        File.WriteAllText(dir["batches.meta.txt"], string.Join("\n", names) + "\n\n");
        Assert.Equal(names, Cifar10Reader.Load(dir.Path, train: false).ClassNames);
    }

    [Fact]
    public void TruncatedFile_NamesFileAndStartOfTheCutRecord()
    {
        using var dir = new TempDir();
        string f = dir.Write("test_batch.bin", DataBytes.Cifar(3)[..(2 * 3073 + 100)]);
        var e = Assert.Throws<DataFormatException>(() => Cifar10Reader.Load(dir.Path, train: false));
        Assert.Equal((f, 2 * 3073L), (e.FilePath, e.Offset));
        Assert.StartsWith($"{f}: offset 6146: file is 6246 bytes, not a multiple of 3073", e.Message);
        Assert.Contains("record 2 is cut off after 100 bytes", e.Message);
    }

    [Fact]
    public void LabelAboveNine_NamesFileAndRecordOffset()
    {
        using var dir = new TempDir();
        byte[] b = DataBytes.Cifar(4);
        b[3 * 3073] = 10;
        string f = dir.Write("test_batch.bin", b);
        var e = Assert.Throws<DataFormatException>(() => Cifar10Reader.Load(dir.Path, train: false));
        Assert.Equal((f, 3 * 3073L), (e.FilePath, e.Offset));
        Assert.Contains("offset 9219: label 10 in record 3, expected 0..9", e.Message);
    }

    [Fact]
    public void MissingBatch_IsFileNotFound()
    {
        using var dir = MakeCifar();
        File.Delete(dir["data_batch_4.bin"]);
        var e = Assert.Throws<FileNotFoundException>(() => Cifar10Reader.Load(dir.Path, train: true));
        Assert.Equal(dir["data_batch_4.bin"], e.FileName);
    }
}

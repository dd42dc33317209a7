using DeepTrain.Data;
using Xunit;

namespace DeepTrain.Tests.Data;

public class IdxReaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Load_ReadsImagesAndLabels(bool gzip)
    {
        using var dir = new TempDir();
        // Names without .gz even when compressed: the reader must detect gzip by its magic.
        string images = dir.Write("images", DataBytes.IdxImages(7, 5, 3), gzip);
        string labels = dir.Write("labels", DataBytes.IdxLabels(DataBytes.Labels(7)), gzip);
        var ds = IdxReader.Load(images, labels, "tiny");
        Assert.Equal(("tiny", 7, 1, 5, 3, 10), (ds.Name, ds.Count, ds.Channels, ds.Height, ds.Width, ds.Classes));
        for (int n = 0; n < 7; n++)
        {
            Assert.Equal(n % 10, ds.Labels[n]);
            for (int y = 0; y < 5; y++)
                for (int x = 0; x < 3; x++)
                    Assert.Equal(DataBytes.Pixel(n, 0, y, x), ds.Pixels[(n * 5 + y) * 3 + x]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrongMagic_NamesFileOffsetAndBothMagics(bool gzip)
    {
        using var dir = new TempDir();
        string images = dir.Write("train-images-idx3-ubyte.gz", DataBytes.IdxLabels(DataBytes.Labels(4)), gzip);   // a labels file in the images' place
        string labels = dir.Write("train-labels-idx1-ubyte.gz", DataBytes.IdxLabels(DataBytes.Labels(4)), gzip);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal(images, e.FilePath);
        Assert.Equal(0, e.Offset);
        Assert.StartsWith($"{images}: offset 0: magic 0x00000801, expected 0x00000803 (IDX ubyte images, 3 dimensions)", e.Message);
    }

    [Fact]
    public void WrongLabelsMagic_Throws()
    {
        using var dir = new TempDir();
        string images = dir.Write("i", DataBytes.IdxImages(4, 2, 2));
        string labels = dir.Write("l", DataBytes.IdxImages(4, 2, 2));
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal((labels, 0L), (e.FilePath, e.Offset));
        Assert.Contains("magic 0x00000803, expected 0x00000801", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedImages_NamesFileAndWhereItEnds(bool gzip)
    {
        using var dir = new TempDir();
        byte[] full = DataBytes.IdxImages(4, 3, 3);                    // 16 + 36 bytes
        string images = dir.Write("imgs", full[..(full.Length - 5)], gzip);
        string labels = dir.Write("lbls", DataBytes.IdxLabels(DataBytes.Labels(4)), gzip);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal((images, 47L), (e.FilePath, e.Offset));
        Assert.Contains($"{images}: offset 47: file ends after 47 bytes, expected 52 (4 images of 3x3)", e.Message);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(11)]
    public void TruncatedHeader_Throws(int length)
    {
        using var dir = new TempDir();
        string images = dir.Write("imgs", DataBytes.IdxImages(4, 3, 3)[..length]);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, images, "x"));
        Assert.Equal((images, (long)length), (e.FilePath, e.Offset));
        Assert.Contains($"file ends after {length} bytes, expected a 16-byte header", e.Message);
    }

    [Fact]
    public void TrailingBytes_Throw()
    {
        using var dir = new TempDir();
        string labels = dir.Write("lbls", [.. DataBytes.IdxLabels(DataBytes.Labels(4)), 0, 0]);
        string images = dir.Write("imgs", DataBytes.IdxImages(4, 3, 3));
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal((labels, 12L), (e.FilePath, e.Offset));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CountMismatch_NamesLabelsFileAndBothCounts(bool gzip)
    {
        using var dir = new TempDir();
        string images = dir.Write("imgs", DataBytes.IdxImages(5, 2, 2), gzip);
        string labels = dir.Write("lbls", DataBytes.IdxLabels(DataBytes.Labels(4)), gzip);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal((labels, 4L), (e.FilePath, e.Offset));
        Assert.StartsWith($"{labels}: offset 4: 4 labels, expected 5 to match the images in {images}", e.Message);
    }

    [Fact]
    public void LabelOutOfRange_NamesOffsetOfTheLabel()
    {
        using var dir = new TempDir();
        string images = dir.Write("imgs", DataBytes.IdxImages(5, 2, 2));
        string labels = dir.Write("lbls", DataBytes.IdxLabels([1, 2, 3, 12, 4]), gzip: true);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal((labels, 11L), (e.FilePath, e.Offset));
        Assert.Contains("offset 11: label 12 of image 3, expected 0..9 (10 classes)", e.Message);
    }

    [Fact]
    public void CorruptGzip_IsADataFormatError()
    {
        using var dir = new TempDir();
        string good = dir.Write("good", DataBytes.IdxImages(50, 8, 8), gzip: true);
        byte[] z = File.ReadAllBytes(good);
        for (int i = 20; i < z.Length - 8; i++) z[i] ^= 0x5A;
        string bad = dir.Write("bad", z);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(bad, bad, "x"));
        Assert.Equal(bad, e.FilePath);
    }

    [Fact]
    public void MissingFile_IsFileNotFound()
    {
        using var dir = new TempDir();
        Assert.Throws<FileNotFoundException>(() => IdxReader.Load(dir["nope"], dir["nope2"], "x"));
    }
}

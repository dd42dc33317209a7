using System.Buffers.Binary;
using System.IO.Compression;
using DeepTrain.Data;
using Xunit;

namespace DeepTrain.Tests.Data;

/// <summary>
/// Files that lie about their size, carry bytes after their gzip stream, or cannot be read: each gives the
/// data layer's own exception naming the file, never an OutOfMemoryException, an overflow or a raw
/// UnauthorizedAccessException (issue 13, items 6 and 9).
/// </summary>
public class DataFileFailureTests
{
    /// <summary>Allowed allocation for reading a few hundred bytes: stream buffers, not the claimed size.</summary>
    private const long SmallAllocation = 1 << 20;

    [Fact]
    public void GzipLabels_Claiming2Pow31Minus1_RefusedBeforeAllocating()
    {
        using var dir = new TempDir();
        string images = dir.Write("images.gz", DataBytes.IdxImages(4, 2, 2), gzip: true);
        byte[] lie = DataBytes.IdxLabels(DataBytes.Labels(4));
        BinaryPrimitives.WriteInt32BigEndian(lie.AsSpan(4), int.MaxValue);
        string labels = dir.Write("labels.gz", lie, gzip: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < SmallAllocation, "the claimed size was allocated");
        Assert.Equal(labels, e.FilePath);
        Assert.Contains($"{int.MaxValue} labels", e.Message);
    }

    [Fact]
    public void GzipLabels_ClaimingMoreThanTheyHold_AllocateOnlyWhatArrives()
    {
        using var dir = new TempDir();
        string images = dir.Write("images.gz", DataBytes.IdxImages(4, 2, 2), gzip: true);
        byte[] lie = DataBytes.IdxLabels(DataBytes.Labels(4));
        BinaryPrimitives.WriteInt32BigEndian(lie.AsSpan(4), 500_000_000);
        string labels = dir.Write("labels.gz", lie, gzip: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < SmallAllocation, "the claimed size was allocated");
        Assert.Contains("file ends after 12 bytes, expected 500000008 (500000000 labels)", e.Message);
    }

    [Fact]
    public void GzipImages_WhoseDimensionsOverflowALong_AreRefused()
    {
        using var dir = new TempDir();
        byte[] lie = DataBytes.IdxImages(1, 2, 2);
        // (2^31−1)·(2^31−1)·0x40000001 wraps a long to −3221225471, which passed the size check as negative.
        BinaryPrimitives.WriteInt32BigEndian(lie.AsSpan(4), int.MaxValue);
        BinaryPrimitives.WriteInt32BigEndian(lie.AsSpan(8), int.MaxValue);
        BinaryPrimitives.WriteInt32BigEndian(lie.AsSpan(12), 0x40000001);
        string images = dir.Write("images.gz", lie, gzip: true);
        string labels = dir.Write("labels.gz", DataBytes.IdxLabels(DataBytes.Labels(1)), gzip: true);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal(images, e.FilePath);
        Assert.Contains("more than one array can hold", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Gzip_WithBytesAfterTheStream_IsRefusedNamingTheFile(int garbage)
    {
        using var dir = new TempDir();
        var ms = new MemoryStream();
        using (var g = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) g.Write(DataBytes.IdxImages(4, 2, 2));
        ms.Write(Enumerable.Range(0, garbage).Select(i => (byte)(i * 7 + 1)).ToArray());
        string images = dir.Write("images.gz", ms.ToArray());
        string labels = dir.Write("labels.gz", DataBytes.IdxLabels(DataBytes.Labels(4)), gzip: true);
        var e = Assert.Throws<DataFormatException>(() => IdxReader.Load(images, labels, "x"));
        Assert.Equal(images, e.FilePath);
        Assert.Contains("data follows the gzip stream", e.Message);
    }

    [Fact]
    public void IdxFile_ThatIsAFolder_CannotBeRead_NamesTheFile()
    {
        // Root reads files whatever their mode, so the unreadable file is a folder in its place.
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["images"]);
        string labels = dir.Write("labels", DataBytes.IdxLabels(DataBytes.Labels(4)));
        var e = Assert.Throws<DataFileAccessException>(() => IdxReader.Load(dir["images"], labels, "x"));
        Assert.Equal(dir["images"], e.FilePath);
        Assert.Equal($"cannot read data file '{dir["images"]}': it is a folder, expected a file", e.Message);
    }

    [Fact]
    public void CifarFile_ThatIsAFolder_CannotBeRead_NamesTheFile()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["data_batch_1.bin"]);
        var e = Assert.Throws<DataFileAccessException>(() => Cifar10Reader.LoadFiles([dir["data_batch_1.bin"]], "x"));
        Assert.Equal($"cannot read data file '{dir["data_batch_1.bin"]}': it is a folder, expected a file", e.Message);
    }

    [Fact]
    public void CifarReader_AllocatesForTheFile_NotAFixedChunk()
    {
        using var dir = new TempDir();
        string path = dir.Write("data_batch_1.bin", DataBytes.Cifar(2));
        Cifar10Reader.LoadFiles([path], "warm-up");
        long before = GC.GetAllocatedBytesForCurrentThread();
        Cifar10Reader.LoadFiles([path], "x");
        // Two records are 6 KiB; the fixed 512-record chunk was 1.5 MiB.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 256 * 1024);
    }
}

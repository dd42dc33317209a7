using System.Buffers.Binary;
using System.IO.Compression;

namespace DeepTrain.Tests.Data;

/// <summary>A temporary folder that deletes itself, plus writers for small IDX and CIFAR-10 files.</summary>
public sealed class TempDir : IDisposable
{
    /// <summary>Creates an empty folder under the system temp directory.</summary>
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "deeptrain-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    /// <summary>The folder.</summary>
    public string Path { get; }

    /// <summary>Full path of <paramref name="name"/> inside the folder.</summary>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="bytes"/>, gzip-compressed when <paramref name="gzip"/>; returns the path.</summary>
    public string Write(string name, byte[] bytes, bool gzip = false)
    {
        string p = this[name];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        if (!gzip) { File.WriteAllBytes(p, bytes); return p; }
        using var f = File.Create(p);
        using var z = new GZipStream(f, CompressionLevel.Fastest);
        z.Write(bytes);
        return p;
    }

    /// <summary>Deletes the folder.</summary>
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Builds IDX and CIFAR-10 file contents in memory.</summary>
public static class DataBytes
{
    /// <summary>Deterministic pixel value of image n at (c, y, x).</summary>
    public static byte Pixel(int n, int c, int y, int x) => (byte)((n * 37 + c * 11 + y * 5 + x * 3) & 0xFF);

    /// <summary>An IDX3 images file: header then count×rows×cols bytes from <see cref="Pixel"/>.</summary>
    public static byte[] IdxImages(int count, int rows, int cols, uint magic = 0x00000803)
    {
        var b = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteUInt32BigEndian(b, magic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), cols);
        for (int n = 0; n < count; n++)
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < cols; x++)
                    b[16 + (n * rows + y) * cols + x] = Pixel(n, 0, y, x);
        return b;
    }

    /// <summary>An IDX1 labels file with the given labels.</summary>
    public static byte[] IdxLabels(byte[] labels, uint magic = 0x00000801)
    {
        var b = new byte[8 + labels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(b, magic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), labels.Length);
        labels.CopyTo(b, 8);
        return b;
    }

    /// <summary>Labels n % classes.</summary>
    public static byte[] Labels(int count, int classes = 10) => Enumerable.Range(0, count).Select(i => (byte)(i % classes)).ToArray();

    /// <summary>A CIFAR-10 batch of <paramref name="count"/> records, image n labelled (n + first) % 10.</summary>
    public static byte[] Cifar(int count, int first = 0)
    {
        var b = new byte[count * 3073];
        for (int n = 0; n < count; n++)
        {
            b[n * 3073] = (byte)((n + first) % 10);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                        b[n * 3073 + 1 + c * 1024 + y * 32 + x] = Pixel(n + first, c, y, x);
        }
        return b;
    }
}

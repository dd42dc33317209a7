using System.Buffers.Binary;
using System.IO.Compression;

namespace DeepTrain.Data;

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
/// a big-endian header — magic <c>0x00000803</c> (unsigned bytes, 3 dimensions) then count, rows,
/// columns for images; magic <c>0x00000801</c> then count for labels — followed by the raw bytes.
/// A file may be gzip-compressed; that is detected by the gzip magic 1F 8B, not by the file name.
/// Offsets in error messages count decompressed bytes.
/// </summary>
public static class IdxReader
{
    /// <summary>Magic of an IDX file of unsigned bytes with 3 dimensions (N, rows, cols).</summary>
    public const uint ImagesMagic = 0x00000803;
    /// <summary>Magic of an IDX file of unsigned bytes with 1 dimension (N).</summary>
    public const uint LabelsMagic = 0x00000801;

    /// <summary>
    /// Loads an images file and its labels file as a one-channel <see cref="Dataset"/>.
    /// </summary>
    /// <param name="imagesPath">IDX3 ubyte images, raw or gzip.</param>
    /// <param name="labelsPath">IDX1 ubyte labels, raw or gzip.</param>
    /// <param name="name">Dataset name, e.g. <c>fashion-mnist/train</c>.</param>
    /// <param name="classes">Number of classes; a label at or above it is an error.</param>
    /// <param name="classNames">Optional class names (length <paramref name="classes"/>).</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="DataFormatException">Wrong magic, truncated or over-long data, image and label counts differ, or a label is out of range.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static Dataset Load(string imagesPath, string labelsPath, string name, int classes = 10, IReadOnlyList<string>? classNames = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        var (pixels, count, rows, cols) = ReadImages(imagesPath);
        byte[] raw = ReadLabels(labelsPath, out long labelsOffset);
        if (raw.Length != count)
            throw new DataFormatException(labelsPath, 4, $"{raw.Length} labels, expected {count} to match the images in {imagesPath}");
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            if (raw[i] >= classes)
                throw new DataFormatException(labelsPath, labelsOffset + i, $"label {raw[i]} of image {i}, expected 0..{classes - 1} ({classes} classes)");
            labels[i] = raw[i];
        }
        return new Dataset(name, 1, rows, cols, classes, pixels, labels, classNames);
    }

    /// <summary>Reads an IDX3 ubyte images file: (N, rows, cols) bytes.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFormatException">Wrong magic, bad dimensions, truncated or over-long data.</exception>
    internal static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(string path)
    {
        using var f = new IdxStream(path);
        Span<byte> header = stackalloc byte[16];
        f.ReadHeader(header, ImagesMagic, "IDX ubyte images, 3 dimensions");
        int count = f.Dimension(header, 1, "image count");
        int rows = f.Dimension(header, 2, "rows");
        int cols = f.Dimension(header, 3, "columns");
        if (rows == 0 || cols == 0)
            throw new DataFormatException(path, rows == 0 ? 8 : 12, $"images of {rows}x{cols}, expected at least 1x1");
        long bytes = (long)count * rows * cols;
        if (bytes > Array.MaxLength)
            throw new DataFormatException(path, 4, $"{count} images of {rows}x{cols} = {bytes} bytes, more than one array can hold ({Array.MaxLength})");
        string what = $"{count} images of {rows}x{cols}";
        f.CheckRawLength(16 + bytes, what);
        var pixels = new byte[bytes];
        f.ReadBody(pixels, 16 + bytes, what);
        return (pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX1 ubyte labels file; <paramref name="dataOffset"/> is where label 0 sits.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFormatException">Wrong magic, truncated or over-long data.</exception>
    internal static byte[] ReadLabels(string path, out long dataOffset)
    {
        using var f = new IdxStream(path);
        Span<byte> header = stackalloc byte[8];
        f.ReadHeader(header, LabelsMagic, "IDX ubyte labels, 1 dimension");
        int count = f.Dimension(header, 1, "label count");
        string what = $"{count} labels";
        f.CheckRawLength(8 + (long)count, what);
        var labels = new byte[count];
        f.ReadBody(labels, 8 + (long)count, what);
        dataOffset = 8;
        return labels;
    }

    /// <summary>A raw or gzip file read front to back, tracking the (decompressed) offset for messages.</summary>
    private sealed class IdxStream : IDisposable
    {
        private readonly string _path;
        private readonly FileStream _file;
        private readonly Stream _stream;
        private readonly bool _gzip;
        private long _offset;

        public IdxStream(string path)
        {
            _path = path;
            _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            Span<byte> magic = stackalloc byte[2];
            int n = _file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
            _file.Position = 0;
            _gzip = n == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
            _stream = _gzip ? new GZipStream(_file, CompressionMode.Decompress) : _file;
        }

        private string Where => _gzip ? " (gzip file; offsets count decompressed bytes)" : "";

        private DataFormatException Error(long offset, string detail) => new(_path, offset, detail + Where);

        private int Read(Span<byte> dst)
        {
            int n;
            try { n = _stream.ReadAtLeast(dst, dst.Length, throwOnEndOfStream: false); }
            catch (InvalidDataException e) { throw new DataFormatException(_path, _offset, $"corrupt gzip data: {e.Message}", e); }
            _offset += n;
            return n;
        }

        public void ReadHeader(Span<byte> header, uint expectedMagic, string meaning)
        {
            int n = Read(header);
            if (n >= 4)
            {
                uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
                if (magic != expectedMagic)
                    throw Error(0, $"magic 0x{magic:X8}, expected 0x{expectedMagic:X8} ({meaning})");
            }
            if (n < header.Length)
                throw Error(n, $"file ends after {n} bytes, expected a {header.Length}-byte header ({meaning})");
        }

        public int Dimension(ReadOnlySpan<byte> header, int index, string what)
        {
            uint d = BinaryPrimitives.ReadUInt32BigEndian(header[(4 * index)..]);
            if (d > int.MaxValue)
                throw Error(4 * index, $"{what} {d}, expected at most {int.MaxValue}");
            return (int)d;
        }

        /// <summary>For a raw file the length is known up front: fail before allocating.</summary>
        public void CheckRawLength(long expected, string what)
        {
            if (_gzip) return;
            long length = _file.Length;
            if (length < expected)
                throw Error(length, $"file ends after {length} bytes, expected {expected} ({what})");
            if (length > expected)
                throw Error(expected, $"{length - expected} bytes after the data, expected the file to end at {expected} ({what})");
        }

        public void ReadBody(byte[] body, long expectedEnd, string what)
        {
            int n = Read(body);
            if (n < body.Length)
                throw Error(_offset, $"file ends after {_offset} bytes, expected {expectedEnd} ({what})");
            Span<byte> extra = stackalloc byte[1];
            if (Read(extra) != 0)
                throw Error(expectedEnd, $"more data after byte {expectedEnd}, expected the file to end there ({what})");
        }

        public void Dispose()
        {
            _stream.Dispose();
            _file.Dispose();
        }
    }
}

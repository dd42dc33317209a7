using System.Buffers.Binary;
using System.IO.Compression;

namespace DeepTrain.Data;

/// <summary>
/// Reads IDX files, the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/):
/// a big-endian header — magic <c>0x00000803</c> (unsigned bytes, 3 dimensions) then count, rows,
/// columns for images; magic <c>0x00000801</c> then count for labels — followed by the raw bytes.
/// A file may be gzip-compressed; that is detected by the gzip magic 1F 8B, not by the file name.
/// Offsets in error messages count decompressed bytes. A gzip file must be one gzip stream and nothing
/// after it: its trailer's size field has to match the data (concatenated gzip members are refused).
/// Memory for the data grows with what a gzip file actually decompresses to, never with what its header
/// claims, so a header that lies about its size fails cleanly instead of allocating gigabytes.
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
    /// <exception cref="DataFormatException">Wrong magic, truncated or over-long data, data after a gzip stream, image and label counts differ, or a label is out of range.</exception>
    /// <exception cref="DataFileAccessException">A file exists but cannot be read (permissions, a folder in its place, an I/O error).</exception>
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
    /// <exception cref="DataFileAccessException">The file cannot be read.</exception>
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
        // In 128 bits: three 31-bit dimensions overflow a long, and a wrapped product would pass the check below.
        Int128 product = (Int128)count * rows * cols;
        if (product > Array.MaxLength)
            throw new DataFormatException(path, 4, $"{count} images of {rows}x{cols} = {product} bytes, more than one array can hold ({Array.MaxLength})");
        long bytes = (long)product;
        string what = $"{count} images of {rows}x{cols}";
        byte[] pixels = f.ReadBody(16, bytes, what);
        return (pixels, count, rows, cols);
    }

    /// <summary>Reads an IDX1 ubyte labels file; <paramref name="dataOffset"/> is where label 0 sits.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DataFormatException">Wrong magic, truncated or over-long data.</exception>
    /// <exception cref="DataFileAccessException">The file cannot be read.</exception>
    internal static byte[] ReadLabels(string path, out long dataOffset)
    {
        using var f = new IdxStream(path);
        Span<byte> header = stackalloc byte[8];
        f.ReadHeader(header, LabelsMagic, "IDX ubyte labels, 1 dimension");
        int count = f.Dimension(header, 1, "label count");
        string what = $"{count} labels";
        byte[] labels = f.ReadBody(8, count, what);
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
            _file = DataFileAccessException.Open(path);
            var magic = new byte[2];
            int n = DataFileAccessException.Guard(path, () => _file.ReadAtLeast(magic, 2, throwOnEndOfStream: false));
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
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DataFileAccessException(_path, e); }
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

        /// <summary>
        /// Reads the <paramref name="length"/> data bytes that follow a <paramref name="headerLength"/>-byte
        /// header and checks that the file ends there. A raw file's length is known up front, so it fails
        /// before allocating. A gzip file's is not: its buffer starts small and doubles as data arrives, so
        /// memory follows what the file really holds, not what its header claims.
        /// </summary>
        public byte[] ReadBody(long headerLength, long length, string what)
        {
            long expectedEnd = headerLength + length;
            if (length > Array.MaxLength)
                throw Error(4, $"{what} = {length} bytes, more than one array can hold ({Array.MaxLength})");
            if (!_gzip)
            {
                long fileLength = _file.Length;
                if (fileLength < expectedEnd)
                    throw Error(fileLength, $"file ends after {fileLength} bytes, expected {expectedEnd} ({what})");
                if (fileLength > expectedEnd)
                    throw Error(expectedEnd, $"{fileLength - expectedEnd} bytes after the data, expected the file to end at {expectedEnd} ({what})");
            }
            var body = new byte[_gzip ? Math.Min(length, InitialGzipBuffer) : length];
            long filled = 0;
            while (true)
            {
                filled += Read(body.AsSpan((int)filled));
                if (filled < body.Length)
                    throw Error(_offset, $"file ends after {_offset} bytes, expected {expectedEnd} ({what})");
                if (filled == length) break;
                Array.Resize(ref body, (int)Math.Min(length, 2L * body.Length));
            }
            Span<byte> extra = stackalloc byte[1];
            if (Read(extra) != 0)
                throw Error(expectedEnd, $"more data after byte {expectedEnd}, expected the file to end there ({what})");
            if (_gzip) CheckGzipTrailer(expectedEnd);
            return body;
        }

        /// <summary>The first buffer for a gzip file's data; it doubles up to the size the header gives.</summary>
        private const int InitialGzipBuffer = 1 << 16;

        /// <summary>
        /// .NET's GZipStream stops at the end of the gzip data and ignores whatever follows, so bytes appended
        /// to the file would pass unseen. A gzip file ends with its uncompressed size mod 2^32 (RFC 1952 ISIZE);
        /// when the file's last four bytes are not that, something follows the stream (or several streams were
        /// joined, whose last trailer counts only the last one).
        /// </summary>
        private void CheckGzipTrailer(long decompressed)
        {
            long length = _file.Length;
            Span<byte> isize = stackalloc byte[4];
            try
            {
                _file.Position = length - 4;
                _file.ReadExactly(isize);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new DataFileAccessException(_path, e); }
            uint recorded = BinaryPrimitives.ReadUInt32LittleEndian(isize);
            if (recorded != unchecked((uint)decompressed))
                throw new DataFormatException(_path, decompressed,
                    $"data follows the gzip stream: the file's last 4 bytes (file bytes {length - 4}..{length - 1}) read {recorded} " +
                    $"where a gzip trailer records the data's size, {unchecked((uint)decompressed)}; expected the file to end with its gzip trailer " +
                    "(trailing bytes, or several gzip files joined, are not accepted)");
        }

        public void Dispose()
        {
            _stream.Dispose();
            _file.Dispose();
        }
    }
}

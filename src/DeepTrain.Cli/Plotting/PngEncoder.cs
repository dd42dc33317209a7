using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace DeepTrain.Cli.Plotting;

/// <summary>
/// A minimal PNG encoder (ISO/IEC 15948): 8-bit RGB, no interlace, every scanline with filter 0 (None),
/// the image data in one zlib stream (RFC 1950) split into IDAT chunks, each chunk closed by the CRC-32
/// of its type and data. Dependency-free, so plots need no native library and no fonts.
/// </summary>
internal static class PngEncoder
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private const int MaxChunk = 1 << 16;

    /// <summary>Encodes <paramref name="rgb"/> (rows top to bottom, 3 bytes per pixel) as a PNG file.</summary>
    /// <exception cref="ArgumentException">The buffer does not hold width·height·3 bytes, or a size is not positive.</exception>
    public static byte[] Encode(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"PNG: width and height must be ≥ 1, got {width}x{height}");
        if (rgb.Length != checked(width * height * 3)) throw new ArgumentException($"PNG: {width}x{height} RGB needs {width * height * 3} bytes, got {rgb.Length}", nameof(rgb));
        using var file = new MemoryStream();
        file.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8;    // bit depth
        ihdr[9] = 2;    // colour type: truecolour (RGB)
        ihdr[10] = 0;   // compression: deflate
        ihdr[11] = 0;   // filter method 0
        ihdr[12] = 0;   // no interlace
        WriteChunk(file, "IHDR", ihdr);

        using var zlib = new MemoryStream();
        using (var z = new ZLibStream(zlib, CompressionLevel.Optimal, leaveOpen: true))
        {
            int stride = width * 3;
            for (int y = 0; y < height; y++)
            {
                z.WriteByte(0);   // filter type None
                z.Write(rgb.Slice(y * stride, stride));
            }
        }
        var data = zlib.GetBuffer().AsSpan(0, (int)zlib.Length);
        for (int i = 0; i < data.Length; i += MaxChunk) WriteChunk(file, "IDAT", data.Slice(i, Math.Min(MaxChunk, data.Length - i)));
        WriteChunk(file, "IEND", []);
        return file.ToArray();
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type, head[4..]);
        s.Write(head);
        s.Write(data);
        uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, head[4..]), data) ^ 0xFFFFFFFFu;
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }
}

/// <summary>CRC-32 (ISO 3309, polynomial 0xEDB88320 reflected) as PNG chunks use it: start at 0xFFFFFFFF, finish by inverting.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = Build();

    private static uint[] Build()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    /// <summary>Feeds <paramref name="data"/> into a running (not yet inverted) CRC.</summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>The finished CRC-32 of <paramref name="data"/> (e.g. 0xCBF43926 for "123456789").</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Update(0xFFFFFFFFu, data) ^ 0xFFFFFFFFu;
}

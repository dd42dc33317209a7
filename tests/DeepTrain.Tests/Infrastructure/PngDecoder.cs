using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using DeepTrain.Cli.Plotting;
using Xunit;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// An independent reading of a PNG file for tests: checks the signature, walks the chunks verifying each
/// CRC-32 (computed here bit by bit, not with the encoder's table), requires IHDR first and IEND last,
/// inflates the concatenated IDAT data and undoes the scanline filters (all five types), for 8-bit RGB.
/// </summary>
internal sealed class PngDecoder
{
    public int Width { get; private init; }
    public int Height { get; private init; }
    public List<string> Chunks { get; } = [];
    private byte[] _rgb = [];

    public Rgb this[int x, int y] { get { int i = (y * Width + x) * 3; return new Rgb(_rgb[i], _rgb[i + 1], _rgb[i + 2]); } }

    /// <summary>How many pixels are exactly <paramref name="c"/>.</summary>
    public int Count(Rgb c)
    {
        int n = 0;
        for (int i = 0; i < _rgb.Length; i += 3) if (_rgb[i] == c.R && _rgb[i + 1] == c.G && _rgb[i + 2] == c.B) n++;
        return n;
    }

    public static uint BitwiseCrc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    public static PngDecoder Decode(byte[] file)
    {
        byte[] sig = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        Assert.True(file.AsSpan(0, 8).SequenceEqual(sig), "PNG signature");
        int pos = 8, width = 0, height = 0;
        var idat = new MemoryStream();
        var chunks = new List<string>();
        while (pos < file.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
            string type = Encoding.ASCII.GetString(file, pos + 4, 4);
            var typeAndData = file.AsSpan(pos + 4, 4 + len);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(pos + 8 + len));
            Assert.True(BitwiseCrc32(typeAndData) == crc, $"CRC of chunk {chunks.Count} ({type})");
            var data = file.AsSpan(pos + 8, len);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal([8, 2, 0, 0, 0], data[8..13].ToArray());   // 8-bit RGB, deflate, filter 0, no interlace
            }
            if (type == "IDAT") idat.Write(data);
            chunks.Add(type);
            pos += 12 + len;
        }
        Assert.Equal(file.Length, pos);
        Assert.Equal("IHDR", chunks[0]);
        Assert.Equal("IEND", chunks[^1]);
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        var raw = new MemoryStream();
        z.CopyTo(raw);
        int stride = width * 3;
        Assert.Equal((stride + 1) * height, raw.Length);
        var bytes = raw.ToArray();
        var rgb = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            int filter = bytes[y * (stride + 1)];
            for (int i = 0; i < stride; i++)
            {
                int a = i >= 3 ? rgb[y * stride + i - 3] : 0, b = y > 0 ? rgb[(y - 1) * stride + i] : 0, c = i >= 3 && y > 0 ? rgb[(y - 1) * stride + i - 3] : 0;
                int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
                int pred = filter switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) / 2, 4 => pa <= pb && pa <= pc ? a : pb <= pc ? b : c, _ => throw new InvalidDataException($"filter {filter}") };
                rgb[y * stride + i] = (byte)(bytes[y * (stride + 1) + 1 + i] + pred);
            }
        }
        var d = new PngDecoder { Width = width, Height = height, _rgb = rgb };
        d.Chunks.AddRange(chunks);
        return d;
    }
}

using System.Buffers.Binary;
using System.IO.Compression;

namespace DeepTrain.Serving.Tests;

/// <summary>Writes 8-bit grayscale or RGB PNGs (filter 0 on every row) for the tests: what a client would send.</summary>
internal static class TestPng
{
    public static byte[] Encode(int width, int height, int channels, byte[] planar, byte colorType = 255, byte depth = 8, byte interlace = 0)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++) raw.WriteByte(planar[(c * height + y) * width + x]);
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) raw.WriteTo(zs);
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = depth;
        ihdr[9] = colorType != 255 ? colorType : (byte)(channels == 1 ? 0 : 2);
        ihdr[12] = interlace;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type, head.AsSpan(4));
        s.Write(head);
        s.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32Of(head.AsSpan(4), data));
        s.Write(crc);
    }

    /// <summary>CRC-32 (ISO 3309, reflected polynomial 0xEDB88320) over the chunk type and data, as PNG requires.</summary>
    private static uint Crc32Of(ReadOnlySpan<byte> type, ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        void Add(ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes)
            {
                c ^= b;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
        }
        Add(type);
        Add(data);
        return c ^ 0xFFFFFFFF;
    }
}

using System.Buffers.Binary;
using System.IO.Compression;

namespace DeepTrain.ExampleService;

/// <summary>
/// A small PNG decoder for what a classifier is sent: 8-bit grayscale (colour type 0) or RGB (colour type 2), not interlaced
/// (PNG spec, ISO/IEC 15948: chunks, zlib-compressed IDAT, per-row filters 0–4). Anything else is refused with what was expected.
/// Output: planar bytes (C, H, W), as the IDX and CIFAR readers give.
/// </summary>
internal static class PngDecoder
{
    private static ReadOnlySpan<byte> Signature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Decodes <paramref name="png"/> into (channels, height, width, planar pixels).</summary>
    /// <exception cref="InvalidDataException">Not a PNG, or one this decoder does not read; the message says what it expected.</exception>
    public static (int Channels, int Height, int Width, byte[] Pixels) Decode(ReadOnlySpan<byte> png)
    {
        if (png.Length < 8 || !png[..8].SequenceEqual(Signature)) throw new InvalidDataException("not a PNG image (no PNG signature)");
        int width = 0, height = 0, channels = 0;
        bool headerSeen = false;
        using var idat = new MemoryStream();
        for (int at = 8; ;)
        {
            if (at + 12 > png.Length) throw new InvalidDataException("truncated PNG: no IEND chunk");
            int length = BinaryPrimitives.ReadInt32BigEndian(png[at..]);
            if (length < 0 || at + 12L + length > png.Length) throw new InvalidDataException("truncated PNG: a chunk runs past the end");
            var type = png.Slice(at + 4, 4);
            var data = png.Slice(at + 8, length);
            at += 12 + length;
            if (type.SequenceEqual("IHDR"u8))
            {
                if (length != 13) throw new InvalidDataException("bad PNG header (IHDR is not 13 bytes)");
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                byte depth = data[8], color = data[9], interlace = data[12];
                if (depth != 8 || color is not (0 or 2))
                    throw new InvalidDataException($"PNG of bit depth {depth}, colour type {color}; expected 8-bit grayscale (type 0) or RGB (type 2)");
                if (interlace != 0) throw new InvalidDataException("interlaced PNG; expected a non-interlaced image");
                if (width is < 1 or > 4096 || height is < 1 or > 4096) throw new InvalidDataException($"PNG of {width}×{height}; expected 1 to 4096 pixels a side");
                channels = color == 0 ? 1 : 3;
                headerSeen = true;
            }
            else if (type.SequenceEqual("IDAT"u8)) idat.Write(data);
            else if (type.SequenceEqual("IEND"u8)) break;
        }
        if (!headerSeen) throw new InvalidDataException("PNG without an IHDR header");
        int stride = width * channels;
        var raw = new byte[(stride + 1) * height];
        idat.Position = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            z.ReadExactly(raw);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new InvalidDataException($"PNG image data does not decompress to {height} rows of {stride} bytes: {e.Message}");
        }
        return (channels, height, width, Planar(Unfilter(raw, height, stride, channels), height, width, channels));
    }

    /// <summary>Undoes each row's filter (None, Sub, Up, Average, Paeth), in place; returns the interleaved pixels.</summary>
    private static byte[] Unfilter(byte[] raw, int height, int stride, int bpp)
    {
        var px = new byte[stride * height];
        for (int y = 0; y < height; y++)
        {
            byte filter = raw[y * (stride + 1)];
            var src = raw.AsSpan(y * (stride + 1) + 1, stride);
            var row = px.AsSpan(y * stride, stride);
            var up = y > 0 ? px.AsSpan((y - 1) * stride, stride) : new byte[stride];
            for (int i = 0; i < stride; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = up[i], c = i >= bpp ? up[i - bpp] : 0;
                row[i] = (byte)(src[i] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG row {y} has filter type {filter}; expected 0 to 4"),
                });
            }
        }
        return px;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>(H, W, C) interleaved to (C, H, W) planar.</summary>
    private static byte[] Planar(byte[] px, int height, int width, int channels)
    {
        if (channels == 1) return px;
        var planar = new byte[px.Length];
        int plane = height * width;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < channels; c++) planar[c * plane + i] = px[i * channels + c];
        return planar;
    }
}

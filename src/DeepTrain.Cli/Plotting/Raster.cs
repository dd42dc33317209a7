namespace DeepTrain.Cli.Plotting;

/// <summary>An RGB colour, 8 bits per channel.</summary>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>White.</summary>
    public static Rgb White => new(255, 255, 255);
    /// <summary>Black.</summary>
    public static Rgb Black => new(0, 0, 0);

    /// <summary>This colour laid over <paramref name="under"/> with coverage <paramref name="a"/> in [0, 1].</summary>
    public Rgb Over(Rgb under, double a) => new(Mix(R, under.R, a), Mix(G, under.G, a), Mix(B, under.B, a));

    private static byte Mix(byte top, byte bottom, double a) => (byte)Math.Round(bottom + (top - bottom) * Math.Clamp(a, 0, 1));
}

/// <summary>
/// A white RGB canvas with the few primitives a line chart needs: rectangles, anti-aliased lines (Xiaolin
/// Wu's algorithm, drawn thick by offsetting), square markers and text in <see cref="BitmapFont"/>.
/// Coordinates are pixels from the top-left corner; anything outside the canvas is clipped. Its pixels are rented
/// from the shared array pool and returned on dispose: <c>deeptrain train</c> redraws a 1.2 MB canvas every epoch, and
/// a fresh one each time was garbage on the large-object heap that kept RSS rising between collections.
/// </summary>
internal sealed class Raster : IDisposable
{
    private byte[] _rgb;
    private readonly int _length;

    /// <summary>Creates a white canvas.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1.</exception>
    public Raster(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        (Width, Height) = (width, height);
        _length = checked(width * height * 3);
        _rgb = System.Buffers.ArrayPool<byte>.Shared.Rent(_length);
        _rgb.AsSpan(0, _length).Fill(255);
    }

    /// <summary>Returns the pixels to the pool; the canvas must not be used after.</summary>
    public void Dispose()
    {
        if (_rgb.Length == 0) return;
        System.Buffers.ArrayPool<byte>.Shared.Return(_rgb);
        _rgb = [];
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; }
    /// <summary>The pixels, rows top to bottom, R, G, B per pixel.</summary>
    public ReadOnlySpan<byte> Pixels => _rgb.AsSpan(0, _length);

    /// <summary>The colour at (x, y).</summary>
    public Rgb this[int x, int y]
    {
        get { int i = (y * Width + x) * 3; return new Rgb(_rgb[i], _rgb[i + 1], _rgb[i + 2]); }
    }

    /// <summary>Blends <paramref name="c"/> over pixel (x, y) with coverage <paramref name="a"/> (1: opaque).</summary>
    public void Plot(int x, int y, Rgb c, double a = 1)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || a <= 0) return;
        int i = (y * Width + x) * 3;
        var now = c.Over(new Rgb(_rgb[i], _rgb[i + 1], _rgb[i + 2]), a);
        (_rgb[i], _rgb[i + 1], _rgb[i + 2]) = (now.R, now.G, now.B);
    }

    /// <summary>Fills the rectangle [x0, x1) × [y0, y1).</summary>
    public void FillRect(int x0, int y0, int x1, int y1, Rgb c)
    {
        for (int y = Math.Max(y0, 0); y < Math.Min(y1, Height); y++)
            for (int x = Math.Max(x0, 0); x < Math.Min(x1, Width); x++) Plot(x, y, c);
    }

    /// <summary>A one-pixel horizontal line from x0 to x1 inclusive.</summary>
    public void HLine(int x0, int x1, int y, Rgb c) => FillRect(Math.Min(x0, x1), y, Math.Max(x0, x1) + 1, y + 1, c);

    /// <summary>A one-pixel vertical line from y0 to y1 inclusive.</summary>
    public void VLine(int x, int y0, int y1, Rgb c) => FillRect(x, Math.Min(y0, y1), x + 1, Math.Max(y0, y1) + 1, c);

    /// <summary>
    /// An anti-aliased line about <paramref name="width"/> pixels wide: Wu's line drawn at offsets across its
    /// direction, each pixel's coverage the fraction of the ideal line's intensity it receives.
    /// </summary>
    public void Line(double x0, double y0, double x1, double y1, Rgb c, double width = 2)
    {
        double dx = x1 - x0, dy = y1 - y0, len = Math.Sqrt(dx * dx + dy * dy);
        if (len == 0) { Plot((int)Math.Round(x0), (int)Math.Round(y0), c); return; }
        double nx = -dy / len, ny = dx / len;   // unit normal
        int passes = Math.Max(1, (int)Math.Round(width * 2) - 1);
        for (int k = 0; k < passes; k++)
        {
            double off = passes == 1 ? 0 : (k / (double)(passes - 1) - 0.5) * (width - 1);
            Wu(x0 + nx * off, y0 + ny * off, x1 + nx * off, y1 + ny * off, c);
        }
    }

    private void Wu(double x0, double y0, double x1, double y1, Rgb c)
    {
        bool steep = Math.Abs(y1 - y0) > Math.Abs(x1 - x0);
        if (steep) { (x0, y0) = (y0, x0); (x1, y1) = (y1, x1); }
        if (x0 > x1) { (x0, x1) = (x1, x0); (y0, y1) = (y1, y0); }
        double gradient = x1 == x0 ? 1 : (y1 - y0) / (x1 - x0);
        int xs = (int)Math.Round(x0), xe = (int)Math.Round(x1);
        double y = y0 + gradient * (xs - x0);
        for (int x = xs; x <= xe; x++, y += gradient)
        {
            int yi = (int)Math.Floor(y);
            double f = y - yi;
            if (steep) { Plot(yi, x, c, 1 - f); Plot(yi + 1, x, c, f); }
            else { Plot(x, yi, c, 1 - f); Plot(x, yi + 1, c, f); }
        }
    }

    /// <summary>A filled square marker of side 2·<paramref name="half"/> + 1 centred on (x, y).</summary>
    public void Marker(double x, double y, Rgb c, int half = 2)
    {
        int cx = (int)Math.Round(x), cy = (int)Math.Round(y);
        FillRect(cx - half, cy - half, cx + half + 1, cy + half + 1, c);
    }

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y), each font pixel <paramref name="scale"/>² pixels.</summary>
    public void Text(int x, int y, string text, Rgb c, int scale = 1)
    {
        foreach (char ch in text)
        {
            var glyph = BitmapFont.Glyph(ch);
            for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                    if ((glyph[col] >> row & 1) != 0) FillRect(x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, c);
            x += BitmapFont.Advance * scale;
        }
    }

    /// <summary>Draws <paramref name="text"/> rotated 90° anticlockwise (reading bottom to top), its bottom-left corner at (x, y).</summary>
    public void TextVertical(int x, int y, string text, Rgb c, int scale = 1)
    {
        foreach (char ch in text)
        {
            var glyph = BitmapFont.Glyph(ch);
            for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                    if ((glyph[col] >> row & 1) != 0) FillRect(x + row * scale, y - (col + 1) * scale, x + (row + 1) * scale, y - col * scale, c);
            y -= BitmapFont.Advance * scale;
        }
    }

    /// <summary>Encodes the canvas as a PNG file.</summary>
    public byte[] ToPng() => PngEncoder.Encode(Pixels, Width, Height);
}

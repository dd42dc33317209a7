namespace DeepTrain.Data;

/// <summary>
/// Test-time augmentation for evaluation: the prediction is the mean of the softmax probabilities over
/// several views of each (already normalised) test image,
/// <code>  p(k | x) = (1/V)·Σᵥ softmax(f(viewᵥ(x)))ₖ,   predicted class = argmax p,   loss = −ln p(label | x)</code>
/// The views: the image itself, and with <see cref="Flip"/> its mirror; with <see cref="CropPadding"/> P &gt; 0
/// also the four corner windows of the image zero-padded by P pixels (pixel value 0, i.e. −mean/std after
/// normalisation, as the training crop pads), each mirrored too when flipping: 1, 2, 5 or 10 views. These
/// are the windows torchvision's <c>FiveCrop</c>/<c>TenCrop</c> would take from the padded image, whose
/// centre window is the image itself.
/// </summary>
public sealed class TestTimeAugmentation
{
    /// <summary>The names <see cref="Parse"/> accepts.</summary>
    public static readonly string[] Names = ["none", "flip", "crops", "flip+crops"];

    /// <summary>Creates the views.</summary>
    /// <param name="flip">Add the mirrored views.</param>
    /// <param name="cropPadding">Padding P of the corner crops; 0: no crops.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="cropPadding"/> is negative.</exception>
    public TestTimeAugmentation(bool flip, int cropPadding = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cropPadding);
        Flip = flip;
        CropPadding = cropPadding;
    }

    /// <summary>Whether each window is also evaluated mirrored.</summary>
    public bool Flip { get; }
    /// <summary>Padding of the four corner crops (0: the image alone).</summary>
    public int CropPadding { get; }
    /// <summary>Number of views: (1 or 5 windows) × (1 or 2 mirrors).</summary>
    public int Views => (CropPadding > 0 ? 5 : 1) * (Flip ? 2 : 1);

    /// <summary>
    /// Parses <c>none</c>, <c>flip</c> (2 views), <c>crops</c> (5) or <c>flip+crops</c> (10; also <c>crops+flip</c>);
    /// the crops use <paramref name="cropPadding"/> (the training crop's 4 by default).
    /// </summary>
    /// <exception cref="FormatException">Another name (the message lists the valid ones).</exception>
    public static TestTimeAugmentation Parse(string text, int cropPadding = 4) => text.Trim().ToLowerInvariant() switch
    {
        "none" => new(false),
        "flip" => new(true),
        "crops" => new(false, cropPadding),
        "flip+crops" or "crops+flip" => new(true, cropPadding),
        _ => throw new FormatException($"test-time augmentation '{text}' is not valid: expected one of {string.Join(", ", Names)} (1, 2, 5 or 10 views)"),
    };

    /// <summary>View <paramref name="view"/>'s window offset in the padded image and mirror: windows centre, top-left, top-right, bottom-left, bottom-right; unmirrored first.</summary>
    internal (int Dy, int Dx, bool Mirror) ViewOf(int view)
    {
        int windows = CropPadding > 0 ? 5 : 1, w = view % windows, p = CropPadding;
        bool mirror = view >= windows;
        return w switch
        {
            0 => (p, p, mirror),
            1 => (0, 0, mirror),
            2 => (0, 2 * p, mirror),
            3 => (2 * p, 0, mirror),
            _ => (2 * p, 2 * p, mirror),
        };
    }

    /// <summary>
    /// Writes view <paramref name="view"/> of <paramref name="count"/> normalised (C, H, W) images:
    /// dst[c, y, x] = padded[c, y + Dy, x' + Dx] with x' = W−1−x when mirrored, padded = the image with P
    /// pixels of <paramref name="norm"/>(0) on every side.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="view"/> is not in [0, Views).</exception>
    /// <exception cref="ArgumentException">A span is shorter than count images.</exception>
    public void WriteView(int view, ReadOnlySpan<float> src, Span<float> dst, int count, int channels, int height, int width, Normalization norm)
    {
        if ((uint)view >= (uint)Views) throw new ArgumentOutOfRangeException(nameof(view), view, $"test-time augmentation has {Views} views");
        int plane = height * width, s = channels * plane;
        if (src.Length < count * s || dst.Length < count * s)
            throw new ArgumentException($"test-time augmentation: {count} images of {channels}x{height}x{width} need {count * s} floats, got {src.Length} in and {dst.Length} out");
        var (dy, dx, mirror) = ViewOf(view);
        int oy = dy - CropPadding, ox = dx - CropPadding;
        for (int n = 0; n < count; n++)
            for (int c = 0; c < channels; c++)
            {
                float fill = norm.Apply(c, 0);
                var sp = src.Slice(n * s + c * plane, plane);
                var dp = dst.Slice(n * s + c * plane, plane);
                for (int y = 0; y < height; y++)
                {
                    int sy = y + oy;
                    var row = dp.Slice(y * width, width);
                    if ((uint)sy >= (uint)height) { row.Fill(fill); continue; }
                    var srow = sp.Slice(sy * width, width);
                    for (int x = 0; x < width; x++)
                    {
                        int sx = (mirror ? width - 1 - x : x) + ox;
                        row[x] = (uint)sx < (uint)width ? srow[sx] : fill;
                    }
                }
            }
    }
}

namespace DeepTrain.Data;

/// <summary>
/// One image's random erasing (Zhong et al. 2020), as torchvision's
/// <c>RandomErasing(p, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)</c> on the normalised tensor: with
/// probability p, up to 10 attempts draw an area a = H·W·U(0.02, 0.33) and a log-uniform aspect ratio
/// r = exp(U(ln 0.3, ln 3.3)), giving h = round(√(a·r)) rows and w = round(√(a/r)) columns; the first box
/// with h &lt; H and w &lt; W is placed at a uniform top-left (i in [0, H − h], j in [0, W − w]) and set to 0
/// in every channel (the data set's mean colour, after normalisation). When no attempt fits the image is
/// left as it is, as torchvision returns it unchanged.
/// </summary>
/// <param name="Top">First erased row.</param>
/// <param name="Left">First erased column.</param>
/// <param name="Height">Erased rows (0: nothing erased).</param>
/// <param name="Width">Erased columns (0: nothing erased).</param>
internal readonly record struct RandomErasing(int Top, int Left, int Height, int Width)
{
    /// <summary>torchvision's defaults: the erased fraction of the area, and the aspect-ratio range.</summary>
    public const double ScaleMin = 0.02, ScaleMax = 0.33, RatioMin = 0.3, RatioMax = 3.3;

    /// <summary>Attempts to place a box before giving up (torchvision: 10).</summary>
    public const int Attempts = 10;

    /// <summary>Draws the coin, then up to <see cref="Attempts"/> (area, ratio) pairs, then the position (RandomErasing.get_params).</summary>
    public static RandomErasing Draw(double p, int height, int width, ref SplitMix64 rng)
    {
        if (!(rng.NextDouble() < p)) return default;
        double area = (double)height * width, logMin = Math.Log(RatioMin), logMax = Math.Log(RatioMax);
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            double erase = area * rng.NextUniform(ScaleMin, ScaleMax);
            double ratio = Math.Exp(rng.NextUniform(logMin, logMax));
            int h = (int)Math.Round(Math.Sqrt(erase * ratio), MidpointRounding.ToEven);
            int w = (int)Math.Round(Math.Sqrt(erase / ratio), MidpointRounding.ToEven);
            if (!(h < height && w < width)) continue;
            int i = rng.NextInt(height - h + 1), j = rng.NextInt(width - w + 1);
            return new RandomErasing(i, j, h, w);
        }
        return default;
    }

    /// <summary>Sets the box to 0 in every channel of a (C, H, W) image.</summary>
    public void Apply(Span<float> image, int channels, int height, int width)
    {
        if (Height == 0 || Width == 0) return;
        int plane = height * width;
        for (int c = 0; c < channels; c++)
            for (int y = Top; y < Top + Height; y++)
                image.Slice(c * plane + y * width + Left, Width).Clear();
    }
}

namespace DeepTrain.Data;

/// <summary>
/// One image's colour jitter, as torchvision's <c>ColorJitter(brightness=B, contrast=C, saturation=S)</c> on a
/// float (C, H, W) tensor in [0, 1] (torchvision.transforms.functional_tensor): each factor is uniform in
/// [max(0, 1 − x), 1 + x] and the three adjustments run in a random order per image, each a blend
/// <c>_blend(img, other, f) = clamp(f·img + (1 − f)·other, 0, 1)</c>:
/// <list type="bullet">
/// <item>brightness: other = 0 (black);</item>
/// <item>contrast: other = the mean over the image of its grayscale (RGB), or of the image itself (1 channel);</item>
/// <item>saturation: other = the grayscale image, per pixel (RGB only).</item>
/// </list>
/// Grayscale is torchvision's <c>rgb_to_grayscale</c>: l = 0.2989·r + 0.587·g + 0.114·b (ITU-R 601-2 luma
/// as torchvision's tensor path writes it; PIL's "L" conversion uses 0.299). A factor of exactly 1 leaves the
/// image as it is. An adjustment whose range is 0 is skipped, as torchvision skips a None factor.
/// </summary>
/// <param name="Brightness">Brightness factor (1: unchanged).</param>
/// <param name="Contrast">Contrast factor (1: unchanged).</param>
/// <param name="Saturation">Saturation factor (1: unchanged).</param>
/// <param name="Order">The order as three base-4 digits, first adjustment lowest: 0 brightness, 1 contrast, 2 saturation.</param>
internal readonly record struct ColorJitter(float Brightness, float Contrast, float Saturation, int Order)
{
    /// <summary>torchvision's luma weights (rgb_to_grayscale).</summary>
    public const float LumaR = 0.2989f, LumaG = 0.587f, LumaB = 0.114f;

    /// <summary>The adjustment applied <paramref name="k"/>-th (0, 1, 2): 0 brightness, 1 contrast, 2 saturation.</summary>
    public int Step(int k) => (Order >> (2 * k)) & 3;

    /// <summary>Draws a random order (Fisher–Yates over the three), then the factors of the enabled adjustments in the order brightness, contrast, saturation (as ColorJitter.get_params).</summary>
    public static ColorJitter Draw(AugmentationOptions options, ref SplitMix64 rng)
    {
        Span<int> order = stackalloc int[3];
        for (int i = 0; i < 3; i++) order[i] = i;
        rng.Shuffle(order);
        float b = options.Brightness > 0 ? Factor(options.Brightness, ref rng) : 1f;
        float c = options.Contrast > 0 ? Factor(options.Contrast, ref rng) : 1f;
        float s = options.Saturation > 0 ? Factor(options.Saturation, ref rng) : 1f;
        return new ColorJitter(b, c, s, order[0] | order[1] << 2 | order[2] << 4);
    }

    /// <summary>U(max(0, 1 − x), 1 + x), torchvision's range for a single number x.</summary>
    private static float Factor(float x, ref SplitMix64 rng) => (float)rng.NextUniform(Math.Max(0.0, 1.0 - x), 1.0 + x);

    /// <summary>Adjusts <paramref name="image"/> in place.</summary>
    /// <param name="image">(C, H, W) floats in [0, 1], C = 1 or 3.</param>
    /// <param name="channels">C.</param>
    /// <param name="plane">H·W.</param>
    public void Apply(Span<float> image, int channels, int plane)
    {
        for (int k = 0; k < 3; k++)
            switch (Step(k))
            {
                case 0 when Brightness != 1f: Blend(image, Brightness, 0f); break;
                case 1 when Contrast != 1f: Blend(image, Contrast, GrayMean(image, channels, plane)); break;
                case 2 when Saturation != 1f && channels == 3: Saturate(image, Saturation, plane); break;
            }
    }

    /// <summary>x ← clamp(f·x + (1 − f)·other, 0, 1).</summary>
    private static void Blend(Span<float> x, float f, float other)
    {
        float g = (1f - f) * other;
        for (int i = 0; i < x.Length; i++) x[i] = Math.Clamp(f * x[i] + g, 0f, 1f);
    }

    /// <summary>Mean of the grayscale image (RGB) or of the image (1 channel), summed in double.</summary>
    internal static float GrayMean(ReadOnlySpan<float> x, int channels, int plane)
    {
        double sum = 0;
        if (channels == 3)
            for (int i = 0; i < plane; i++) sum += LumaR * x[i] + LumaG * x[plane + i] + LumaB * x[2 * plane + i];
        else
            foreach (float v in x) sum += v;
        return (float)(sum / (channels == 3 ? plane : x.Length));
    }

    /// <summary>Each pixel blends with its own luma l = 0.2989·r + 0.587·g + 0.114·b.</summary>
    private static void Saturate(Span<float> x, float f, int plane)
    {
        var r = x[..plane];
        var g = x.Slice(plane, plane);
        var b = x.Slice(2 * plane, plane);
        for (int i = 0; i < plane; i++)
        {
            float l = (1f - f) * (LumaR * r[i] + LumaG * g[i] + LumaB * b[i]);
            r[i] = Math.Clamp(f * r[i] + l, 0f, 1f);
            g[i] = Math.Clamp(f * g[i] + l, 0f, 1f);
            b[i] = Math.Clamp(f * b[i] + l, 0f, 1f);
        }
    }
}

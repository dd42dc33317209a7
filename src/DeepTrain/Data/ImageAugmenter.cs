namespace DeepTrain.Data;

/// <summary>
/// The per-image pipeline of <see cref="AugmentationOptions"/>: crop and flip, rotation and translation,
/// colour jitter, normalisation, random erasing. Every choice is drawn up front from the image's own
/// generator (seed, epoch, position) in that order, so the result does not depend on the thread. When
/// only crop and flip are on, the bytes go straight through the normalisation table; otherwise the image
/// passes through two per-thread float scratch planes (allocated once per worker thread, then reused).
/// </summary>
internal static class ImageAugmenter
{
    [ThreadStatic] private static float[]? t_scratch;

    /// <summary>Augments and normalises one image.</summary>
    /// <param name="options">The augmentation.</param>
    /// <param name="seed">The loader's seed.</param>
    /// <param name="epoch">The epoch.</param>
    /// <param name="position">The image's position in the epoch's order.</param>
    /// <param name="src">(C, H, W) bytes.</param>
    /// <param name="dst">(C, H, W) floats, normalised.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="norm">The normalisation.</param>
    /// <param name="unit">x/255 (<see cref="Normalization.Identity"/> for C channels), the pixel space of the float steps.</param>
    public static void Apply(AugmentationOptions options, ulong seed, int epoch, int position, ReadOnlySpan<byte> src, Span<float> dst,
        int channels, int height, int width, Normalization norm, Normalization unit)
    {
        var rng = SplitMix64.For(seed, SplitMix64.AugmentStream, (ulong)epoch, (ulong)position);
        var cropFlip = CropFlip.Draw(options, ref rng);
        var affine = options.HasAffine ? RandomAffine.Draw(options, height, width, ref rng) : default;
        var jitter = options.HasColorJitter ? ColorJitter.Draw(options, ref rng) : default;
        var erase = options.ErasingProbability > 0 ? RandomErasing.Draw(options.ErasingProbability, height, width, ref rng) : default;

        if (!options.HasAffine && !options.HasColorJitter)
            cropFlip.Apply(src, dst, channels, height, width, options.Padding, norm);
        else
        {
            int n = channels * height * width;
            var scratch = t_scratch;
            if (scratch is null || scratch.Length < 2 * n) t_scratch = scratch = new float[2 * n];
            Span<float> a = scratch.AsSpan(0, n);
            cropFlip.Apply(src, a, channels, height, width, options.Padding, unit);
            if (options.HasAffine)
            {
                Span<float> b = scratch.AsSpan(n, n);
                affine.Apply(a, b, channels, height, width);
                a = b;
            }
            if (options.HasColorJitter) jitter.Apply(a, channels, height * width);
            norm.ApplyUnit(a, dst);
        }
        erase.Apply(dst, channels, height, width);
    }
}

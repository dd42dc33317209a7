namespace DeepTrain.Data;

/// <summary>
/// CutMix (Yun et al. 2019, "CutMix: Regularization Strategy to Train Strong Classifiers with Localizable
/// Features"), as the reference implementation clovaai/CutMix-PyTorch (train.py, rand_bbox) does it, per
/// batch after the per-image augmentation. With probability p:
/// <code>
///   λ ~ Beta(α, α);  π = a random permutation of the batch
///   cut = √(1 − λ);  h = ⌊H·cut⌋, w = ⌊W·cut⌋;  centre (cy, cx) uniform over the pixels
///   rows [clip(cy − h/2), clip(cy + h/2)), columns [clip(cx − w/2), clip(cx + w/2)), clipped to the image
///   x[i, :, box] = x[π(i), :, box]   (pasted from the images as they were before any pasting)
///   λ = 1 − box area/(H·W);  y_a = y, y_b = y[π]
///   loss = λ·CE(output, y_a) + (1 − λ)·CE(output, y_b)
/// </code>
/// (h/2 is integer division, as the reference's <c>cut_w // 2</c>.) The draws come from a generator seeded by
/// (seed, epoch, batch index): coin, λ, permutation, row centre, column centre.
/// </summary>
internal static class CutMix
{
    /// <summary>The box (rows [Y1, Y2), columns [X1, X2)) for a drawn λ, and the centre draws it consumes.</summary>
    public static (int Y1, int Y2, int X1, int X2) Box(int height, int width, double lambda, ref SplitMix64 rng)
    {
        double cut = Math.Sqrt(1.0 - lambda);
        int h = (int)(height * cut), w = (int)(width * cut);
        int cy = rng.NextInt(height), cx = rng.NextInt(width);
        return (Math.Clamp(cy - h / 2, 0, height), Math.Clamp(cy + h / 2, 0, height),
                Math.Clamp(cx - w / 2, 0, width), Math.Clamp(cx + w / 2, 0, width));
    }

    /// <summary>
    /// Mixes the first <paramref name="count"/> rows of <paramref name="batch"/> in place, or leaves them and
    /// sets λ = 1, y_b = y when the coin says no. Uses the batch's own scratch, so it allocates nothing.
    /// </summary>
    public static void Apply(AugmentationOptions options, ulong seed, int epoch, int batchIndex, Batch batch, int count)
    {
        batch.Lambda = 1f;
        batch.IsMixed = false;
        batch.Labels.AsSpan(0, count).CopyTo(batch.LabelsB);
        if (count == 0) return;
        var rng = SplitMix64.For(seed, SplitMix64.CutMixStream, (ulong)epoch, (ulong)batchIndex);
        if (!(rng.NextDouble() < options.CutMixProbability)) return;
        double lambda = rng.NextBeta(options.CutMixAlpha, options.CutMixAlpha);
        var perm = batch.MixPermutation.AsSpan(0, count);
        for (int i = 0; i < count; i++) perm[i] = i;
        rng.Shuffle(perm);
        int c = batch.Channels, height = batch.Height, width = batch.Width, plane = height * width, s = batch.SampleSize;
        var (y1, y2, x1, x2) = Box(height, width, lambda, ref rng);
        int bh = y2 - y1, bw = x2 - x1;
        for (int i = 0; i < count; i++) batch.LabelsB[i] = batch.Labels[perm[i]];
        batch.Lambda = (float)(1.0 - (double)bh * bw / ((double)height * width));
        batch.IsMixed = true;
        if (bh == 0 || bw == 0) return;
        // Copy every image's box out first: π may form cycles, and each paste must read the original.
        var images = batch.Images;
        var scratch = batch.MixScratch;
        int box = c * bh * bw;
        for (int i = 0; i < count; i++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < bh; y++)
                    images.AsSpan(i * s + ch * plane + (y1 + y) * width + x1, bw).CopyTo(scratch.AsSpan(i * box + (ch * bh + y) * bw, bw));
        for (int i = 0; i < count; i++)
            for (int ch = 0; ch < c; ch++)
                for (int y = 0; y < bh; y++)
                    scratch.AsSpan(perm[i] * box + (ch * bh + y) * bw, bw).CopyTo(images.AsSpan(i * s + ch * plane + (y1 + y) * width + x1, bw));
    }
}

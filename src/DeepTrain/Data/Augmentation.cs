namespace DeepTrain.Data;

/// <summary>
/// Training-time augmentation, applied per image on the loader's worker threads:
/// pad-and-random-crop as torchvision's <c>RandomCrop(size, padding=P)</c> (zero padding of P
/// pixels on every side, then a window of the original size at a uniform offset in [0, 2P] on
/// each axis), then <c>RandomHorizontalFlip(p=0.5)</c>. Padding is zero in pixel space, before
/// normalisation, as in the usual torchvision pipeline (crop, flip, ToTensor, Normalize).
/// </summary>
public sealed class AugmentationOptions
{
    /// <summary>Pixels of zero padding for the random crop; 0 turns the crop off.</summary>
    public int Padding { get; init; }

    /// <summary>Flip each image left–right with probability 0.5.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>The usual CIFAR recipe (He et al. 2016, §4.2): padding 4 and horizontal flips.</summary>
    public static AugmentationOptions Standard { get; } = new() { Padding = 4, HorizontalFlip = true };

    /// <inheritdoc />
    public override string ToString() => $"crop(padding={Padding}){(HorizontalFlip ? " + hflip" : "")}";
}

/// <summary>The random choices for one image: crop offsets in [0, 2P] and whether to flip.</summary>
/// <param name="Dy">Row of the padded image where the crop window starts.</param>
/// <param name="Dx">Column of the padded image where the crop window starts.</param>
/// <param name="Flip">Mirror the cropped window left–right.</param>
internal readonly record struct CropFlip(int Dy, int Dx, bool Flip)
{
    /// <summary>
    /// Draws the choices for the image at <paramref name="position"/> in epoch
    /// <paramref name="epoch"/>'s stream from its own generator, seeded by (seed, epoch, position):
    /// the result never depends on which thread prepares the image or when.
    /// </summary>
    public static CropFlip Draw(AugmentationOptions options, ulong seed, int epoch, int position)
    {
        var rng = SplitMix64.For(seed, SplitMix64.AugmentStream, (ulong)epoch, (ulong)position);
        int p = options.Padding;
        int dy = p > 0 ? rng.NextInt(2 * p + 1) : 0;
        int dx = p > 0 ? rng.NextInt(2 * p + 1) : 0;
        bool flip = options.HorizontalFlip && rng.NextBool();
        return new CropFlip(dy, dx, flip);
    }

    /// <summary>
    /// Writes the normalised, cropped and possibly flipped image in one pass:
    /// out[c, y, x] = norm_c(padded[c, y + Dy, x' + Dx]) with x' = W−1−x when flipping, else x,
    /// where padded[c, i, j] = src[c, i − P, j − P] inside the image and 0 outside.
    /// </summary>
    /// <param name="src">(C, H, W) bytes.</param>
    /// <param name="dst">(C, H, W) floats.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="padding">P, the padding the offsets were drawn for.</param>
    /// <param name="norm">The normalisation (zero padding becomes norm(0)).</param>
    public void Apply(ReadOnlySpan<byte> src, Span<float> dst, int channels, int height, int width, int padding, Normalization norm)
    {
        int plane = height * width;
        int oy = Dy - padding, ox = Dx - padding;   // source = output + offset
        for (int c = 0; c < channels; c++)
        {
            var t = norm.Table(c);
            float zero = t[0];
            var s = src.Slice(c * plane, plane);
            var d = dst.Slice(c * plane, plane);
            for (int y = 0; y < height; y++)
            {
                var row = d.Slice(y * width, width);
                int sy = y + oy;
                if ((uint)sy >= (uint)height) { row.Fill(zero); continue; }
                var srow = s.Slice(sy * width, width);
                // Output columns x whose source column x + ox lies in [0, W): x in [lo, hi).
                int lo = Math.Max(0, -ox), hi = Math.Min(width, width - ox);
                if (!Flip)
                {
                    row[..lo].Fill(zero);
                    for (int x = lo; x < hi; x++) row[x] = t[srow[x + ox]];
                    row[hi..].Fill(zero);
                }
                else
                {
                    // out[x] = crop[W−1−x]: crop column k maps to output column W−1−k.
                    row[(width - lo)..].Fill(zero);
                    for (int k = lo; k < hi; k++) row[width - 1 - k] = t[srow[k + ox]];
                    row[..(width - hi)].Fill(zero);
                }
            }
        }
    }
}

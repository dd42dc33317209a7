namespace DeepTrain.Data;

/// <summary>
/// Training-time augmentation. Per image, on the loader's worker threads, in torchvision's usual order:
/// <list type="number">
/// <item>pad-and-random-crop as <c>RandomCrop(size, padding=P)</c> (zero padding of P pixels on every side,
/// then a window of the original size at a uniform offset in [0, 2P] on each axis);</item>
/// <item><c>RandomHorizontalFlip(p=0.5)</c>;</item>
/// <item>rotation and translation as <c>RandomAffine(degrees=D, translate=(T, T),
/// interpolation=BILINEAR, fill=0)</c> on a float tensor (see <see cref="RandomAffine"/>);</item>
/// <item>colour jitter as <c>ColorJitter(brightness=B, contrast=C, saturation=S)</c> on a float tensor in
/// [0, 1] (see <see cref="ColorJitter"/>);</item>
/// <item><c>ToTensor()</c> and <c>Normalize(mean, std)</c> (<see cref="Normalization"/>);</item>
/// <item><c>RandomErasing(p, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0)</c> on the normalised image
/// (see <see cref="RandomErasing"/>).</item>
/// </list>
/// Padding and the affine fill are zero in pixel space, before normalisation. Then, per batch, CutMix
/// (Yun et al. 2019; see <see cref="CutMix"/>) pastes a box from another image of the batch and mixes the
/// labels. Each per-image choice comes from a generator seeded by (seed, epoch, position), CutMix's from
/// (seed, epoch, batch index), so the batches never depend on the number of worker threads.
/// </summary>
public sealed class AugmentationOptions
{
    /// <summary>Largest rotation accepted, in degrees: the "up to ±5°" (larger angles change what small images show).</summary>
    public const float MaxDegrees = 5f;

    /// <summary>Pixels of zero padding for the random crop; 0 turns the crop off.</summary>
    public int Padding { get; init; }

    /// <summary>Flip each image left–right with probability 0.5.</summary>
    public bool HorizontalFlip { get; init; }

    /// <summary>Colour jitter's brightness B ≥ 0: factor uniform in [max(0, 1 − B), 1 + B]; 0 turns it off.</summary>
    public float Brightness { get; init; }

    /// <summary>Colour jitter's contrast C ≥ 0: factor uniform in [max(0, 1 − C), 1 + C]; 0 turns it off.</summary>
    public float Contrast { get; init; }

    /// <summary>Colour jitter's saturation S ≥ 0: factor uniform in [max(0, 1 − S), 1 + S]; 0 turns it off. Needs 3-channel (RGB) data.</summary>
    public float Saturation { get; init; }

    /// <summary>Rotation: an angle uniform in [−D, D] degrees, D in [0, <see cref="MaxDegrees"/>]; 0 turns it off.</summary>
    public float Degrees { get; init; }

    /// <summary>Translation as a fraction T in [0, 1] of the image size: shifts round(U(−T·W, T·W)) and round(U(−T·H, T·H)) pixels; 0 turns it off.</summary>
    public float Translate { get; init; }

    /// <summary>Random erasing's probability p in [0, 1]; 0 turns it off.</summary>
    public float ErasingProbability { get; init; }

    /// <summary>CutMix's α &gt; 0 of λ ~ Beta(α, α); 0 turns CutMix off.</summary>
    public float CutMixAlpha { get; init; }

    /// <summary>Probability in [0, 1] that a batch is mixed when <see cref="CutMixAlpha"/> &gt; 0 (the paper's algorithm mixes every batch: 1).</summary>
    public float CutMixProbability { get; init; } = 1f;

    /// <summary>The usual CIFAR recipe (He et al. 2016, §4.2): padding 4 and horizontal flips.</summary>
    public static AugmentationOptions Standard { get; } = new() { Padding = 4, HorizontalFlip = true };

    /// <summary>Whether rotation or translation is on.</summary>
    public bool HasAffine => Degrees > 0 || Translate > 0;

    /// <summary>Whether any colour jitter is on.</summary>
    public bool HasColorJitter => Brightness > 0 || Contrast > 0 || Saturation > 0;

    /// <summary>Whether CutMix is on.</summary>
    public bool HasCutMix => CutMixAlpha > 0 && CutMixProbability > 0;

    /// <summary>Whether every per-image step is off (the image is only normalised).</summary>
    public bool IsPerImageIdentity => Padding == 0 && !HorizontalFlip && !HasAffine && !HasColorJitter && !(ErasingProbability > 0);

    /// <summary>
    /// Checks every value against its valid range and the data it will augment; the messages give the range
    /// and the <c>deeptrain train</c> option that sets the value.
    /// </summary>
    /// <param name="channels">Channels of the images (saturation needs 3).</param>
    /// <param name="dataset">The data set's name, for the message.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside its range.</exception>
    /// <exception cref="ArgumentException">Saturation jitter is asked for on images that are not RGB.</exception>
    public void Validate(int channels, string dataset)
    {
        if (Padding < 0) throw new ArgumentOutOfRangeException(nameof(Padding), $"crop padding must be ≥ 0 pixels, got {Padding}");
        static void Factor(float v, string name)
        {
            if (!(v >= 0) || !float.IsFinite(v))
                throw new ArgumentOutOfRangeException(name, $"colour jitter {name.ToLowerInvariant()} (AugmentationOptions.{name}) must be a finite number ≥ 0 (0: off), got {v}");
        }
        Factor(Brightness, nameof(Brightness));
        Factor(Contrast, nameof(Contrast));
        Factor(Saturation, nameof(Saturation));
        if (Saturation > 0 && channels != 3)
            throw new ArgumentException($"colour jitter saturation (AugmentationOptions.Saturation) blends with the grayscale image and needs RGB data, but '{dataset}' has {channels} channel(s); set S = 0 (brightness and contrast work on any channel count)", nameof(Saturation));
        if ((Brightness > 0 || Contrast > 0) && channels != 1 && channels != 3)
            throw new ArgumentException($"colour jitter (AugmentationOptions.Brightness, Contrast) works on 1-channel (gray) or 3-channel (RGB) images, but '{dataset}' has {channels} channels", nameof(Brightness));
        if (!(Degrees >= 0 && Degrees <= MaxDegrees))
            throw new ArgumentOutOfRangeException(nameof(Degrees), $"rotation (AugmentationOptions.Degrees) must be in [0, {MaxDegrees}] degrees, got {Degrees}");
        if (!(Translate >= 0 && Translate <= 1))
            throw new ArgumentOutOfRangeException(nameof(Translate), $"translation (AugmentationOptions.Translate) must be a fraction of the image size in [0, 1], got {Translate}");
        if (!(ErasingProbability >= 0 && ErasingProbability <= 1))
            throw new ArgumentOutOfRangeException(nameof(ErasingProbability), $"random erasing's probability (AugmentationOptions.ErasingProbability) must be in [0, 1], got {ErasingProbability}");
        if (!(CutMixAlpha >= 0) || !float.IsFinite(CutMixAlpha))
            throw new ArgumentOutOfRangeException(nameof(CutMixAlpha), $"CutMix's α (AugmentationOptions.CutMixAlpha) must be a finite number > 0 (0: off), got {CutMixAlpha}");
        if (!(CutMixProbability >= 0 && CutMixProbability <= 1))
            throw new ArgumentOutOfRangeException(nameof(CutMixProbability), $"CutMix's probability (AugmentationOptions.CutMixProbability) must be in [0, 1], got {CutMixProbability}");
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var parts = new List<string>();
        if (Padding > 0) parts.Add($"crop(padding={Padding})");
        if (HorizontalFlip) parts.Add("hflip");
        if (HasAffine) parts.Add(FormattableString.Invariant($"affine(degrees={Degrees}, translate={Translate})"));
        if (HasColorJitter) parts.Add(FormattableString.Invariant($"jitter(b={Brightness}, c={Contrast}, s={Saturation})"));
        if (ErasingProbability > 0) parts.Add(FormattableString.Invariant($"erasing(p={ErasingProbability})"));
        if (HasCutMix) parts.Add(FormattableString.Invariant($"cutmix(alpha={CutMixAlpha}, p={CutMixProbability})"));
        return parts.Count == 0 ? "none" : string.Join(" + ", parts);
    }
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
        return Draw(options, ref rng);
    }

    /// <summary>Draws the crop offsets, then the flip, from <paramref name="rng"/> (the first draws of an image's stream).</summary>
    public static CropFlip Draw(AugmentationOptions options, ref SplitMix64 rng)
    {
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

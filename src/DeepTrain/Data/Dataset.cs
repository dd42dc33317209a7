namespace DeepTrain.Data;

/// <summary>
/// An image classification dataset held in memory as bytes: <see cref="Pixels"/> is
/// (Count, Channels, Height, Width) in NCHW order with values 0..255, <see cref="Labels"/> holds
/// one class index in [0, <see cref="Classes"/>) per image. 60 000 Fashion-MNIST images take
/// 47 MB; floats are made per batch by <see cref="DataLoader"/>, never for the whole set.
/// </summary>
public sealed class Dataset
{
    /// <summary>Wraps the arrays (no copy) after checking their sizes and labels.</summary>
    /// <param name="name">A name for messages and logs, e.g. <c>fashion-mnist/train</c>.</param>
    /// <param name="channels">Channels per image (1 for MNIST, 3 for CIFAR-10).</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="classes">Number of classes; every label must be below it.</param>
    /// <param name="pixels">(N, C, H, W) bytes.</param>
    /// <param name="labels">N labels.</param>
    /// <param name="classNames">Optional names, one per class.</param>
    /// <exception cref="ArgumentNullException">An array or the name is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension or the class count is not positive.</exception>
    /// <exception cref="ArgumentException">The pixel array does not hold labels.Length images, a label is out of range, or classNames has the wrong length.</exception>
    public Dataset(string name, int channels, int height, int width, int classes, byte[] pixels, int[] labels, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        long sample = (long)channels * height * width;
        if (pixels.LongLength != sample * labels.Length)
            throw new ArgumentException($"dataset '{name}': {pixels.LongLength} pixel bytes, expected {labels.Length} images × {channels}×{height}×{width} = {sample * labels.Length}", nameof(pixels));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentException($"dataset '{name}': label {labels[i]} at index {i}, expected 0..{classes - 1}", nameof(labels));
        if (classNames is not null && classNames.Count != classes)
            throw new ArgumentException($"dataset '{name}': {classNames.Count} class names, expected {classes}", nameof(classNames));
        Name = name;
        Channels = channels;
        Height = height;
        Width = width;
        Classes = classes;
        Pixels = pixels;
        Labels = labels;
        ClassNames = classNames;
    }

    /// <summary>Name for messages and logs.</summary>
    public string Name { get; }
    /// <summary>Channels per image.</summary>
    public int Channels { get; }
    /// <summary>Image height.</summary>
    public int Height { get; }
    /// <summary>Image width.</summary>
    public int Width { get; }
    /// <summary>Number of classes.</summary>
    public int Classes { get; }
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;
    /// <summary>Bytes per image: C·H·W.</summary>
    public int SampleSize => Channels * Height * Width;
    /// <summary>(Count, C, H, W) pixel bytes, 0..255.</summary>
    public byte[] Pixels { get; }
    /// <summary>One label per image, in [0, Classes).</summary>
    public int[] Labels { get; }
    /// <summary>Class names, one per class, where the source provides them.</summary>
    public IReadOnlyList<string>? ClassNames { get; }

    /// <summary>The pixels of image <paramref name="index"/>, (C, H, W).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not in [0, Count).</exception>
    public ReadOnlySpan<byte> Image(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)Count, nameof(index));
        return Pixels.AsSpan(index * SampleSize, SampleSize);
    }

    /// <summary>A copy holding the images at <paramref name="indices"/>, in that order.</summary>
    /// <param name="indices">Image indices; repeats are allowed.</param>
    /// <param name="name">Name of the subset; defaults to this dataset's name.</param>
    /// <exception cref="ArgumentOutOfRangeException">An index is not in [0, Count).</exception>
    public Dataset Subset(ReadOnlySpan<int> indices, string? name = null)
    {
        int s = SampleSize;
        var pixels = new byte[(long)indices.Length * s];
        var labels = new int[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            int j = indices[i];
            if ((uint)j >= (uint)Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"dataset '{Name}': index {j} at position {i}, expected 0..{Count - 1}");
            Pixels.AsSpan(j * s, s).CopyTo(pixels.AsSpan(i * s, s));
            labels[i] = Labels[j];
        }
        return new Dataset(name ?? Name, Channels, Height, Width, Classes, pixels, labels, ClassNames);
    }

    /// <summary>
    /// Splits off a validation subset of <paramref name="validationCount"/> images chosen by a
    /// seeded permutation: the same seed gives the same split on every machine. Both parts keep
    /// the original order of their images. Names gain the suffixes <c>:train</c> and <c>:val</c>.
    /// </summary>
    /// <param name="validationCount">Images in the validation part, 0..Count.</param>
    /// <param name="seed">Seed of the permutation.</param>
    /// <returns>The remaining training images and the validation images.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="validationCount"/> is negative or above Count.</exception>
    public (Dataset Train, Dataset Validation) Split(int validationCount, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(validationCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(validationCount, Count);
        var perm = new int[Count];
        for (int i = 0; i < perm.Length; i++) perm[i] = i;
        SplitMix64.For(seed, SplitMix64.SplitStream).Shuffle(perm);
        Array.Sort(perm, 0, validationCount);
        Array.Sort(perm, validationCount, Count - validationCount);
        return (Subset(perm.AsSpan(validationCount), Name + ":train"), Subset(perm.AsSpan(0, validationCount), Name + ":val"));
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {Count} images of {Channels}×{Height}×{Width}, {Classes} classes";
}

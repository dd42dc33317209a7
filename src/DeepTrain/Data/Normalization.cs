namespace DeepTrain.Data;

/// <summary>
/// Per-channel normalisation y = (x/255 − mean[c]) / std[c], as torchvision's
/// <c>ToTensor()</c> followed by <c>Normalize(mean, std)</c>, evaluated in float in that order.
/// Because x is a byte, the whole map is a 256-entry table per channel: normalising a pixel is
/// one table lookup.
/// </summary>
public sealed class Normalization
{
    private readonly float[] _mean, _std;
    private readonly float[] _table;   // (C, 256)

    /// <summary>Creates the normalisation for the given per-channel statistics (of x/255).</summary>
    /// <param name="mean">Per-channel mean of x/255.</param>
    /// <param name="std">Per-channel standard deviation of x/255; each must be positive and finite.</param>
    /// <exception cref="ArgumentNullException">An array is null.</exception>
    /// <exception cref="ArgumentException">The arrays are empty or differ in length, or a std is not positive and finite.</exception>
    public Normalization(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"normalisation: {mean.Length} means and {std.Length} standard deviations, expected one of each per channel (at least one)");
        for (int c = 0; c < std.Length; c++)
            if (!(std[c] > 0) || !float.IsFinite(std[c]) || !float.IsFinite(mean[c]))
                throw new ArgumentException($"normalisation: channel {c} has mean {mean[c]} and std {std[c]}, expected finite values and std > 0", nameof(std));
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
        _table = new float[mean.Length * 256];
        for (int c = 0; c < mean.Length; c++)
            for (int v = 0; v < 256; v++)
                _table[c * 256 + v] = (v / 255f - _mean[c]) / _std[c];
    }

    /// <summary>Mean 0, std 1: just x/255.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="channels"/> is not positive.</exception>
    public static Normalization Identity(int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        var ones = new float[channels];
        Array.Fill(ones, 1f);
        return new Normalization(new float[channels], ones);
    }

    /// <summary>
    /// Per-channel mean and (population) standard deviation of x/255 over every pixel of
    /// <paramref name="dataset"/> — compute it on the training set and use it for both splits.
    /// Exact: a 256-bin histogram per channel, then two passes over the bins in double.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="dataset"/> is null.</exception>
    /// <exception cref="ArgumentException">The dataset is empty or constant in some channel (std 0).</exception>
    public static Normalization FromDataset(Dataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.Count == 0) throw new ArgumentException($"normalisation: dataset '{dataset.Name}' is empty", nameof(dataset));
        int channels = dataset.Channels, plane = dataset.Height * dataset.Width;
        var hist = new long[channels * 256];
        byte[] px = dataset.Pixels;
        for (int n = 0; n < dataset.Count; n++)
            for (int c = 0; c < channels; c++)
            {
                var h = hist.AsSpan(c * 256, 256);
                foreach (byte v in px.AsSpan((n * channels + c) * plane, plane)) h[v]++;
            }
        var mean = new float[channels];
        var std = new float[channels];
        double total = (double)dataset.Count * plane;
        for (int c = 0; c < channels; c++)
        {
            double m = 0, v = 0;
            for (int b = 0; b < 256; b++) m += hist[c * 256 + b] * (b / 255.0);
            m /= total;
            for (int b = 0; b < 256; b++) { double d = b / 255.0 - m; v += hist[c * 256 + b] * d * d; }
            mean[c] = (float)m;
            std[c] = (float)Math.Sqrt(v / total);
        }
        return new Normalization(mean, std);
    }

    /// <summary>Number of channels.</summary>
    public int Channels => _mean.Length;
    /// <summary>Per-channel mean of x/255.</summary>
    public IReadOnlyList<float> Mean => _mean;
    /// <summary>Per-channel standard deviation of x/255.</summary>
    public IReadOnlyList<float> Std => _std;

    /// <summary>The normalised value of byte <paramref name="value"/> in channel <paramref name="channel"/>.</summary>
    /// <exception cref="IndexOutOfRangeException"><paramref name="channel"/> is out of range.</exception>
    public float Apply(int channel, byte value) => _table[channel * 256 + value];

    /// <summary>The 256-entry lookup table of one channel.</summary>
    internal ReadOnlySpan<float> Table(int channel) => _table.AsSpan(channel * 256, 256);

    /// <summary>Normalises one (C, H, W) image of bytes into floats.</summary>
    /// <param name="image">C·H·W bytes, C = <see cref="Channels"/>.</param>
    /// <param name="destination">At least as many floats.</param>
    /// <exception cref="ArgumentException">The image length is not a multiple of the channel count, or the destination is too short.</exception>
    public void Apply(ReadOnlySpan<byte> image, Span<float> destination)
    {
        if (image.Length % Channels != 0)
            throw new ArgumentException($"normalisation: image of {image.Length} bytes does not split into {Channels} channels", nameof(image));
        if (destination.Length < image.Length)
            throw new ArgumentException($"destination '{nameof(destination)}' is too short", nameof(destination));
        int plane = image.Length / Channels;
        for (int c = 0; c < Channels; c++)
        {
            var t = Table(c);
            var src = image.Slice(c * plane, plane);
            var dst = destination.Slice(c * plane, plane);
            for (int i = 0; i < src.Length; i++) dst[i] = t[src[i]];
        }
    }

    /// <summary>
    /// Normalises one (C, H, W) image of floats already in [0, 1] (the augmentation pipeline's pixel space):
    /// y = (x − mean[c]) / std[c]. For x = v/255 it is bit for bit the byte table's value.
    /// </summary>
    internal void ApplyUnit(ReadOnlySpan<float> image, Span<float> destination)
    {
        int plane = image.Length / Channels;
        for (int c = 0; c < Channels; c++)
        {
            float m = _mean[c], s = _std[c];
            var src = image.Slice(c * plane, plane);
            var dst = destination.Slice(c * plane, plane);
            for (int i = 0; i < src.Length; i++) dst[i] = (src[i] - m) / s;
        }
    }

    /// <inheritdoc />
    public override string ToString()
        => $"mean [{string.Join(", ", _mean.Select(m => m.ToString("G6")))}], std [{string.Join(", ", _std.Select(s => s.ToString("G6")))}]";
}

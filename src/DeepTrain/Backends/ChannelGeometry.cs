using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends;

/// <summary>
/// A tensor read per channel: logical (N, C, S) with S the product of the dimensions after C (H·W for
/// rank 4, 1 for rank 2). Channels-last tensors (NHWC, and any with S = 1) are N·S contiguous rows of
/// C values; the others are N·C contiguous planes of S values.
/// </summary>
internal readonly record struct ChannelGeometry(int N, int C, int Spatial, bool ChannelsLast)
{
    /// <summary>Rows of C values in a channels-last tensor.</summary>
    public int Rows => N * Spatial;
    /// <summary>Number of values per channel, N·S.</summary>
    public long PerChannel => (long)N * Spatial;

    /// <summary>Reads <paramref name="t"/> as (N, C, S).</summary>
    /// <exception cref="ArgumentException">The tensor has rank below 2.</exception>
    public static ChannelGeometry Of(string op, string what, Tensor t)
    {
        var s = t.Shape;
        if (s.Rank < 2) ThrowHelper.Invalid(op, $"{what} has shape {s}; expected rank 2 (N, C) or more (N, C, ...)");
        long spatial = 1;
        for (int i = 2; i < s.Rank; i++) spatial *= s[i];
        return new ChannelGeometry(s.N, s.C, checked((int)spatial), spatial == 1 || (s.Rank == 4 && t.Layout == Layout.NHWC));
    }
}

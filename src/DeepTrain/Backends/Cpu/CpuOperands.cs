using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cpu;

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

/// <summary>The CPU backend's operand checks: each names the operation and the operand, as <see cref="IBackend"/> promises.</summary>
internal static class CpuOperands
{
    /// <summary>The fp32 elements of a host tensor, in memory order.</summary>
    /// <exception cref="ArgumentException">The tensor is not fp32 or not in host memory.</exception>
    public static Span<float> F32(string op, string what, Tensor t)
    {
        ThrowHelper.CheckFloat32(op, what, t);
        if (t.Device.Kind != DeviceKind.Cpu) ThrowHelper.Invalid(op, $"{what} is on {t.Device}; the CPU backend needs host tensors");
        return t.AsSpan<float>();
    }

    /// <summary>Throws unless <paramref name="b"/> has <paramref name="a"/>'s shape and layout (element-wise operands).</summary>
    public static void SameGeometry(string op, string an, Tensor a, string bn, Tensor b)
    {
        if (a.Shape != b.Shape) ThrowHelper.Invalid(op, $"{bn} has shape {b.Shape}, expected {an}'s {a.Shape}");
        if (a.Layout != b.Layout) ThrowHelper.Invalid(op, $"{bn} is {b.Layout} but {an} is {a.Layout}; convert with Copy first");
    }

    /// <summary>Throws unless <paramref name="t"/> holds exactly <paramref name="channels"/> values (a per-channel vector).</summary>
    public static void PerChannel(string op, string what, Tensor t, int channels)
    {
        if (t.Elements != channels) ThrowHelper.Invalid(op, $"{what} has shape {t.Shape}, expected ({channels},) to match {channels} channels");
    }

    /// <summary>Throws unless <paramref name="t"/> is rank 4 (N, C, H, W).</summary>
    public static void Rank4(string op, string what, Tensor t)
    {
        if (t.Shape.Rank != 4) ThrowHelper.Invalid(op, $"{what} has shape {t.Shape}; expected rank 4 (N, C, H, W)");
    }
}

using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cpu;

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
    public static void SameGeometry(string op, string an, Tensor a, string bn, Tensor b) => OperandChecks.SameGeometry(op, an, a, bn, b);

    /// <summary>Throws unless <paramref name="t"/> holds exactly <paramref name="channels"/> values (a per-channel vector).</summary>
    public static void PerChannel(string op, string what, Tensor t, int channels) => OperandChecks.PerChannel(op, what, t, channels);

    /// <summary>Throws unless <paramref name="t"/> is rank 4 (N, C, H, W).</summary>
    public static void Rank4(string op, string what, Tensor t) => OperandChecks.Rank4(op, what, t);
}

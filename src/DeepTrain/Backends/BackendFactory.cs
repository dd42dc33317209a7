using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;

namespace DeepTrain.Backends;

/// <summary>Creates the backend for a device, or says why it cannot.</summary>
public static class BackendFactory
{
    /// <summary>
    /// Creates a backend for <paramref name="device"/>. Never throws for a missing GPU stack:
    /// returns (null, reason) instead, so callers can fall back to the CPU or skip.
    /// </summary>
    public static (IBackend? Backend, string Reason) TryCreate(Device device)
    {
        if (device.Kind == DeviceKind.Cpu) return (new CpuBackend(), "");
        return (null, "the CUDA backend is not built yet (issue #3); only the CPU backend is available");
    }

    /// <summary>Creates a backend for <paramref name="device"/>.</summary>
    /// <exception cref="InvalidOperationException">The device is unavailable; the message says why.</exception>
    public static IBackend Create(Device device)
    {
        var (b, reason) = TryCreate(device);
        return b ?? throw new InvalidOperationException($"device {device} is not available: {reason}");
    }
}

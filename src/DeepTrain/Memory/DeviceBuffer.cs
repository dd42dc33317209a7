using DeepTrain.Tensors;

namespace DeepTrain.Memory;

/// <summary>
/// One contiguous allocation that tensors view into. Owned by exactly one object (a model's
/// parameter set, a plan's arena, a test); tensors that view it must not outlive it.
/// </summary>
public abstract class DeviceBuffer : IDisposable
{
    /// <summary>Where the bytes live.</summary>
    public abstract Device Device { get; }
    /// <summary>Size in bytes.</summary>
    public abstract long Bytes { get; }
    /// <summary>Address of the first byte (host or device address space).</summary>
    public abstract nint Pointer { get; }
    /// <summary>True once disposed.</summary>
    public abstract bool IsDisposed { get; }
    /// <summary>Frees the memory.</summary>
    public abstract void Dispose();
}

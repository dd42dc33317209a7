namespace DeepTrain.Memory;

/// <summary>
/// Counts live native allocations made by DeepTrain (host arenas and, on the GPU, device memory),
/// so tests can prove that disposing a model, plan or backend leaves zero bytes outstanding, and
/// so leaks found by finalizers are reported instead of silently freed.
/// </summary>
internal static class MemoryTracker
{
    private static long s_hostBytes, s_hostAllocations, s_deviceBytes, s_deviceAllocations, s_leaks;

    /// <summary>Bytes of host memory currently allocated through <see cref="HostBuffer"/> and pinned by <see cref="Backends.Cuda.CudaStaging"/>.</summary>
    public static long HostBytes => Interlocked.Read(ref s_hostBytes);
    /// <summary>Host allocations currently alive.</summary>
    public static long HostAllocations => Interlocked.Read(ref s_hostAllocations);
    /// <summary>Bytes of device memory currently allocated by DeepTrain.</summary>
    public static long DeviceBytes => Interlocked.Read(ref s_deviceBytes);
    /// <summary>Device allocations currently alive.</summary>
    public static long DeviceAllocations => Interlocked.Read(ref s_deviceAllocations);
    /// <summary>Buffers that were finalized instead of disposed by their owner.</summary>
    public static long Leaks => Interlocked.Read(ref s_leaks);

    internal static void HostAllocated(long bytes) { Interlocked.Add(ref s_hostBytes, bytes); Interlocked.Increment(ref s_hostAllocations); }
    internal static void HostFreed(long bytes) { Interlocked.Add(ref s_hostBytes, -bytes); Interlocked.Decrement(ref s_hostAllocations); }
    /// <summary>Records a device allocation (called by the CUDA backend's allocators).</summary>
    public static void DeviceAllocated(long bytes) { Interlocked.Add(ref s_deviceBytes, bytes); Interlocked.Increment(ref s_deviceAllocations); }
    /// <summary>Records a device free.</summary>
    public static void DeviceFreed(long bytes) { Interlocked.Add(ref s_deviceBytes, -bytes); Interlocked.Decrement(ref s_deviceAllocations); }
    internal static void LeakFound() => Interlocked.Increment(ref s_leaks);
}

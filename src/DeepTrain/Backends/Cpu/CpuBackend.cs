using System.Runtime.Intrinsics;
using DeepTrain.Memory;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cpu;

/// <summary>
/// The managed reference backend: every operation in fp32 on host memory, vectorised with
/// System.Runtime.Intrinsics and multi-threaded on one process-wide worker pool (<see cref="Threads"/>). One partial
/// file per operation family (docs/architecture.md, "The family map").
/// </summary>
public sealed partial class CpuBackend : IBackend
{
    /// <summary>
    /// Threads every CPU backend in the process uses (default: the processor count; PyTorch's
    /// <c>torch.set_num_threads</c>). Results are bit-reproducible for a given count. Set it before work starts;
    /// changing it while an operation runs is not supported.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public static int Threads
    {
        get => CpuParallel.Threads;
        set => CpuParallel.Threads = value;
    }

    /// <inheritdoc />
    public Device Device => Device.Cpu;

    /// <inheritdoc />
    public string Description =>
        $"cpu ({CpuParallel.Threads} threads, {(Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "scalar")})";

    /// <inheritdoc />
    public DeviceBuffer Allocate(long bytes)
    {
        var b = new HostBuffer(bytes, _onFree);
        Interlocked.Add(ref _liveBytes, bytes);
        return b;
    }

    private long _liveBytes;
    private readonly Action<long> _onFree;

    /// <summary>Creates the backend.</summary>
    public CpuBackend() => _onFree = b => Interlocked.Add(ref _liveBytes, -b);

    /// <inheritdoc />
    public long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>
    /// The smaller of the GC's view of available memory (physical memory, or the container's limit) and the
    /// kernel's MemAvailable from <c>/proc/meminfo</c> where that exists (memory not yet used by anyone, page
    /// cache included). Buffers are native and zeroed on allocation, so they need real pages.
    /// </summary>
    public long? AvailableMemoryBytes => HostMemory.AvailableBytes();

    /// <inheritdoc />
    public void CopyFromHost<T>(ReadOnlySpan<T> src, Tensor dst) where T : unmanaged
    {
        var d = dst.AsSpan<T>();
        if (src.Length != d.Length) ThrowHelper.Invalid("CopyFromHost", $"{src.Length} values for a tensor of {dst.Shape}");
        src.CopyTo(d);
    }

    /// <inheritdoc />
    public void CopyToHost<T>(Tensor src, Span<T> dst) where T : unmanaged
    {
        var s = src.AsSpan<T>();
        if (s.Length != dst.Length) ThrowHelper.Invalid("CopyToHost", $"{dst.Length} slots for a tensor of {src.Shape}");
        s.CopyTo(dst);
    }

    /// <inheritdoc />
    public void Synchronize() { }

    /// <inheritdoc />
    public void Dispose() { }
}

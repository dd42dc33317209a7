using DeepTrain.Interop;
using DeepTrain.Memory;
using DeepTrain.Tensors;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

/// <summary>
/// Device memory allocated by <see cref="CudaBackend.Allocate"/>: stream-ordered (<c>cudaMallocAsync</c> on the backend's
/// stream) where the device supports memory pools, else <c>cudaMalloc</c>; zeroed before first use. Its owner disposes it.
/// A finalizer never frees device memory — it could run on any thread, after the context is gone — it only counts the leak
/// (<see cref="MemoryTracker.Leaks"/> and <see cref="CudaBackend.LeakedBuffers"/>).
/// </summary>
internal sealed unsafe class CudaDeviceBuffer : DeviceBuffer
{
    private readonly CudaBackend _owner;
    private nint _ptr;
    private readonly long _bytes;
    private readonly bool _async;

    internal CudaDeviceBuffer(CudaBackend owner, nint ptr, long bytes, bool streamOrdered)
    {
        _owner = owner;
        _ptr = ptr;
        _bytes = bytes;
        _async = streamOrdered;
    }

    /// <inheritdoc />
    public override Device Device => _owner.Device;
    /// <inheritdoc />
    public override long Bytes => _bytes;
    /// <inheritdoc />
    public override nint Pointer => _ptr == 0 ? throw new ObjectDisposedException(nameof(CudaDeviceBuffer)) : _ptr;
    /// <inheritdoc />
    public override bool IsDisposed => _ptr == 0;

    /// <summary>Frees the memory: stream-ordered after the work already queued when the backend is alive, else synchronously.</summary>
    public override void Dispose()
    {
        if (_ptr == 0) return;
        nint p = _ptr;
        _ptr = 0;
        GC.SuppressFinalize(this);
        _owner.Free(p, _bytes, _async);
    }

    /// <summary>Counts a buffer its owner forgot to dispose; never frees device memory.</summary>
    ~CudaDeviceBuffer()
    {
        if (_ptr != 0) _owner.CountLeak(_bytes);
    }
}

using System.Runtime.InteropServices;
using DeepTrain.Tensors;

namespace DeepTrain.Memory;

/// <summary>
/// Zero-initialised, 64-byte-aligned native host memory (one cache line, one AVX-512 vector).
/// Host memory may safely be freed by the finalizer, but that counts as a leak in
/// <see cref="MemoryTracker.Leaks"/>: owners are expected to dispose.
/// </summary>
public sealed unsafe class HostBuffer : DeviceBuffer
{
    /// <summary>Alignment of every host buffer in bytes.</summary>
    public const int Alignment = 64;
    private void* _ptr;
    private readonly long _bytes;
    private readonly Action<long>? _onFree;

    /// <summary>Allocates <paramref name="bytes"/> zeroed bytes; <paramref name="onFree"/> hears of the free (the owning backend's count).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative.</exception>
    /// <exception cref="OutOfMemoryException">The host has not that much memory.</exception>
    public HostBuffer(long bytes, Action<long>? onFree = null)
    {
        _onFree = onFree;
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        _bytes = bytes;
        _ptr = NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), Alignment);
        NativeMemory.Clear(_ptr, (nuint)Math.Max(bytes, 1));
        MemoryTracker.HostAllocated(bytes);
    }

    /// <inheritdoc />
    public override Device Device => Device.Cpu;
    /// <inheritdoc />
    public override long Bytes => _bytes;
    /// <inheritdoc />
    public override nint Pointer => _ptr == null ? throw new ObjectDisposedException(nameof(HostBuffer)) : (nint)_ptr;
    /// <inheritdoc />
    public override bool IsDisposed => _ptr == null;

    /// <inheritdoc />
    public override void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        if (_ptr == null) return;
        NativeMemory.AlignedFree(_ptr);
        _ptr = null;
        MemoryTracker.HostFreed(_bytes);
        _onFree?.Invoke(_bytes);
    }

    /// <summary>Frees a buffer whose owner forgot to, and counts the leak.</summary>
    ~HostBuffer()
    {
        if (_ptr != null) MemoryTracker.LeakFound();
        Free();
    }
}

using System.Buffers;

namespace DeepTrain.Distributed;

/// <summary>
/// A <see cref="Memory{T}"/> over native memory that never moves (a host tensor's buffer), so MPI's non-blocking calls,
/// which take a <see cref="Memory{T}"/> and pin it, can run on tensors. Pinning is a no-op. The tensor's owner must
/// outlive the request.
/// </summary>
internal sealed unsafe class FixedNativeMemory<T>(nint pointer, int length) : MemoryManager<T> where T : unmanaged
{
    public override Span<T> GetSpan() => new((void*)pointer, length);
    public override MemoryHandle Pin(int elementIndex = 0) => new((T*)pointer + elementIndex);
    public override void Unpin() { }
    protected override void Dispose(bool disposing) { }
}

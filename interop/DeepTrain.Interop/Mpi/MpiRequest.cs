using System.Buffers;
using static DeepTrain.Interop.Checks;
using static DeepTrain.Interop.Mpi;

namespace DeepTrain.Interop;

/// <summary>
/// A started non-blocking collective (<c>MPI_Request</c>) and the pin on its buffer. <see cref="Test"/> polls,
/// <see cref="Wait"/> blocks; completion frees the native request (MPI sets it to <c>MPI_REQUEST_NULL</c>) and unpins the
/// buffer. <see cref="Dispose"/> waits for a pending request, because freeing it early would leave MPI writing into an
/// unpinned buffer. Not thread-safe: one thread tests or waits.
/// </summary>
public sealed unsafe class MpiRequest : IDisposable
{
    private MPI_Request _request;
    private MemoryHandle _pin;

    internal MpiRequest(MPI_Request request, MemoryHandle pin) => (_request, _pin) = (request, pin);

    /// <summary>Whether the operation has completed (and its buffer holds the result).</summary>
    public bool IsCompleted { get; private set; }

    /// <summary>Checks for completion without blocking (<c>MPI_Test</c>).</summary>
    /// <returns>Whether the operation has completed.</returns>
    /// <exception cref="MpiException">The call failed.</exception>
    public bool Test()
    {
        if (IsCompleted) return true;
        Check(MPI_Test(ref _request, out int flag, null));
        if (flag != 0) Complete();
        return IsCompleted;
    }

    /// <summary>Blocks until the operation completes (<c>MPI_Wait</c>).</summary>
    /// <exception cref="MpiException">The call failed.</exception>
    public void Wait()
    {
        if (IsCompleted) return;
        Check(MPI_Wait(ref _request, null));
        Complete();
    }

    /// <summary>Waits for a pending operation, then releases the buffer's pin.</summary>
    /// <exception cref="MpiException">The wait failed.</exception>
    public void Dispose() => Wait();

    private void Complete()
    {
        IsCompleted = true;
        _pin.Dispose();
    }
}

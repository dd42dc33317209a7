namespace DeepTrain.Interop;

/// <summary>A CUDA runtime call returned an error.</summary>
public sealed class CudaException : DeepTrainException
{
    /// <summary>Builds the exception; the message reads <c>cudaMalloc(&amp;p, n) failed: cudaErrorMemoryAllocation (2): out of memory</c>.</summary>
    /// <param name="status">The status the call returned.</param>
    /// <param name="name">Its C name (<c>cudaGetErrorName</c>).</param>
    /// <param name="libraryMessage">The runtime's description (<c>cudaGetErrorString</c>).</param>
    /// <param name="call">The source text of the call.</param>
    public CudaException(cudaError_t status, string name, string libraryMessage, string call)
        : base($"{call} failed: {name} ({(int)status}): {libraryMessage}")
        => (Status, StatusName, LibraryMessage, Call) = (status, name, libraryMessage, call);

    /// <summary>The status the call returned.</summary>
    public cudaError_t Status { get; }
    /// <summary>The status's C name.</summary>
    public string StatusName { get; }
    /// <summary>The status's number.</summary>
    public int StatusNumber => (int)Status;
    /// <summary>The runtime's own description.</summary>
    public string LibraryMessage { get; }
    /// <summary>The source text of the failing call.</summary>
    public string Call { get; }
}

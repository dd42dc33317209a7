namespace DeepTrain.Interop;

/// <summary>An NCCL call returned an error.</summary>
public sealed class NcclException : DeepTrainException
{
    /// <summary>Builds the exception; the message reads <c>ncclAllReduce(...) failed: ncclInvalidArgument (4): invalid argument (...)</c>.</summary>
    /// <param name="status">The status the call returned.</param>
    /// <param name="libraryMessage">NCCL's description (<c>ncclGetErrorString</c>, with <c>ncclGetLastError</c>'s detail).</param>
    /// <param name="call">The source text of the call.</param>
    public NcclException(ncclResult_t status, string libraryMessage, string call)
        : base($"{call} failed: {status} ({(int)status}): {libraryMessage}")
        => (Status, LibraryMessage, Call) = (status, libraryMessage, call);

    /// <summary>The status the call returned.</summary>
    public ncclResult_t Status { get; }
    /// <summary>The status's C name.</summary>
    public string StatusName => Status.ToString();
    /// <summary>The status's number.</summary>
    public int StatusNumber => (int)Status;
    /// <summary>NCCL's own description.</summary>
    public string LibraryMessage { get; }
    /// <summary>The source text of the failing call.</summary>
    public string Call { get; }
}

namespace DeepTrain.Interop;

/// <summary>A cuBLAS call returned an error.</summary>
public sealed class CublasException : DeepTrainException
{
    /// <summary>Builds the exception from the call's status.</summary>
    /// <param name="status">The status the call returned.</param>
    /// <param name="name">Its C name (<c>cublasGetStatusName</c>).</param>
    /// <param name="libraryMessage">cuBLAS's description (<c>cublasGetStatusString</c>).</param>
    /// <param name="call">The source text of the call.</param>
    public CublasException(cublasStatus_t status, string name, string libraryMessage, string call)
        : base($"{call} failed: {name} ({(int)status}): {libraryMessage}")
        => (Status, StatusName, LibraryMessage, Call) = (status, name, libraryMessage, call);

    /// <summary>The status the call returned.</summary>
    public cublasStatus_t Status { get; }
    /// <summary>The status's C name.</summary>
    public string StatusName { get; }
    /// <summary>The status's number.</summary>
    public int StatusNumber => (int)Status;
    /// <summary>cuBLAS's own description.</summary>
    public string LibraryMessage { get; }
    /// <summary>The source text of the failing call.</summary>
    public string Call { get; }
}

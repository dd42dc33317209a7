namespace DeepTrain.Interop;

/// <summary>A cuDNN call returned an error.</summary>
public sealed class CudnnException : DeepTrainException
{
    /// <summary>Builds the exception from the call's status.</summary>
    /// <param name="status">The status the call returned (numbered as the loaded major version numbers it).</param>
    /// <param name="name">Its C name in that numbering (<see cref="Cudnn.StatusName(cudnnStatus_t)"/>).</param>
    /// <param name="libraryMessage">cuDNN's description, with cuDNN 9's last-error detail where present.</param>
    /// <param name="call">The source text of the call.</param>
    public CudnnException(cudnnStatus_t status, string name, string libraryMessage, string call)
        : base($"{call} failed: {name} ({(int)status}): {libraryMessage}")
        => (Status, StatusName, LibraryMessage, Call) = (status, name, libraryMessage, call);

    /// <summary>The status the call returned.</summary>
    public cudnnStatus_t Status { get; }
    /// <summary>The status's C name.</summary>
    public string StatusName { get; }
    /// <summary>The status's number.</summary>
    public int StatusNumber => (int)Status;
    /// <summary>cuDNN's own description.</summary>
    public string LibraryMessage { get; }
    /// <summary>The source text of the failing call.</summary>
    public string Call { get; }
}

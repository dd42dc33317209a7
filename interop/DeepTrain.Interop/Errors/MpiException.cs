namespace DeepTrain.Interop;

/// <summary>An MPI call returned an error (possible only on a communicator whose error handler is
/// <c>MPI_ERRORS_RETURN</c>, which <see cref="MpiRuntime"/> sets on <c>MPI_COMM_WORLD</c>; MPI's default aborts the job).</summary>
public sealed class MpiException : DeepTrainException
{
    /// <summary>Builds the exception; the message reads <c>MPI_Bcast(p, n, MPI_FLOAT, 5, MPI_COMM_WORLD) failed: MPI_ERR_ROOT (8): MPI_ERR_ROOT: invalid root</c>.</summary>
    /// <param name="errorCode">The value the call returned.</param>
    /// <param name="name">Its class's C name (<see cref="Mpi.ErrorName"/>).</param>
    /// <param name="libraryMessage">The library's description (<c>MPI_Error_string</c>).</param>
    /// <param name="call">The source text of the call.</param>
    public MpiException(int errorCode, string name, string libraryMessage, string call)
        : base($"{call} failed: {name} ({errorCode}): {libraryMessage}")
        => (ErrorCode, ErrorName, LibraryMessage, Call) = (errorCode, name, libraryMessage, call);

    /// <summary>The value the call returned (an error code; for Open MPI's own errors also its class).</summary>
    public int ErrorCode { get; }
    /// <summary>The error as an <see cref="MpiError"/>; a value outside the enum when the code is not a class.</summary>
    public MpiError Error => (MpiError)ErrorCode;
    /// <summary>The C name of the code's class.</summary>
    public string ErrorName { get; }
    /// <summary>The library's own description (<c>MPI_Error_string</c>).</summary>
    public string LibraryMessage { get; }
    /// <summary>The source text of the failing call.</summary>
    public string Call { get; }
}

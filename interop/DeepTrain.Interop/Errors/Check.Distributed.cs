using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace DeepTrain.Interop;

// The MPI and NCCL statuses, through the same one path as the CUDA ones (Check.cs).
internal static partial class Checks
{
    /// <summary>Throws unless <paramref name="status"/> is <c>MPI_SUCCESS</c>.</summary>
    /// <param name="status">The value an MPI call returned.</param>
    /// <param name="call">Filled in by the compiler.</param>
    /// <exception cref="MpiException">The status is an error.</exception>
    public static void Check(MpiError status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != MpiError.MPI_SUCCESS) Throw(status, call);
    }

    /// <summary>Throws unless <paramref name="status"/> is <c>ncclSuccess</c> (a non-blocking communicator's
    /// <c>ncclInProgress</c> is not success; none is made here).</summary>
    /// <param name="status">The status of an NCCL call.</param>
    /// <param name="call">Filled in by the compiler.</param>
    /// <exception cref="NcclException">The status is an error.</exception>
    public static void Check(ncclResult_t status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != ncclResult_t.ncclSuccess) Throw(status, call);
    }

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(ncclResult_t status, string call) => throw new NcclException(status, Nccl.ErrorString(status), call);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(MpiError status, string call) =>
        throw new MpiException((int)status, Mpi.ErrorName((int)status), Mpi.ErrorString((int)status), call);
}

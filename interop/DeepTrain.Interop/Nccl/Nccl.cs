using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

#pragma warning disable CA1707 // C names kept (STYLE.md, Bindings)

/// <summary>
/// NCCL 2 (<c>libnccl.so.2</c>): the GPU collectives of data-parallel training, bootstrapped over MPI (rank 0's
/// <see cref="ncclGetUniqueId"/> broadcast with <see cref="MpiComm.Broadcast{T}"/>, then <see cref="ncclCommInitRank"/> on
/// every rank with its device set). Names and parameters are nccl.h's (NVIDIA/nccl <c>src/nccl.h.in</c>); collectives
/// return once enqueued on the stream. Written without a GPU: the declarations are checked against the header text, and
/// the calls run only in the GPU device check.
/// </summary>
internal static unsafe partial class Nccl
{
    /// <summary><c>NCCL_UNIQUE_ID_BYTES</c>: the size of an <see cref="ncclUniqueId"/>.</summary>
    public const int NCCL_UNIQUE_ID_BYTES = 128;

    /// <summary>The library's <c>NCCL_VERSION_CODE</c>: major*10000 + minor*100 + patch since 2.9 (21903 = 2.19.3).</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclGetVersion(out int version);

    /// <summary>Makes the id rank 0 sends to every rank before <see cref="ncclCommInitRank"/>.</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclGetUniqueId(out ncclUniqueId uniqueId);

    /// <summary>Joins communicator <paramref name="commId"/> as <paramref name="rank"/> of <paramref name="nranks"/> on the
    /// current CUDA device. Blocks until every rank has joined.</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclCommInitRank(out NcclCommHandle comm, int nranks, ncclUniqueId commId, int rank);

    /// <summary>Frees the communicator after its work completes; only <see cref="NcclCommHandle"/>'s release calls it.</summary>
    [LibraryImport(Libraries.Nccl)] internal static partial ncclResult_t ncclCommDestroy(IntPtr comm);

    /// <summary>Frees the communicator and cancels its pending work; only <see cref="NcclCommHandle"/>'s release calls it.</summary>
    [LibraryImport(Libraries.Nccl)] internal static partial ncclResult_t ncclCommAbort(IntPtr comm);

    /// <summary>The communicator's asynchronous error (a failed peer or network), <c>ncclSuccess</c> if none. Poll it while
    /// waiting on a stream, as a blocked collective never returns on its own.</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclCommGetAsyncError(NcclCommHandle comm, out ncclResult_t asyncError);

    /// <summary>Reduces <paramref name="count"/> elements over all ranks into every rank's <paramref name="recvbuff"/>
    /// (device pointers; in place when equal).</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclAllReduce(void* sendbuff, void* recvbuff, nuint count, ncclDataType_t datatype, ncclRedOp_t op, NcclCommHandle comm, CudaStream stream);

    /// <summary>Copies <paramref name="count"/> elements from <paramref name="root"/>'s <paramref name="sendbuff"/> to every
    /// rank's <paramref name="recvbuff"/> (device pointers; in place when equal).</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclBroadcast(void* sendbuff, void* recvbuff, nuint count, ncclDataType_t datatype, int root, NcclCommHandle comm, CudaStream stream);

    /// <summary>Starts a group: the calls until <see cref="ncclGroupEnd"/> are fused (e.g. one all-reduce per bucket).</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclGroupStart();

    /// <summary>Ends a group and enqueues its calls.</summary>
    [LibraryImport(Libraries.Nccl)] public static partial ncclResult_t ncclGroupEnd();

    /// <summary>The description of <paramref name="result"/>, a static C string (never freed).</summary>
    [LibraryImport(Libraries.Nccl)] public static partial byte* ncclGetErrorString(ncclResult_t result);

    /// <summary>The last error's detail in words, a static C string (NCCL 2.13+; <paramref name="comm"/> is unused, pass zero).</summary>
    [LibraryImport(Libraries.Nccl)] public static partial byte* ncclGetLastError(IntPtr comm);

    /// <summary>The library's version code, e.g. 21903.</summary>
    /// <returns>The code.</returns>
    /// <exception cref="DllNotFoundException">No NCCL library loads; the message holds the search trace.</exception>
    /// <exception cref="NcclException">The call failed.</exception>
    public static int Version()
    {
        NativeLibraryResolver.Load(Libraries.Nccl);
        Checks.Check(ncclGetVersion(out int version));
        return version;
    }

    /// <summary><c>ncclGetErrorString</c>, with <c>ncclGetLastError</c>'s detail where the library has it; a fixed text
    /// when NCCL cannot be loaded. Never throws.</summary>
    /// <param name="result">Any status.</param>
    /// <returns>The library's message.</returns>
    public static string ErrorString(ncclResult_t result)
    {
        try
        {
            string text = Marshal.PtrToStringUTF8((IntPtr)ncclGetErrorString(result)) ?? "";
            try
            {
                if (Marshal.PtrToStringUTF8((IntPtr)ncclGetLastError(IntPtr.Zero)) is { Length: > 0 } last) text += " (" + last.Trim() + ")";
            }
            catch (EntryPointNotFoundException) { /* before 2.13 */ }
            return text;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "(the NCCL library could not be loaded to describe this status)";
        }
    }
}

#pragma warning restore CA1707

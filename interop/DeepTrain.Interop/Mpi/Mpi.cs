using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

#pragma warning disable CA1707 // C names kept (STYLE.md, Bindings)

/// <summary>
/// Open MPI's C API (<c>libmpi.so.40</c>: Open MPI 3.0 to 5.x), the calls DeepTrain's data-parallel training needs.
/// Names and parameters are mpi.h's; every call returns an <see cref="MpiError"/> to pass to
/// <c>Checks.Check</c>. The predefined handles (<c>MPI_COMM_WORLD</c>, <c>MPI_FLOAT</c>, <c>MPI_SUM</c>, ...) are
/// addresses of globals the library exports and are resolved in <see cref="MpiHandles"/>.
/// <para>Lifetime: <c>MPI_Init_thread</c> once per process, <c>MPI_Finalize</c> once, never re-initialised; the managed
/// <see cref="MpiRuntime"/> enforces that order.</para>
/// </summary>
internal static unsafe partial class Mpi
{
    /// <summary><c>MPI_IN_PLACE</c>: <c>((void *) 1)</c> in Open MPI's mpi.h (MPICH uses -1); as the send buffer it
    /// means "the receive buffer holds the input".</summary>
    public const long MPI_IN_PLACE = 1;

    /// <summary><c>MPI_COMM_TYPE_SHARED</c>: split by shared-memory domain (one node), for the local rank.</summary>
    public const int MPI_COMM_TYPE_SHARED = 0;

    /// <summary><c>MPI_MAX_ERROR_STRING</c>: the buffer size <c>MPI_Error_string</c> needs.</summary>
    public const int MPI_MAX_ERROR_STRING = 256;

    /// <summary><c>MPI_MAX_LIBRARY_VERSION_STRING</c>: the buffer size <c>MPI_Get_library_version</c> needs.</summary>
    public const int MPI_MAX_LIBRARY_VERSION_STRING = 256;

    /// <summary>Initialises MPI with a thread level; <paramref name="argc"/> and <paramref name="argv"/> may be null.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Init_thread(int* argc, byte*** argv, MpiThreadLevel required, out MpiThreadLevel provided);

    /// <summary>Whether MPI_Init(_thread) has been called (callable at any time).</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Initialized(out int flag);

    /// <summary>Whether MPI_Finalize has completed (callable at any time).</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Finalized(out int flag);

    /// <summary>The thread level MPI was initialised with (for a process whose MPI someone else initialised).</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Query_thread(out MpiThreadLevel provided);

    /// <summary>Ends MPI in this process; every rank must call it, and nothing MPI may follow.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Finalize();

    /// <summary>Ends every process of <paramref name="comm"/> (in practice the whole job) with <paramref name="errorcode"/>.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Abort(MPI_Comm comm, int errorcode);

    /// <summary>This process's rank in <paramref name="comm"/>.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Comm_rank(MPI_Comm comm, out int rank);

    /// <summary>The number of processes in <paramref name="comm"/>.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Comm_size(MPI_Comm comm, out int size);

    /// <summary>Splits <paramref name="comm"/> by <paramref name="split_type"/> (<see cref="MPI_COMM_TYPE_SHARED"/>: per node).
    /// Collective. The new communicator is freed by its handle.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Comm_split_type(MPI_Comm comm, int split_type, int key, MPI_Info info, out MpiCommHandle newcomm);

    /// <summary>Frees a communicator made by a split; only <see cref="MpiCommHandle.ReleaseHandle"/> calls it.</summary>
    [LibraryImport(Libraries.Mpi)] internal static partial MpiError MPI_Comm_free(ref IntPtr comm);

    /// <summary>Sets what an error on <paramref name="comm"/> does; <c>MPI_ERRORS_RETURN</c> makes calls return it.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Comm_set_errhandler(MPI_Comm comm, MPI_Errhandler errhandler);

    /// <summary>Blocks until every process of <paramref name="comm"/> has entered it.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Barrier(MPI_Comm comm);

    /// <summary>Copies <paramref name="count"/> elements of <paramref name="buffer"/> from <paramref name="root"/> to every rank.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Bcast(void* buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm);

    /// <summary>Starts <c>MPI_Bcast</c> without blocking; the buffer must stay put until the request completes.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Ibcast(void* buffer, int count, MPI_Datatype datatype, int root, MPI_Comm comm, out MPI_Request request);

    /// <summary>Reduces <paramref name="sendbuf"/> over all ranks into every rank's <paramref name="recvbuf"/>
    /// (<paramref name="sendbuf"/> = <see cref="MPI_IN_PLACE"/>: in place in <paramref name="recvbuf"/>).</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Allreduce(void* sendbuf, void* recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm);

    /// <summary>Starts <c>MPI_Allreduce</c> without blocking; the buffers must stay put until the request completes.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Iallreduce(void* sendbuf, void* recvbuf, int count, MPI_Datatype datatype, MPI_Op op, MPI_Comm comm, out MPI_Request request);

    /// <summary>Sets <paramref name="flag"/> to 1 and frees the request if it completed; otherwise 0. Never blocks.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Test(ref MPI_Request request, out int flag, MPI_Status* status);

    /// <summary>Blocks until the request completes, then frees it.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Wait(ref MPI_Request request, MPI_Status* status);

    /// <summary>The text of an error code into <paramref name="string"/> (<see cref="MPI_MAX_ERROR_STRING"/> bytes). Callable at any time.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Error_string(int errorcode, byte* @string, out int resultlen);

    /// <summary>The error class (an <see cref="MpiError"/>) of an error code.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Error_class(int errorcode, out int errorclass);

    /// <summary>The library's version text (<see cref="MPI_MAX_LIBRARY_VERSION_STRING"/> bytes). Callable at any time.</summary>
    [LibraryImport(Libraries.Mpi)] public static partial MpiError MPI_Get_library_version(byte* version, out int resultlen);

    /// <summary>Whether MPI is between init and finalize. Open MPI 4 aborts the process when <c>MPI_Error_string</c> or
    /// <c>MPI_Error_class</c> is called outside that window ("called before MPI_INIT was invoked"), so those are guarded.</summary>
    /// <returns>True only while MPI is initialised and not finalised; false when the library does not load.</returns>
    public static bool IsActive()
    {
        try
        {
            return MPI_Initialized(out int init) == MpiError.MPI_SUCCESS && init != 0
                && MPI_Finalized(out int fin) == MpiError.MPI_SUCCESS && fin == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    /// <summary><c>MPI_Error_string</c> as a string; a fixed text when the library cannot be loaded, MPI is not active
    /// (see <see cref="IsActive"/>), or the library does not know the code.</summary>
    /// <param name="errorcode">Any value an MPI call returned.</param>
    /// <returns>The library's message, never null.</returns>
    public static string ErrorString(int errorcode)
    {
        byte* buffer = stackalloc byte[MPI_MAX_ERROR_STRING];
        try
        {
            if (!IsActive()) return "(no message: Open MPI describes errors only between MPI_Init and MPI_Finalize)";
            return MPI_Error_string(errorcode, buffer, out int length) == MpiError.MPI_SUCCESS
                ? Marshal.PtrToStringUTF8((IntPtr)buffer, Math.Clamp(length, 0, MPI_MAX_ERROR_STRING))
                : $"(MPI_Error_string does not know error code {errorcode})";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "(the MPI library could not be loaded to describe this error)";
        }
    }

    /// <summary>The C name of an error code's class (<c>MPI_ERR_COMM</c>), or <c>"MPI error code N"</c>. Never throws.</summary>
    /// <param name="errorcode">Any value an MPI call returned.</param>
    /// <returns>The name.</returns>
    public static string ErrorName(int errorcode)
    {
        if (Enum.IsDefined((MpiError)errorcode)) return ((MpiError)errorcode).ToString();
        try
        {
            if (IsActive() && MPI_Error_class(errorcode, out int cls) == MpiError.MPI_SUCCESS && Enum.IsDefined((MpiError)cls))
                return $"{(MpiError)cls} (class of code {errorcode})";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        return $"MPI error code {errorcode}";
    }

    /// <summary><c>MPI_Get_library_version</c> as a string (e.g. <c>Open MPI v4.1.4, package: Debian OpenMPI, ...</c>).</summary>
    /// <returns>The first line of the library's text.</returns>
    /// <exception cref="DllNotFoundException">No Open MPI library loads; the message holds the search trace.</exception>
    public static string LibraryVersion()
    {
        NativeLibraryResolver.Load(Libraries.Mpi);
        byte* buffer = stackalloc byte[MPI_MAX_LIBRARY_VERSION_STRING];
        Checks.Check(MPI_Get_library_version(buffer, out int length));
        string text = Marshal.PtrToStringUTF8((IntPtr)buffer, Math.Clamp(length, 0, MPI_MAX_LIBRARY_VERSION_STRING)).TrimEnd('\0');
        return text.Split('\n', 2)[0].Trim();
    }
}

#pragma warning restore CA1707

using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

#pragma warning disable CA1707 // C names kept so grepping mpi.h finds the C# (STYLE.md, Bindings)

/// <summary>
/// The error classes of MPI (<c>MPI_SUCCESS</c>, <c>MPI_ERR_*</c> in mpi.h), which every MPI function returns as an
/// <c>int</c>. Open MPI returns these classes for its own errors; an implementation may also return other codes (it
/// maps them to a class with <c>MPI_Error_class</c>), so a value outside this enum is possible and is reported by
/// number. Values checked against the installed mpi.h by the conformance test (the MPI-3 error classes; the
/// <c>MPI_T_ERR_*</c> tool-interface classes are not returned by anything bound here).
/// </summary>
public enum MpiError
{
    MPI_SUCCESS = 0,
    MPI_ERR_BUFFER = 1,
    MPI_ERR_COUNT = 2,
    MPI_ERR_TYPE = 3,
    MPI_ERR_TAG = 4,
    MPI_ERR_COMM = 5,
    MPI_ERR_RANK = 6,
    MPI_ERR_REQUEST = 7,
    MPI_ERR_ROOT = 8,
    MPI_ERR_GROUP = 9,
    MPI_ERR_OP = 10,
    MPI_ERR_TOPOLOGY = 11,
    MPI_ERR_DIMS = 12,
    MPI_ERR_ARG = 13,
    MPI_ERR_UNKNOWN = 14,
    MPI_ERR_TRUNCATE = 15,
    MPI_ERR_OTHER = 16,
    MPI_ERR_INTERN = 17,
    MPI_ERR_IN_STATUS = 18,
    MPI_ERR_PENDING = 19,
    MPI_ERR_ACCESS = 20,
    MPI_ERR_AMODE = 21,
    MPI_ERR_ASSERT = 22,
    MPI_ERR_BAD_FILE = 23,
    MPI_ERR_BASE = 24,
    MPI_ERR_CONVERSION = 25,
    MPI_ERR_DISP = 26,
    MPI_ERR_DUP_DATAREP = 27,
    MPI_ERR_FILE_EXISTS = 28,
    MPI_ERR_FILE_IN_USE = 29,
    MPI_ERR_FILE = 30,
    MPI_ERR_INFO_KEY = 31,
    MPI_ERR_INFO_NOKEY = 32,
    MPI_ERR_INFO_VALUE = 33,
    MPI_ERR_INFO = 34,
    MPI_ERR_IO = 35,
    MPI_ERR_KEYVAL = 36,
    MPI_ERR_LOCKTYPE = 37,
    MPI_ERR_NAME = 38,
    MPI_ERR_NO_MEM = 39,
    MPI_ERR_NOT_SAME = 40,
    MPI_ERR_NO_SPACE = 41,
    MPI_ERR_NO_SUCH_FILE = 42,
    MPI_ERR_PORT = 43,
    MPI_ERR_QUOTA = 44,
    MPI_ERR_READ_ONLY = 45,
    MPI_ERR_RMA_CONFLICT = 46,
    MPI_ERR_RMA_SYNC = 47,
    MPI_ERR_SERVICE = 48,
    MPI_ERR_SIZE = 49,
    MPI_ERR_SPAWN = 50,
    MPI_ERR_UNSUPPORTED_DATAREP = 51,
    MPI_ERR_UNSUPPORTED_OPERATION = 52,
    MPI_ERR_WIN = 53,
    MPI_ERR_RMA_RANGE = 68,
    MPI_ERR_RMA_ATTACH = 69,
    MPI_ERR_RMA_FLAVOR = 70,
    MPI_ERR_RMA_SHARED = 71,
}

/// <summary>The thread support levels of <c>MPI_Init_thread</c> (an unnamed enum in mpi.h), least to most.</summary>
public enum MpiThreadLevel
{
    /// <summary>Only one thread exists.</summary>
    MPI_THREAD_SINGLE = 0,
    /// <summary>Threads may exist; only the thread that initialised MPI calls it.</summary>
    MPI_THREAD_FUNNELED = 1,
    /// <summary>Any thread may call MPI, but never two at once.</summary>
    MPI_THREAD_SERIALIZED = 2,
    /// <summary>Any thread may call MPI at any time.</summary>
    MPI_THREAD_MULTIPLE = 3,
}

/// <summary>
/// <c>MPI_Status</c> as Open MPI lays it out (<c>struct ompi_status_public_t</c>): the three public fields, then two
/// internal ones. 24 bytes on LP64; size and offsets checked against mpi.h. MPICH's layout differs, one more reason
/// the bindings accept only Open MPI.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MPI_Status
{
    /// <summary>The rank the message came from.</summary>
    public int MPI_SOURCE;
    /// <summary>The tag of the message.</summary>
    public int MPI_TAG;
    /// <summary>The error of this request (set by the multiple-completion calls).</summary>
    public int MPI_ERROR;
    /// <summary>Open MPI internal: whether the request was cancelled.</summary>
    public int _cancelled;
    /// <summary>Open MPI internal: the received byte count (<c>size_t</c>).</summary>
    public nuint _ucount;
}

// Open MPI's handles are pointers to opaque structs (typedef struct ompi_communicator_t *MPI_Comm, ...). Each is a
// one-pointer struct here so a datatype cannot be passed where a communicator is expected; a struct holding one pointer
// is passed exactly as the pointer is (in a register on x64 and arm64).

/// <summary>A communicator (<c>MPI_Comm</c>, a <c>struct ompi_communicator_t*</c>).</summary>
/// <param name="Value">The address; for <c>MPI_COMM_WORLD</c> that of the exported global <c>ompi_mpi_comm_world</c>.</param>
internal readonly record struct MPI_Comm(IntPtr Value);

/// <summary>A datatype (<c>MPI_Datatype</c>, a <c>struct ompi_datatype_t*</c>), e.g. <c>&amp;ompi_mpi_float</c>.</summary>
/// <param name="Value">The address.</param>
internal readonly record struct MPI_Datatype(IntPtr Value);

/// <summary>A reduction operation (<c>MPI_Op</c>, a <c>struct ompi_op_t*</c>), e.g. <c>&amp;ompi_mpi_op_sum</c>.</summary>
/// <param name="Value">The address.</param>
internal readonly record struct MPI_Op(IntPtr Value);

/// <summary>An error handler (<c>MPI_Errhandler</c>), e.g. <c>&amp;ompi_mpi_errors_return</c>.</summary>
/// <param name="Value">The address.</param>
internal readonly record struct MPI_Errhandler(IntPtr Value);

/// <summary>An info object (<c>MPI_Info</c>); only <c>MPI_INFO_NULL</c> (<c>&amp;ompi_mpi_info_null</c>) is used here.</summary>
/// <param name="Value">The address.</param>
internal readonly record struct MPI_Info(IntPtr Value);

/// <summary>
/// A non-blocking operation (<c>MPI_Request</c>, a <c>struct ompi_request_t*</c>). A completing <c>MPI_Test</c> or
/// <c>MPI_Wait</c> frees it and sets it to <c>MPI_REQUEST_NULL</c> (<c>&amp;ompi_request_null</c>, not zero).
/// </summary>
/// <param name="Value">The address.</param>
internal readonly record struct MPI_Request(IntPtr Value);

#pragma warning restore CA1707

using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

#pragma warning disable CA1707 // C names kept (STYLE.md, Bindings)

/// <summary>
/// Open MPI's predefined handles. In Open MPI's mpi.h they are not numbers but addresses of exported globals:
/// <c>#define MPI_COMM_WORLD OMPI_PREDEFINED_GLOBAL(MPI_Comm, ompi_mpi_comm_world)</c>, i.e. <c>&amp;ompi_mpi_comm_world</c>
/// (MPICH's are integer constants instead, so a binding of one does not fit the other).
/// <para>Resolved with <see cref="NativeLibrary.GetExport"/> on the loaded <c>libmpi.so.40</c>: dlsym of a data symbol
/// gives its address, exactly what the C macro yields. Chosen over a C shim compiled against mpi.h because it adds no
/// build step and no native artefact to ship (mpi.h is not needed to run, only to test), and the symbol names are stable
/// across Open MPI 3 to 5. The conformance test proves each name is the global behind its macro (<c>dladdr</c> of the
/// macro's value in a program compiled against the installed mpi.h).</para>
/// <para>Each address is looked up once, on first use, after the library is loaded; a missing one throws
/// <see cref="EntryPointNotFoundException"/> naming the symbol (a library that is not Open MPI).</para>
/// </summary>
internal static class MpiHandles
{
    /// <summary>The exported global behind each predefined handle this project uses, by its mpi.h name.</summary>
    public static IReadOnlyDictionary<string, string> Symbols { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["MPI_COMM_WORLD"] = "ompi_mpi_comm_world",
        ["MPI_COMM_NULL"] = "ompi_mpi_comm_null",
        ["MPI_BYTE"] = "ompi_mpi_byte",
        ["MPI_INT"] = "ompi_mpi_int",
        ["MPI_FLOAT"] = "ompi_mpi_float",
        ["MPI_DOUBLE"] = "ompi_mpi_double",
        ["MPI_SUM"] = "ompi_mpi_op_sum",
        ["MPI_MAX"] = "ompi_mpi_op_max",
        ["MPI_INFO_NULL"] = "ompi_mpi_info_null",
        ["MPI_REQUEST_NULL"] = "ompi_request_null",
        ["MPI_ERRORS_RETURN"] = "ompi_mpi_errors_return",
        ["MPI_ERRORS_ARE_FATAL"] = "ompi_mpi_errors_are_fatal",
    };

    private static readonly Lazy<MPI_Comm> World = new(() => new(Address("MPI_COMM_WORLD")));
    private static readonly Lazy<MPI_Comm> CommNull = new(() => new(Address("MPI_COMM_NULL")));
    private static readonly Lazy<MPI_Datatype> Byte = new(() => new(Address("MPI_BYTE")));
    private static readonly Lazy<MPI_Datatype> Int = new(() => new(Address("MPI_INT")));
    private static readonly Lazy<MPI_Datatype> Float = new(() => new(Address("MPI_FLOAT")));
    private static readonly Lazy<MPI_Datatype> Double = new(() => new(Address("MPI_DOUBLE")));
    private static readonly Lazy<MPI_Op> Sum = new(() => new(Address("MPI_SUM")));
    private static readonly Lazy<MPI_Op> Max = new(() => new(Address("MPI_MAX")));
    private static readonly Lazy<MPI_Info> InfoNull = new(() => new(Address("MPI_INFO_NULL")));
    private static readonly Lazy<MPI_Request> RequestNull = new(() => new(Address("MPI_REQUEST_NULL")));
    private static readonly Lazy<MPI_Errhandler> ErrorsReturn = new(() => new(Address("MPI_ERRORS_RETURN")));

    /// <summary><c>MPI_COMM_WORLD</c> (<c>&amp;ompi_mpi_comm_world</c>).</summary>
    public static MPI_Comm MPI_COMM_WORLD => World.Value;
    /// <summary><c>MPI_COMM_NULL</c> (<c>&amp;ompi_mpi_comm_null</c>): what a split returns to a process it leaves out.</summary>
    public static MPI_Comm MPI_COMM_NULL => CommNull.Value;
    /// <summary><c>MPI_BYTE</c> (<c>&amp;ompi_mpi_byte</c>).</summary>
    public static MPI_Datatype MPI_BYTE => Byte.Value;
    /// <summary><c>MPI_INT</c> (<c>&amp;ompi_mpi_int</c>), a 32-bit int.</summary>
    public static MPI_Datatype MPI_INT => Int.Value;
    /// <summary><c>MPI_FLOAT</c> (<c>&amp;ompi_mpi_float</c>).</summary>
    public static MPI_Datatype MPI_FLOAT => Float.Value;
    /// <summary><c>MPI_DOUBLE</c> (<c>&amp;ompi_mpi_double</c>).</summary>
    public static MPI_Datatype MPI_DOUBLE => Double.Value;
    /// <summary><c>MPI_SUM</c> (<c>&amp;ompi_mpi_op_sum</c>).</summary>
    public static MPI_Op MPI_SUM => Sum.Value;
    /// <summary><c>MPI_MAX</c> (<c>&amp;ompi_mpi_op_max</c>).</summary>
    public static MPI_Op MPI_MAX => Max.Value;
    /// <summary><c>MPI_INFO_NULL</c> (<c>&amp;ompi_mpi_info_null</c>).</summary>
    public static MPI_Info MPI_INFO_NULL => InfoNull.Value;
    /// <summary><c>MPI_REQUEST_NULL</c> (<c>&amp;ompi_request_null</c>): what a completed request is set to.</summary>
    public static MPI_Request MPI_REQUEST_NULL => RequestNull.Value;
    /// <summary><c>MPI_ERRORS_RETURN</c> (<c>&amp;ompi_mpi_errors_return</c>).</summary>
    public static MPI_Errhandler MPI_ERRORS_RETURN => ErrorsReturn.Value;

    /// <summary>The address of the global behind the predefined handle <paramref name="name"/> (a key of <see cref="Symbols"/>).</summary>
    /// <param name="name">The mpi.h name, e.g. <c>MPI_FLOAT</c>.</param>
    /// <returns>The address (never zero).</returns>
    /// <exception cref="DllNotFoundException">No Open MPI library loads; the message holds the search trace.</exception>
    /// <exception cref="EntryPointNotFoundException">The loaded library does not export the symbol (it is not Open MPI).</exception>
    public static IntPtr Address(string name)
    {
        string symbol = Symbols[name];
        IntPtr lib = NativeLibraryResolver.Load(Libraries.Mpi);
        return NativeLibrary.TryGetExport(lib, symbol, out IntPtr address)
            ? address
            : throw new EntryPointNotFoundException(
                $"{NativeLibraryResolver.LoadedFrom(Libraries.Mpi)} does not export {symbol} (the global behind {name}): it is not Open MPI, whose handles these bindings resolve");
    }
}

/// <summary>
/// A communicator this process created (by <c>MPI_Comm_split_type</c>); <c>MPI_Comm_free</c> releases it. Predefined
/// communicators such as <c>MPI_COMM_WORLD</c> are not wrapped: nothing may free them. Dispose it before
/// <c>MPI_Finalize</c>; after finalisation the release is skipped (MPI has already reclaimed it).
/// </summary>
public sealed class MpiCommHandle() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero || handle == MpiHandles.MPI_COMM_NULL.Value;

    /// <summary>The communicator, for passing to <see cref="Mpi"/> calls while this handle is alive.</summary>
    internal MPI_Comm Comm => new(handle);

    /// <inheritdoc/>
    protected override bool ReleaseHandle()
    {
        if (Mpi.MPI_Finalized(out int finalized) != MpiError.MPI_SUCCESS || finalized != 0) return true;
        IntPtr comm = handle;
        return Mpi.MPI_Comm_free(ref comm) == MpiError.MPI_SUCCESS;
    }
}

#pragma warning restore CA1707

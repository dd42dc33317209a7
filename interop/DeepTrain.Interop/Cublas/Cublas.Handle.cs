using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>
/// cuBLAS (cublas_api.h), bound by the exported names. The handle API exists only as <c>_v2</c> exports
/// (<c>cublasCreate_v2</c>, ...); the plain names are the legacy handle-less API and must never be bound with these
/// signatures. Section: handle, stream, workspace, math mode, versions and status text.
/// </summary>
#pragma warning disable CA1707
internal static unsafe partial class Cublas
{
    /// <summary>Creates a handle on the current device.</summary>
    [LibraryImport(Libraries.Cublas)] public static partial cublasStatus_t cublasCreate_v2(out CublasHandle handle);

    /// <summary>Destroys a handle; only <see cref="CublasHandle"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cublas)] internal static partial cublasStatus_t cublasDestroy_v2(IntPtr handle);

    /// <summary>The library version (e.g. 111103 for 11.11.3).</summary>
    [LibraryImport(Libraries.Cublas)] public static partial cublasStatus_t cublasGetVersion_v2(CublasHandle handle, out int version);

    /// <summary>The CUDA runtime version cuBLAS was built with, 1000·major + 10·minor (cublas_api.h; needs no handle).</summary>
    [LibraryImport(Libraries.Cublas)] public static partial nuint cublasGetCudartVersion();

    /// <summary>Runs this handle's work on <paramref name="streamId"/>; resets the workspace to the default one.</summary>
    [LibraryImport(Libraries.Cublas)] public static partial cublasStatus_t cublasSetStream_v2(CublasHandle handle, CudaStream streamId);

    /// <summary>Gives cuBLAS a user-owned workspace (present in 11.8's header and library as well as 12 and 13).
    /// Call it after every <see cref="cublasSetStream_v2"/>, which resets it; required for graph capture.</summary>
    [LibraryImport(Libraries.Cublas)] public static partial cublasStatus_t cublasSetWorkspace_v2(CublasHandle handle, void* workspace, nuint workspaceSizeInBytes);

    /// <summary>Sets the handle's math mode.</summary>
    [LibraryImport(Libraries.Cublas)] public static partial cublasStatus_t cublasSetMathMode(CublasHandle handle, cublasMath_t mode);

    /// <summary>The enum name of <paramref name="status"/>, a static C string (present since 11.4).</summary>
    [LibraryImport(Libraries.Cublas)] public static partial byte* cublasGetStatusName(cublasStatus_t status);

    /// <summary>The description of <paramref name="status"/>, a static C string (present since 11.4).</summary>
    [LibraryImport(Libraries.Cublas)] public static partial byte* cublasGetStatusString(cublasStatus_t status);

    /// <summary><c>cublasGetStatusName</c> as a string; the enum name if cuBLAS cannot be loaded.</summary>
    /// <param name="status">Any status value.</param>
    /// <returns>The name, never null.</returns>
    public static string StatusName(cublasStatus_t status)
    {
        try { return Marshal.PtrToStringUTF8((IntPtr)cublasGetStatusName(status)) ?? status.ToString(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return status.ToString(); }
    }

    /// <summary><c>cublasGetStatusString</c> as a string; a fixed text if cuBLAS cannot be loaded.</summary>
    /// <param name="status">Any status value.</param>
    /// <returns>The message, never null.</returns>
    public static string StatusString(cublasStatus_t status)
    {
        try { return Marshal.PtrToStringUTF8((IntPtr)cublasGetStatusString(status)) ?? ""; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return "(cuBLAS could not be loaded to describe this status)"; }
    }
}
#pragma warning restore CA1707

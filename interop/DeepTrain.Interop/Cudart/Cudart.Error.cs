using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

#pragma warning disable CA1707
internal static unsafe partial class Cudart
{
    /// <summary>The enum name of <paramref name="error"/> as a static C string (never freed). Works without a driver.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial byte* cudaGetErrorName(cudaError_t error);

    /// <summary>The description of <paramref name="error"/> as a static C string (never freed). Works without a driver.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial byte* cudaGetErrorString(cudaError_t error);

    /// <summary>Returns and clears the last error of this host thread.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaGetLastError();

    /// <summary><c>cudaGetErrorName</c> as a string; falls back to the enum name if the runtime cannot be loaded.</summary>
    /// <param name="error">Any status value, known or not.</param>
    /// <returns>The name, never null.</returns>
    public static string ErrorName(cudaError_t error)
    {
        try { return Marshal.PtrToStringUTF8((IntPtr)cudaGetErrorName(error)) ?? error.ToString(); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return error.ToString(); }
    }

    /// <summary><c>cudaGetErrorString</c> as a string; a fixed text if the runtime cannot be loaded.</summary>
    /// <param name="error">Any status value.</param>
    /// <returns>The runtime's message, never null.</returns>
    public static string ErrorString(cudaError_t error)
    {
        try { return Marshal.PtrToStringUTF8((IntPtr)cudaGetErrorString(error)) ?? ""; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return "(the CUDA runtime could not be loaded to describe this status)"; }
    }
}
#pragma warning restore CA1707

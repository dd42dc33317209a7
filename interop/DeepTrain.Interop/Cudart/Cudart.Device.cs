using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>
/// The CUDA runtime API (cuda_runtime_api.h), bound by C name. Every function returns a <see cref="cudaError_t"/>
/// that goes through <c>Checks.Check</c>. Pointers to device or pinned memory are raw <c>void*</c>: the engine's
/// arenas own that memory, never a finalizer. Section: device management and versions.
/// </summary>
#pragma warning disable CA1707
internal static unsafe partial class Cudart
{
    /// <summary>Number of visible CUDA devices. Without a driver: <c>cudaErrorInsufficientDriver</c> or <c>cudaErrorNoDevice</c>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaGetDeviceCount(out int count);

    /// <summary>One integer attribute of <paramref name="device"/>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaDeviceGetAttribute(out int value, cudaDeviceAttr attr, int device);

    /// <summary>Makes <paramref name="device"/> current for this host thread.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaSetDevice(int device);

    /// <summary>The device current for this host thread.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaGetDevice(out int device);

    /// <summary>Waits for all work on the current device.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaDeviceSynchronize();

    /// <summary>Free and total device memory in bytes.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaMemGetInfo(out nuint free, out nuint total);

    /// <summary>The CUDA version the installed driver supports (1000·major + 10·minor), 0 when no driver is installed.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaDriverGetVersion(out int driverVersion);

    /// <summary>The runtime's version (1000·major + 10·minor). CUDA 11.8's runtime fails this with
    /// <c>cudaErrorNoDevice</c> when no device is present; see <c>CudaAvailability</c> for the fallback.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaRuntimeGetVersion(out int runtimeVersion);
}
#pragma warning restore CA1707

using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

// Section: streams and events.
#pragma warning disable CA1707
internal static partial class Cudart
{
    /// <summary>Creates a stream (flags: <see cref="cudaStreamDefault"/> or <see cref="cudaStreamNonBlocking"/>).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaStreamCreateWithFlags(out CudaStream pStream, uint flags);

    /// <summary>Destroys a stream; only <see cref="CudaStream"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudart)] internal static partial cudaError_t cudaStreamDestroy(IntPtr stream);

    /// <summary>Waits for all work on <paramref name="stream"/>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaStreamSynchronize(CudaStream stream);

    /// <summary><c>cudaSuccess</c> if all work is done, <c>cudaErrorNotReady</c> if not (not an error).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaStreamQuery(CudaStream stream);

    /// <summary>Makes future work on <paramref name="stream"/> wait for <paramref name="event"/>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaStreamWaitEvent(CudaStream stream, CudaEvent @event, uint flags);

    /// <summary>Creates an event (flags: <see cref="cudaEventDisableTiming"/>, ...).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaEventCreateWithFlags(out CudaEvent @event, uint flags);

    /// <summary>Destroys an event; only <see cref="CudaEvent"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudart)] internal static partial cudaError_t cudaEventDestroy(IntPtr @event);

    /// <summary>Records <paramref name="event"/> at the current end of <paramref name="stream"/>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaEventRecord(CudaEvent @event, CudaStream stream);

    /// <summary>Waits until <paramref name="event"/> has completed.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaEventSynchronize(CudaEvent @event);

    /// <summary>Milliseconds between two recorded events (both created with timing).</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaEventElapsedTime(out float ms, CudaEvent start, CudaEvent end);
}
#pragma warning restore CA1707

using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

// Section: stream capture and CUDA graphs.
//
// cudaGraphInstantiate is not bound on purpose. Its signature changed: CUDA 11.x has
//   cudaGraphInstantiate(cudaGraphExec_t*, cudaGraph_t, cudaGraphNode_t* pErrorNode, char* pLogBuffer, size_t bufferSize)
// and CUDA 12+ has
//   cudaGraphInstantiate(cudaGraphExec_t*, cudaGraph_t, unsigned long long flags)
// under the same exported name, so one binding would pass garbage to one of them. cudaGraphInstantiateWithFlags
// (added in 11.4) has had the same signature in 11.4 through 13.
#pragma warning disable CA1707
internal static partial class Cudart
{
    /// <summary>Starts capturing the work issued to <paramref name="stream"/> into a graph.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaStreamBeginCapture(CudaStream stream, cudaStreamCaptureMode mode);

    /// <summary>Ends the capture and returns the captured graph.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaStreamEndCapture(CudaStream stream, out CudaGraph pGraph);

    /// <summary>Instantiates <paramref name="graph"/> (flags: <see cref="cudaGraphInstantiateFlags"/>). Stable from CUDA 11.4 to 13.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaGraphInstantiateWithFlags(out CudaGraphExec pGraphExec, CudaGraph graph, ulong flags);

    /// <summary>Launches an instantiated graph on <paramref name="stream"/>.</summary>
    [LibraryImport(Libraries.Cudart)] public static partial cudaError_t cudaGraphLaunch(CudaGraphExec graphExec, CudaStream stream);

    /// <summary>Destroys a graph; only <see cref="CudaGraph"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudart)] internal static partial cudaError_t cudaGraphDestroy(IntPtr graph);

    /// <summary>Destroys an executable graph; only <see cref="CudaGraphExec"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudart)] internal static partial cudaError_t cudaGraphExecDestroy(IntPtr graphExec);
}
#pragma warning restore CA1707

using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>A <c>cudaStream_t</c>. Created by <see cref="Cudart.cudaStreamCreateWithFlags"/>; disposing destroys it
/// (pending work still completes, as <c>cudaStreamDestroy</c> documents).</summary>
public sealed class CudaStream : SafeHandle
{
    /// <summary>Creates an empty handle for the marshaller to fill.</summary>
    public CudaStream() : base(IntPtr.Zero, ownsHandle: true) { }

    private CudaStream(IntPtr value) : base(IntPtr.Zero, ownsHandle: false) => SetHandle(value);

    /// <summary>The legacy default stream (<c>0</c>). Owns nothing; never dispose it.</summary>
    public static CudaStream Null { get; } = new(IntPtr.Zero);

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudart.cudaStreamDestroy(handle) == cudaError_t.cudaSuccess;
}

/// <summary>A <c>cudaEvent_t</c>, created by <see cref="Cudart.cudaEventCreateWithFlags"/>.</summary>
public sealed class CudaEvent() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudart.cudaEventDestroy(handle) == cudaError_t.cudaSuccess;
}

/// <summary>A <c>cudaGraph_t</c>, produced by <see cref="Cudart.cudaStreamEndCapture"/>.</summary>
public sealed class CudaGraph() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudart.cudaGraphDestroy(handle) == cudaError_t.cudaSuccess;
}

/// <summary>A <c>cudaGraphExec_t</c>, produced by <see cref="Cudart.cudaGraphInstantiateWithFlags"/>.</summary>
public sealed class CudaGraphExec() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudart.cudaGraphExecDestroy(handle) == cudaError_t.cudaSuccess;
}

/// <summary>
/// Pinned (page-locked) host memory from <see cref="Cudart.cudaHostAlloc"/> or <see cref="Cudart.cudaMallocHost"/>;
/// disposing frees it with <c>cudaFreeHost</c>. The handle is the memory's host address. The owner disposes it only once no
/// copy queued on a stream still reads or writes it (after that stream is synchronised). Internal: the engine's staging
/// buffers own it.
/// </summary>
internal sealed class CudaHostMemory : SafeHandle
{
    /// <summary>Creates an empty handle for the marshaller to fill.</summary>
    public CudaHostMemory() : base(IntPtr.Zero, ownsHandle: true) { }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudart.cudaFreeHost(handle) == cudaError_t.cudaSuccess;
}

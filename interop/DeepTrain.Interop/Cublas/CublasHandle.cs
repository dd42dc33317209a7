using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>A <c>cublasHandle_t</c>, created by <see cref="Cublas.cublasCreate_v2"/>.</summary>
public sealed class CublasHandle() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cublas.cublasDestroy_v2(handle) == cublasStatus_t.CUBLAS_STATUS_SUCCESS;
}

using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace DeepTrain.Interop;

/// <summary>
/// The one path from a native status to an exception. Use with <c>using static DeepTrain.Interop.Checks;</c>:
/// <code>Check(cudnnSetStream(handle, stream));</code>
/// the call text comes from <see cref="CallerArgumentExpressionAttribute"/>. Success costs one comparison.
/// </summary>
internal static partial class Checks
{
    /// <summary>Throws unless <paramref name="status"/> is <c>cudaSuccess</c>.</summary>
    /// <param name="status">The status of a CUDA runtime call.</param>
    /// <param name="call">Filled in by the compiler.</param>
    /// <exception cref="CudaException">The status is an error.</exception>
    public static void Check(cudaError_t status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != cudaError_t.cudaSuccess) Throw(status, call);
    }

    /// <summary>Throws unless <paramref name="status"/> is <c>CUBLAS_STATUS_SUCCESS</c>.</summary>
    /// <param name="status">The status of a cuBLAS call.</param>
    /// <param name="call">Filled in by the compiler.</param>
    /// <exception cref="CublasException">The status is an error.</exception>
    public static void Check(cublasStatus_t status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != cublasStatus_t.CUBLAS_STATUS_SUCCESS) Throw(status, call);
    }

    /// <summary>Throws unless <paramref name="status"/> is <c>CUDNN_STATUS_SUCCESS</c>.</summary>
    /// <param name="status">The status of a cuDNN call.</param>
    /// <param name="call">Filled in by the compiler.</param>
    /// <exception cref="CudnnException">The status is an error.</exception>
    public static void Check(cudnnStatus_t status, [CallerArgumentExpression(nameof(status))] string call = "")
    {
        if (status != cudnnStatus_t.CUDNN_STATUS_SUCCESS) Throw(status, call);
    }

    // Throwing in separate non-inlined methods keeps Check itself small enough to inline at every call site.
    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(cudaError_t status, string call) =>
        throw new CudaException(status, Cudart.ErrorName(status), Cudart.ErrorString(status), call);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(cublasStatus_t status, string call) =>
        throw new CublasException(status, Cublas.StatusName(status), Cublas.StatusString(status), call);

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private static void Throw(cudnnStatus_t status, string call) =>
        throw new CudnnException(status, Cudnn.StatusName(status), Cudnn.ErrorString(status), call);
}

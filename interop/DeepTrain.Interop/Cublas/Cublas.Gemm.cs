using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

// Section: mixed-precision GEMM. Column-major: C(m×n) = alpha·op(A)(m×k)·op(B)(k×n) + beta·C.
// alpha/beta point to host scalars (default pointer mode) of the compute type's scalar type (float for 32F).
#pragma warning disable CA1707
internal static unsafe partial class Cublas
{
    /// <summary>GEMM with per-matrix element types and an explicit compute type (<c>CUBLAS_COMPUTE_32F</c> = 68).</summary>
    [LibraryImport(Libraries.Cublas)]
    public static partial cublasStatus_t cublasGemmEx(CublasHandle handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, void* alpha, void* A, cudaDataType Atype, int lda, void* B, cudaDataType Btype, int ldb,
        void* beta, void* C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo);

    /// <summary>Batched <see cref="cublasGemmEx"/> with fixed element strides between batch members (signed 64-bit).</summary>
    [LibraryImport(Libraries.Cublas)]
    public static partial cublasStatus_t cublasGemmStridedBatchedEx(CublasHandle handle, cublasOperation_t transa, cublasOperation_t transb,
        int m, int n, int k, void* alpha, void* A, cudaDataType Atype, int lda, long strideA, void* B, cudaDataType Btype, int ldb, long strideB,
        void* beta, void* C, cudaDataType Ctype, int ldc, long strideC, int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo);
}
#pragma warning restore CA1707

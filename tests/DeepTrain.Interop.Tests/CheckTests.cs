using static DeepTrain.Interop.Checks;

namespace DeepTrain.Interop.Tests;

/// <summary>Status → typed exception, with name, number, the library's message and the call text. No GPU needed:
/// the status text functions of libcudart and libcublas work without a driver.</summary>
public sealed class CheckTests
{
    private static cudaError_t Returns(cudaError_t s) => s;
    private static cublasStatus_t Returns(cublasStatus_t s) => s;
    private static cudnnStatus_t Returns(cudnnStatus_t s) => s;

    [Fact]
    public void SuccessDoesNotThrow()
    {
        Check(Returns(cudaError_t.cudaSuccess));
        Check(Returns(cublasStatus_t.CUBLAS_STATUS_SUCCESS));
        Check(Returns(cudnnStatus_t.CUDNN_STATUS_SUCCESS));
    }

    [Fact]
    public void CudaErrorBecomesCudaException()
    {
        var e = Assert.Throws<CudaException>(() => Check(Returns(cudaError_t.cudaErrorMemoryAllocation)));
        Assert.Equal(cudaError_t.cudaErrorMemoryAllocation, e.Status);
        Assert.Equal("cudaErrorMemoryAllocation", e.StatusName);
        Assert.Equal(2, e.StatusNumber);
        Assert.Equal("Returns(cudaError_t.cudaErrorMemoryAllocation)", e.Call);
        if (NativeLibraryResolver.TryLoad(Libraries.Cudart, out _))
            Assert.Equal("out of memory", e.LibraryMessage);   // cudaGetErrorString's own text
        Assert.Equal($"Returns(cudaError_t.cudaErrorMemoryAllocation) failed: cudaErrorMemoryAllocation (2): {e.LibraryMessage}", e.Message);
    }

    [Fact]
    public void AnUnnamedCudaStatusStillReportsItsNumber()
    {
        var e = Assert.Throws<CudaException>(() => Check((cudaError_t)123456));
        Assert.Equal(123456, e.StatusNumber);
        Assert.Contains("(123456)", e.Message);
        Assert.Equal("(cudaError_t)123456", e.Call);
    }

    [Fact]
    public void CublasErrorBecomesCublasException()
    {
        var e = Assert.Throws<CublasException>(() => Check(Returns(cublasStatus_t.CUBLAS_STATUS_INVALID_VALUE)));
        Assert.Equal(cublasStatus_t.CUBLAS_STATUS_INVALID_VALUE, e.Status);
        Assert.Equal("CUBLAS_STATUS_INVALID_VALUE", e.StatusName);
        Assert.Equal(7, e.StatusNumber);
        Assert.Equal("Returns(cublasStatus_t.CUBLAS_STATUS_INVALID_VALUE)", e.Call);
        Assert.False(string.IsNullOrWhiteSpace(e.LibraryMessage));
        if (NativeLibraryResolver.TryLoad(Libraries.Cublas, out _))
            Assert.DoesNotContain("could not be loaded", e.LibraryMessage);
        Assert.StartsWith("Returns(cublasStatus_t.CUBLAS_STATUS_INVALID_VALUE) failed: CUBLAS_STATUS_INVALID_VALUE (7): ", e.Message);
    }

    [Fact]
    public void CudnnErrorBecomesCudnnException()
    {
        var e = Assert.Throws<CudnnException>(() => Check(Returns(cudnnStatus_t.CUDNN_STATUS_BAD_PARAM)));
        Assert.Equal(cudnnStatus_t.CUDNN_STATUS_BAD_PARAM, e.Status);
        Assert.Equal(2000, e.StatusNumber);
        Assert.Equal("Returns(cudnnStatus_t.CUDNN_STATUS_BAD_PARAM)", e.Call);
        Assert.False(string.IsNullOrWhiteSpace(e.LibraryMessage));
        if (!NativeLibraryResolver.TryLoad(Libraries.Cudnn, out _))
        {
            Assert.Equal("CUDNN_STATUS_BAD_PARAM", e.StatusName);
            Assert.Contains("could not be loaded", e.LibraryMessage);
        }
    }

    [Theory]
    [InlineData(3, 8, "CUDNN_STATUS_BAD_PARAM")]        // cuDNN 8 numbering (cudnn_ops_infer.h 8.9.1)
    [InlineData(9, 8, "CUDNN_STATUS_NOT_SUPPORTED")]
    [InlineData(14, 8, "CUDNN_STATUS_VERSION_MISMATCH")]
    [InlineData(2000, 9, "CUDNN_STATUS_BAD_PARAM")]     // cuDNN 9 numbering (cudnn_graph.h 9.6.0)
    [InlineData(3000, 9, "CUDNN_STATUS_NOT_SUPPORTED")]
    [InlineData(1008, 9, "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED")]
    [InlineData(77, 9, "77")]
    public void CudnnStatusNamesFollowTheLoadedMajorVersion(int value, int major, string name) =>
        Assert.Equal(name, Cudnn.StatusName((cudnnStatus_t)value, major));

    [Theory]
    [InlineData(90600u, 9)]
    [InlineData(8901u, 8)]
    [InlineData(100100u, 10)]
    public void CudnnMajorVersionUsesBothEncodings(uint version, int major) => Assert.Equal(major, Cudnn.MajorVersion(version));
}

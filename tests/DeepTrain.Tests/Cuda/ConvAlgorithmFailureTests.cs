using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using Xunit;

namespace DeepTrain.Tests.Cuda;

/// <summary>
/// Which cuDNN statuses make CudaBackend drop a convolution algorithm and run the next candidate (needs no GPU): the
/// NOT_SUPPORTED, BAD_PARAM and EXECUTION_FAILED families, a sub-library that failed to load or is of another release,
/// and a failed run-time compilation, in each major version's numbering, and nothing else.
/// </summary>
public class ConvAlgorithmFailureTests
{
    [Theory]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED_SHAPE)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_BAD_PARAM)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_EXECUTION_FAILED)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED)]
    public void Cudnn9_AlgorithmFailures_AreRetried(cudnnStatus_t status) =>
        Assert.True(CudaBackend.IsAlgorithmFailure(status, 9), $"{status} ({(int)status})");

    [Theory]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_SUCCESS)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_NOT_INITIALIZED)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_LICENSE_ERROR)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR)]
    [InlineData(cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)]
    public void Cudnn9_OtherStatuses_AreNot(cudnnStatus_t status) =>
        Assert.False(CudaBackend.IsAlgorithmFailure(status, 9), $"{status} ({(int)status})");

    [Fact]
    public void Cudnn8_BadParamExecutionFailedNotSupportedPrerequisiteAndVersionMismatch_AreRetried()
    {
        // cudnn_ops_infer.h 8.9.1: BAD_PARAM 3, EXECUTION_FAILED 8, NOT_SUPPORTED 9, RUNTIME_PREREQUISITE_MISSING 11 (a
        // missing NVRTC), VERSION_MISMATCH 14 (a sub-library of another release); 0–14 are the whole enum.
        var retried = Enumerable.Range(0, 15).Where(v => CudaBackend.IsAlgorithmFailure((cudnnStatus_t)v, 8)).ToArray();
        Assert.Equal([3, 8, 9, 11, 14], retried);
        Assert.Equal(["CUDNN_STATUS_BAD_PARAM", "CUDNN_STATUS_EXECUTION_FAILED", "CUDNN_STATUS_NOT_SUPPORTED",
            "CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING", "CUDNN_STATUS_VERSION_MISMATCH"],
            retried.Select(v => Cudnn.StatusName((cudnnStatus_t)v, 8)).ToArray());
    }
}

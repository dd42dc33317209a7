namespace DeepTrain.Interop.Tests;

/// <summary>
/// Which cuDNN statuses the convolution choice treats as "try the next candidate" (<see cref="CudnnFailures.Classify"/>),
/// with the numbers of cudnn_graph.h 9.6.0 and cudnn_ops_infer.h 8.9.1, and the message for a sub-library or compilation
/// failure. No GPU needed.
/// </summary>
public sealed class CudnnFailureTests
{
    [Theory]
    [InlineData(1002, nameof(CudnnFailures.FailureKind.SubLibrary))]     // CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH
    [InlineData(1008, nameof(CudnnFailures.FailureKind.SubLibrary))]     // CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED
    [InlineData(3009, nameof(CudnnFailures.FailureKind.SubLibrary))]     // CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE
    [InlineData(4001, nameof(CudnnFailures.FailureKind.Compilation))]    // CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED
    [InlineData(3008, nameof(CudnnFailures.FailureKind.Compilation))]    // CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING
    [InlineData(2000, nameof(CudnnFailures.FailureKind.AlgorithmRefused))]
    [InlineData(2012, nameof(CudnnFailures.FailureKind.AlgorithmRefused))]
    [InlineData(3000, nameof(CudnnFailures.FailureKind.AlgorithmRefused))]
    [InlineData(3013, nameof(CudnnFailures.FailureKind.AlgorithmRefused))]
    [InlineData(5000, nameof(CudnnFailures.FailureKind.AlgorithmRefused))]
    [InlineData(5004, nameof(CudnnFailures.FailureKind.AlgorithmRefused))]
    [InlineData(0, nameof(CudnnFailures.FailureKind.None))]
    [InlineData(1001, nameof(CudnnFailures.FailureKind.Fatal))]          // NOT_INITIALIZED
    [InlineData(1005, nameof(CudnnFailures.FailureKind.Fatal))]          // LICENSE_ERROR
    [InlineData(4000, nameof(CudnnFailures.FailureKind.Fatal))]          // INTERNAL_ERROR: generic, another algorithm does not cure it
    [InlineData(4003, nameof(CudnnFailures.FailureKind.Fatal))]          // INTERNAL_ERROR_HOST_ALLOCATION_FAILED
    [InlineData(4004, nameof(CudnnFailures.FailureKind.Fatal))]          // INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED
    public void Cudnn9_Classification(int status, string kind) =>
        Assert.Equal(Enum.Parse<CudnnFailures.FailureKind>(kind), CudnnFailures.Classify((cudnnStatus_t)status, 9));

    [Fact]
    public void Cudnn9_TheNamedStatusesHaveTheHeadersNumbers()
    {
        // cudnn_graph.h 9.6.0, read from zspace/system.cuda-12.6 at b3d92c8.
        Assert.Equal(1002, (int)cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH);
        Assert.Equal(1008, (int)cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED);
        Assert.Equal(3008, (int)cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING);
        Assert.Equal(3009, (int)cudnnStatus_t.CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE);
        Assert.Equal(4001, (int)cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED);
    }

    [Fact]
    public void Cudnn8_Classification_ByItsOwnNumbers()
    {
        // cudnn_ops_infer.h 8.9.1: 0–14 are the whole enum.
        var kinds = Enumerable.Range(0, 15).ToDictionary(v => v, v => CudnnFailures.Classify((cudnnStatus_t)v, 8));
        Assert.Equal([3, 8, 9], kinds.Where(k => k.Value == CudnnFailures.FailureKind.AlgorithmRefused).Select(k => k.Key));
        Assert.Equal([14], kinds.Where(k => k.Value == CudnnFailures.FailureKind.SubLibrary).Select(k => k.Key));
        Assert.Equal([11], kinds.Where(k => k.Value == CudnnFailures.FailureKind.Compilation).Select(k => k.Key));
        Assert.Equal("CUDNN_STATUS_VERSION_MISMATCH", Cudnn.StatusName((cudnnStatus_t)14, 8));
        Assert.Equal("CUDNN_STATUS_RUNTIME_PREREQUISITE_MISSING", Cudnn.StatusName((cudnnStatus_t)11, 8));
        Assert.Equal(CudnnFailures.FailureKind.Fatal, kinds[4]);   // INTERNAL_ERROR
        // 9's numbers mean nothing to 8 and the reverse.
        Assert.Equal(CudnnFailures.FailureKind.Fatal, CudnnFailures.Classify(cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED, 8));
        Assert.Equal(CudnnFailures.FailureKind.Fatal, CudnnFailures.Classify((cudnnStatus_t)14, 9));
    }

    private static LoadAttempt Sub(string path, bool loaded, string detail) => new(Libraries.Cudnn, path, loaded, detail);

    [Fact]
    public void Explain_NamesTheSubLibraryThatDidNotLoad_AndNvrtc()
    {
        var state = new CudnnFailures.LoadState("/site/nvidia/cudnn/lib/libcudnn.so.9",
            [Sub("/site/nvidia/cudnn/lib/libcudnn_graph.so.9", true, "pre-loaded sub-library"),
             Sub("/site/nvidia/cudnn/lib/libcudnn_engines_runtime_compiled.so.9", false, "sub-library not pre-loaded: libnvrtc.so.12: cannot open shared object file")],
            ["/site/nvidia/cudnn/lib/libcudnn.so.9", "/site/nvidia/cudnn/lib/libcudnn_graph.so.9"],
            "not found (cuDNN's run-time compiled engines will fail): libnvrtc.so.12: not present");
        string? why = CudnnFailures.Explain(cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED, 9, state);
        Assert.NotNull(why);
        Assert.Contains("/site/nvidia/cudnn/lib/libcudnn_engines_runtime_compiled.so.9 (sub-library not pre-loaded: libnvrtc.so.12", why);
        Assert.Contains("NVRTC: not found", why);
        Assert.DoesNotContain("another folder", why);
    }

    [Fact]
    public void Explain_NamesASubLibraryMappedFromAnotherFolder_ForAVersionMismatch()
    {
        var state = new CudnnFailures.LoadState("/site/nvidia/cudnn/lib/libcudnn.so.9",
            [Sub("/site/nvidia/cudnn/lib/libcudnn_graph.so.9", true, "pre-loaded sub-library")],
            ["/site/nvidia/cudnn/lib/libcudnn.so.9", "/usr/lib/x86_64-linux-gnu/libcudnn_ops.so.9.1.0"],
            "/site/nvidia/cuda_nvrtc/lib/libnvrtc.so.12 (CUDA 12, from file name); builtins libnvrtc-builtins.so.12.6");
        string? why = CudnnFailures.Explain(cudnnStatus_t.CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH, 9, state);
        Assert.NotNull(why);
        Assert.Contains("/usr/lib/x86_64-linux-gnu/libcudnn_ops.so.9.1.0", why);
        Assert.Contains("NVRTC: /site/nvidia/cuda_nvrtc/lib/libnvrtc.so.12", why);
    }

    [Fact]
    public void Explain_ACompilationFailure_GivesNvrtcsState()
    {
        var state = new CudnnFailures.LoadState("/x/libcudnn.so.9", [], [], "not found (cuDNN's run-time compiled engines will fail): libnvrtc.so.13: not present");
        string? why = CudnnFailures.Explain(cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED, 9, state);
        Assert.NotNull(why);
        Assert.Contains("compile", why);
        Assert.Contains("NVRTC: not found", why);
    }

    [Fact]
    public void Explain_SaysNothingForOtherStatuses()
    {
        var state = new CudnnFailures.LoadState(null, [], [], "not loaded yet");
        Assert.Null(CudnnFailures.Explain(cudnnStatus_t.CUDNN_STATUS_BAD_PARAM, 9, state));
        Assert.Null(CudnnFailures.Explain(cudnnStatus_t.CUDNN_STATUS_INTERNAL_ERROR, 9, state));
    }
}

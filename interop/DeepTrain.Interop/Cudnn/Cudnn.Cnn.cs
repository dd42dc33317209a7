using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

// cudnn_cnn.h (cuDNN 9.6.0; same signatures in 8.9's cudnn_cnn_infer.h / cudnn_cnn_train.h): convolution
// descriptors, algorithm search, workspace queries, forward / backward-data / backward-filter / backward-bias.
// The three algorithm enums are declared in cudnn_ops.h in 9 ("TODO: move these enums out") but belong here.
#pragma warning disable CA1707

/// <summary>Forward convolution algorithm (<c>cudnnConvolutionFwdAlgo_t</c>).</summary>
internal enum cudnnConvolutionFwdAlgo_t
{
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM = 0,
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM = 1,
    CUDNN_CONVOLUTION_FWD_ALGO_GEMM = 2,
    CUDNN_CONVOLUTION_FWD_ALGO_DIRECT = 3,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT = 4,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING = 5,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD = 6,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED = 7,
    CUDNN_CONVOLUTION_FWD_ALGO_COUNT = 8,
}

/// <summary>Backward-filter algorithm (<c>cudnnConvolutionBwdFilterAlgo_t</c>); 0 and 3 are non-deterministic.</summary>
internal enum cudnnConvolutionBwdFilterAlgo_t
{
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0 = 0,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1 = 1,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT = 2,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3 = 3,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD = 4,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED = 5,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING = 6,
    CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT = 7,
}

/// <summary>Backward-data algorithm (<c>cudnnConvolutionBwdDataAlgo_t</c>); 0 is non-deterministic.</summary>
internal enum cudnnConvolutionBwdDataAlgo_t
{
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 = 0,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_1 = 1,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT = 2,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING = 3,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD = 4,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED = 5,
    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT = 6,
}

/// <summary>One result of a forward algorithm search (<c>cudnnConvolutionFwdAlgoPerf_t</c>, 48 bytes: algo 0, status 4,
/// time 8, memory 16, determinism 24, mathType 28, reserved 32).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct cudnnConvolutionFwdAlgoPerf_t
{
    /// <summary>The algorithm.</summary>
    public cudnnConvolutionFwdAlgo_t algo;
    /// <summary>Whether it ran; entries that failed carry their status.</summary>
    public cudnnStatus_t status;
    /// <summary>Milliseconds (Find) or -1 (Get).</summary>
    public float time;
    /// <summary>Workspace bytes it needs.</summary>
    public nuint memory;
    /// <summary>Whether it is deterministic.</summary>
    public cudnnDeterminism_t determinism;
    /// <summary>The math type it was measured with; set it on the descriptor before running.</summary>
    public cudnnMathType_t mathType;
    /// <summary>Reserved.</summary>
    public fixed int reserved[3];
}

/// <summary>One result of a backward-data algorithm search (<c>cudnnConvolutionBwdDataAlgoPerf_t</c>, same layout).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct cudnnConvolutionBwdDataAlgoPerf_t
{
    /// <summary>The algorithm.</summary>
    public cudnnConvolutionBwdDataAlgo_t algo;
    /// <summary>Whether it ran.</summary>
    public cudnnStatus_t status;
    /// <summary>Milliseconds (Find) or -1 (Get).</summary>
    public float time;
    /// <summary>Workspace bytes it needs.</summary>
    public nuint memory;
    /// <summary>Whether it is deterministic.</summary>
    public cudnnDeterminism_t determinism;
    /// <summary>The math type it was measured with.</summary>
    public cudnnMathType_t mathType;
    /// <summary>Reserved.</summary>
    public fixed int reserved[3];
}

/// <summary>One result of a backward-filter algorithm search (<c>cudnnConvolutionBwdFilterAlgoPerf_t</c>, same layout).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct cudnnConvolutionBwdFilterAlgoPerf_t
{
    /// <summary>The algorithm.</summary>
    public cudnnConvolutionBwdFilterAlgo_t algo;
    /// <summary>Whether it ran.</summary>
    public cudnnStatus_t status;
    /// <summary>Milliseconds (Find) or -1 (Get).</summary>
    public float time;
    /// <summary>Workspace bytes it needs.</summary>
    public nuint memory;
    /// <summary>Whether it is deterministic.</summary>
    public cudnnDeterminism_t determinism;
    /// <summary>The math type it was measured with.</summary>
    public cudnnMathType_t mathType;
    /// <summary>Reserved.</summary>
    public fixed int reserved[3];
}

internal static unsafe partial class Cudnn
{
    // ---- convolution descriptor ----

    /// <summary>Creates a convolution descriptor.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnCreateConvolutionDescriptor(out CudnnConvolutionDescriptor convDesc);

    /// <summary>Destroys a convolution descriptor; only <see cref="CudnnConvolutionDescriptor"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudnn)] internal static partial cudnnStatus_t cudnnDestroyConvolutionDescriptor(IntPtr convDesc);

    /// <summary>Padding, stride (u vertical, v horizontal), dilation, mode and the accumulation type
    /// (<c>CUDNN_DATA_FLOAT</c> for fp16 data with fp32 accumulation).</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSetConvolution2dDescriptor(CudnnConvolutionDescriptor convDesc, int pad_h, int pad_w, int u, int v,
        int dilation_h, int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType);

    /// <summary>Allows or forbids tensor cores for this convolution.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnSetConvolutionMathType(CudnnConvolutionDescriptor convDesc, cudnnMathType_t mathType);

    /// <summary>Grouped convolution (groupCount = C for depthwise).</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnSetConvolutionGroupCount(CudnnConvolutionDescriptor convDesc, int groupCount);

    /// <summary>The output shape a forward convolution produces.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(CudnnConvolutionDescriptor convDesc, CudnnTensorDescriptor inputTensorDesc,
        CudnnFilterDescriptor filterDesc, out int n, out int c, out int h, out int w);

    // ---- algorithm search: Get (heuristics, no GPU work) and FindEx (runs every algorithm on the given buffers) ----

    /// <summary>How many forward algorithms a search can return.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(CudnnHandle handle, out int count);

    /// <summary>How many backward-data algorithms a search can return.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithmMaxCount(CudnnHandle handle, out int count);

    /// <summary>How many backward-filter algorithms a search can return.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(CudnnHandle handle, out int count);

    /// <summary>Heuristic ranking of forward algorithms.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(CudnnHandle handle, CudnnTensorDescriptor srcDesc, CudnnFilterDescriptor filterDesc,
        CudnnConvolutionDescriptor convDesc, CudnnTensorDescriptor destDesc, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t* perfResults);

    /// <summary>Heuristic ranking of backward-data algorithms.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(CudnnHandle handle, CudnnFilterDescriptor filterDesc, CudnnTensorDescriptor diffDesc,
        CudnnConvolutionDescriptor convDesc, CudnnTensorDescriptor gradDesc, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t* perfResults);

    /// <summary>Heuristic ranking of backward-filter algorithms.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(CudnnHandle handle, CudnnTensorDescriptor srcDesc, CudnnTensorDescriptor diffDesc,
        CudnnConvolutionDescriptor convDesc, CudnnFilterDescriptor gradDesc, int requestedAlgoCount, out int returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t* perfResults);

    /// <summary>Times every forward algorithm on the given buffers (y is overwritten), fastest first.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(CudnnHandle handle, CudnnTensorDescriptor xDesc, void* x, CudnnFilterDescriptor wDesc, void* w,
        CudnnConvolutionDescriptor convDesc, CudnnTensorDescriptor yDesc, void* y, int requestedAlgoCount, out int returnedAlgoCount,
        cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace, nuint workSpaceSizeInBytes);

    /// <summary>Times every backward-data algorithm (dx is overwritten), fastest first.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(CudnnHandle handle, CudnnFilterDescriptor wDesc, void* w, CudnnTensorDescriptor dyDesc, void* dy,
        CudnnConvolutionDescriptor convDesc, CudnnTensorDescriptor dxDesc, void* dx, int requestedAlgoCount, out int returnedAlgoCount,
        cudnnConvolutionBwdDataAlgoPerf_t* perfResults, void* workSpace, nuint workSpaceSizeInBytes);

    /// <summary>Times every backward-filter algorithm (dw is overwritten), fastest first. The header names the dy buffer <c>y</c>.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(CudnnHandle handle, CudnnTensorDescriptor xDesc, void* x, CudnnTensorDescriptor dyDesc, void* y,
        CudnnConvolutionDescriptor convDesc, CudnnFilterDescriptor dwDesc, void* dw, int requestedAlgoCount, out int returnedAlgoCount,
        cudnnConvolutionBwdFilterAlgoPerf_t* perfResults, void* workSpace, nuint workSpaceSizeInBytes);

    // ---- workspace sizes ----

    /// <summary>Workspace bytes of a forward convolution with <paramref name="algo"/>.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(CudnnHandle handle, CudnnTensorDescriptor xDesc, CudnnFilterDescriptor wDesc,
        CudnnConvolutionDescriptor convDesc, CudnnTensorDescriptor yDesc, cudnnConvolutionFwdAlgo_t algo, out nuint sizeInBytes);

    /// <summary>Workspace bytes of a backward-data convolution with <paramref name="algo"/>.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(CudnnHandle handle, CudnnFilterDescriptor wDesc, CudnnTensorDescriptor dyDesc,
        CudnnConvolutionDescriptor convDesc, CudnnTensorDescriptor dxDesc, cudnnConvolutionBwdDataAlgo_t algo, out nuint sizeInBytes);

    /// <summary>Workspace bytes of a backward-filter convolution with <paramref name="algo"/>.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(CudnnHandle handle, CudnnTensorDescriptor xDesc, CudnnTensorDescriptor dyDesc,
        CudnnConvolutionDescriptor convDesc, CudnnFilterDescriptor gradDesc, cudnnConvolutionBwdFilterAlgo_t algo, out nuint sizeInBytes);

    // ---- convolution ----

    /// <summary>y = alpha·conv(x, w) + beta·y.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnConvolutionForward(CudnnHandle handle, void* alpha, CudnnTensorDescriptor xDesc, void* x, CudnnFilterDescriptor wDesc, void* w,
        CudnnConvolutionDescriptor convDesc, cudnnConvolutionFwdAlgo_t algo, void* workSpace, nuint workSpaceSizeInBytes, void* beta, CudnnTensorDescriptor yDesc, void* y);

    /// <summary>dx = alpha·conv_transpose(dy, w) + beta·dx.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnConvolutionBackwardData(CudnnHandle handle, void* alpha, CudnnFilterDescriptor wDesc, void* w, CudnnTensorDescriptor dyDesc, void* dy,
        CudnnConvolutionDescriptor convDesc, cudnnConvolutionBwdDataAlgo_t algo, void* workSpace, nuint workSpaceSizeInBytes, void* beta, CudnnTensorDescriptor dxDesc, void* dx);

    /// <summary>dw = alpha·corr(x, dy) + beta·dw (beta = 1 accumulates).</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnConvolutionBackwardFilter(CudnnHandle handle, void* alpha, CudnnTensorDescriptor xDesc, void* x, CudnnTensorDescriptor dyDesc, void* dy,
        CudnnConvolutionDescriptor convDesc, cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace, nuint workSpaceSizeInBytes, void* beta, CudnnFilterDescriptor dwDesc, void* dw);

    /// <summary>db = alpha·Σ_{n,h,w} dy + beta·db.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnConvolutionBackwardBias(CudnnHandle handle, void* alpha, CudnnTensorDescriptor dyDesc, void* dy, void* beta, CudnnTensorDescriptor dbDesc, void* db);
}
#pragma warning restore CA1707

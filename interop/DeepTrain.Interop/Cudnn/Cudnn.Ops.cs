using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

// cudnn_ops.h (cuDNN 9.6.0; same signatures in 8.9's cudnn_ops_infer.h / cudnn_ops_train.h): tensor, filter,
// pooling and activation descriptors, add tensor, softmax, batch normalization. Most are marked deprecated in 9
// (still exported; the graph API replaces them). alpha/beta point to host scalars: float for half/float tensors,
// double for double tensors. Results are alpha·op(inputs) + beta·output.
#pragma warning disable CA1707

/// <summary>Whether an algorithm is deterministic (<c>cudnnDeterminism_t</c>).</summary>
internal enum cudnnDeterminism_t
{
    CUDNN_NON_DETERMINISTIC = 0,
    CUDNN_DETERMINISTIC = 1,
}

/// <summary>Softmax variant (<c>cudnnSoftmaxAlgorithm_t</c>); ACCURATE subtracts the max first, LOG gives log-softmax.</summary>
internal enum cudnnSoftmaxAlgorithm_t
{
    CUDNN_SOFTMAX_FAST = 0,
    CUDNN_SOFTMAX_ACCURATE = 1,
    CUDNN_SOFTMAX_LOG = 2,
}

/// <summary>Softmax extent (<c>cudnnSoftmaxMode_t</c>): over C·H·W per sample, or over C per (N, H, W).</summary>
internal enum cudnnSoftmaxMode_t
{
    CUDNN_SOFTMAX_MODE_INSTANCE = 0,
    CUDNN_SOFTMAX_MODE_CHANNEL = 1,
}

/// <summary>Pooling kind (<c>cudnnPoolingMode_t</c>).</summary>
internal enum cudnnPoolingMode_t
{
    CUDNN_POOLING_MAX = 0,
    CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING = 1,
    CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING = 2,
    CUDNN_POOLING_MAX_DETERMINISTIC = 3,
}

/// <summary>Batch-norm statistics extent (<c>cudnnBatchNormMode_t</c>); SPATIAL is BatchNorm2d (one value per channel).</summary>
internal enum cudnnBatchNormMode_t
{
    CUDNN_BATCHNORM_PER_ACTIVATION = 0,
    CUDNN_BATCHNORM_SPATIAL = 1,
    CUDNN_BATCHNORM_SPATIAL_PERSISTENT = 2,
}

/// <summary>What the batch-norm Ex calls fuse (<c>cudnnBatchNormOps_t</c>).</summary>
internal enum cudnnBatchNormOps_t
{
    CUDNN_BATCHNORM_OPS_BN = 0,
    CUDNN_BATCHNORM_OPS_BN_ACTIVATION = 1,
    CUDNN_BATCHNORM_OPS_BN_ADD_ACTIVATION = 2,
}

internal static unsafe partial class Cudnn
{
    // ---- tensor descriptors ----

    /// <summary>Creates a tensor descriptor.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnCreateTensorDescriptor(out CudnnTensorDescriptor tensorDesc);

    /// <summary>Destroys a tensor descriptor; only <see cref="CudnnTensorDescriptor"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudnn)] internal static partial cudnnStatus_t cudnnDestroyTensorDescriptor(IntPtr tensorDesc);

    /// <summary>A packed 4-d tensor. Note the order: format, then data type (the filter call has them the other way round).</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSetTensor4dDescriptor(CudnnTensorDescriptor tensorDesc, cudnnTensorFormat_t format, cudnnDataType_t dataType, int n, int c, int h, int w);

    /// <summary>A 4-d tensor with explicit strides, in elements.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSetTensor4dDescriptorEx(CudnnTensorDescriptor tensorDesc, cudnnDataType_t dataType,
        int n, int c, int h, int w, int nStride, int cStride, int hStride, int wStride);

    /// <summary>An n-d tensor (3 ≤ nbDims ≤ 8) with explicit strides.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSetTensorNdDescriptor(CudnnTensorDescriptor tensorDesc, cudnnDataType_t dataType, int nbDims, int* dimA, int* strideA);

    // ---- filter descriptors ----

    /// <summary>Creates a filter descriptor.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnCreateFilterDescriptor(out CudnnFilterDescriptor filterDesc);

    /// <summary>Destroys a filter descriptor; only <see cref="CudnnFilterDescriptor"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudnn)] internal static partial cudnnStatus_t cudnnDestroyFilterDescriptor(IntPtr filterDesc);

    /// <summary>A (K, C, H, W) filter. Note the order: data type, then format.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSetFilter4dDescriptor(CudnnFilterDescriptor filterDesc, cudnnDataType_t dataType, cudnnTensorFormat_t format, int k, int c, int h, int w);

    // ---- add tensor ----

    /// <summary>C = alpha·A + beta·C, broadcasting A (e.g. a (1, C, 1, 1) bias) over C.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnAddTensor(CudnnHandle handle, void* alpha, CudnnTensorDescriptor aDesc, void* A, void* beta, CudnnTensorDescriptor cDesc, void* C);

    // ---- softmax ----

    /// <summary>y = alpha·softmax(x) + beta·y.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSoftmaxForward(CudnnHandle handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode,
        void* alpha, CudnnTensorDescriptor xDesc, void* x, void* beta, CudnnTensorDescriptor yDesc, void* y);

    /// <summary>dx = alpha·softmax'(y)·dy + beta·dx.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSoftmaxBackward(CudnnHandle handle, cudnnSoftmaxAlgorithm_t algo, cudnnSoftmaxMode_t mode,
        void* alpha, CudnnTensorDescriptor yDesc, void* y, CudnnTensorDescriptor dyDesc, void* dy, void* beta, CudnnTensorDescriptor dxDesc, void* dx);

    // ---- pooling ----

    /// <summary>Creates a pooling descriptor.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnCreatePoolingDescriptor(out CudnnPoolingDescriptor poolingDesc);

    /// <summary>Destroys a pooling descriptor; only <see cref="CudnnPoolingDescriptor"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudnn)] internal static partial cudnnStatus_t cudnnDestroyPoolingDescriptor(IntPtr poolingDesc);

    /// <summary>A 2-d pooling window: size, padding, stride.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSetPooling2dDescriptor(CudnnPoolingDescriptor poolingDesc, cudnnPoolingMode_t mode, cudnnNanPropagation_t maxpoolingNanOpt,
        int windowHeight, int windowWidth, int verticalPadding, int horizontalPadding, int verticalStride, int horizontalStride);

    /// <summary>y = alpha·pool(x) + beta·y.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnPoolingForward(CudnnHandle handle, CudnnPoolingDescriptor poolingDesc,
        void* alpha, CudnnTensorDescriptor xDesc, void* x, void* beta, CudnnTensorDescriptor yDesc, void* y);

    /// <summary>dx = alpha·pool'(x, y)·dy + beta·dx.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnPoolingBackward(CudnnHandle handle, CudnnPoolingDescriptor poolingDesc, void* alpha,
        CudnnTensorDescriptor yDesc, void* y, CudnnTensorDescriptor dyDesc, void* dy, CudnnTensorDescriptor xDesc, void* x,
        void* beta, CudnnTensorDescriptor dxDesc, void* dx);

    // ---- activation ----

    /// <summary>Creates an activation descriptor.</summary>
    [LibraryImport(Libraries.Cudnn)] public static partial cudnnStatus_t cudnnCreateActivationDescriptor(out CudnnActivationDescriptor activationDesc);

    /// <summary>Destroys an activation descriptor; only <see cref="CudnnActivationDescriptor"/>'s ReleaseHandle calls it.</summary>
    [LibraryImport(Libraries.Cudnn)] internal static partial cudnnStatus_t cudnnDestroyActivationDescriptor(IntPtr activationDesc);

    /// <summary>Sets the function; <paramref name="coef"/> is the ceiling of clipped ReLU or the alpha of ELU.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnSetActivationDescriptor(CudnnActivationDescriptor activationDesc, cudnnActivationMode_t mode, cudnnNanPropagation_t reluNanOpt, double coef);

    /// <summary>y = alpha·f(x) + beta·y.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnActivationForward(CudnnHandle handle, CudnnActivationDescriptor activationDesc,
        void* alpha, CudnnTensorDescriptor xDesc, void* x, void* beta, CudnnTensorDescriptor yDesc, void* y);

    /// <summary>dx = alpha·f'(x, y)·dy + beta·dx.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnActivationBackward(CudnnHandle handle, CudnnActivationDescriptor activationDesc, void* alpha,
        CudnnTensorDescriptor yDesc, void* y, CudnnTensorDescriptor dyDesc, void* dy, CudnnTensorDescriptor xDesc, void* x,
        void* beta, CudnnTensorDescriptor dxDesc, void* dx);

    // ---- batch normalization ----
    // cuDNN's running statistics: running = factor·batch + (1 − factor)·running, the variance unbiased; PyTorch's
    // momentum 0.1 is factor = 0.1. Saved mean / inverse std (1/sqrt(var + eps)) feed the backward.

    /// <summary>Derives the (1, C, 1, 1) descriptor of scale, bias, mean and variance from x's.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnDeriveBNTensorDescriptor(CudnnTensorDescriptor derivedBnDesc, CudnnTensorDescriptor xDesc, cudnnBatchNormMode_t mode);

    /// <summary>Workspace bytes of <see cref="cudnnBatchNormalizationForwardTrainingEx"/>.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(CudnnHandle handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
        CudnnTensorDescriptor xDesc, CudnnTensorDescriptor zDesc, CudnnTensorDescriptor yDesc, CudnnTensorDescriptor bnScaleBiasMeanVarDesc,
        CudnnActivationDescriptor activationDesc, out nuint sizeInBytes);

    /// <summary>Workspace bytes of <see cref="cudnnBatchNormalizationBackwardEx"/>.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetBatchNormalizationBackwardExWorkspaceSize(CudnnHandle handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
        CudnnTensorDescriptor xDesc, CudnnTensorDescriptor yDesc, CudnnTensorDescriptor dyDesc, CudnnTensorDescriptor dzDesc, CudnnTensorDescriptor dxDesc,
        CudnnTensorDescriptor dBnScaleBiasDesc, CudnnActivationDescriptor activationDesc, out nuint sizeInBytes);

    /// <summary>Reserve-space bytes the training forward hands to the backward.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnGetBatchNormalizationTrainingExReserveSpaceSize(CudnnHandle handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
        CudnnActivationDescriptor activationDesc, CudnnTensorDescriptor xDesc, out nuint sizeInBytes);

    /// <summary>y = act(BN(x) + z) with batch statistics; updates the running statistics and saves mean and inverse std.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnBatchNormalizationForwardTrainingEx(CudnnHandle handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
        void* alpha, void* beta, CudnnTensorDescriptor xDesc, void* xData, CudnnTensorDescriptor zDesc, void* zData, CudnnTensorDescriptor yDesc, void* yData,
        CudnnTensorDescriptor bnScaleBiasMeanVarDesc, void* bnScale, void* bnBias, double exponentialAverageFactor,
        void* resultRunningMean, void* resultRunningVariance, double epsilon, void* resultSaveMean, void* resultSaveInvVariance,
        CudnnActivationDescriptor activationDesc, void* workspace, nuint workSpaceSizeInBytes, void* reserveSpace, nuint reserveSpaceSizeInBytes);

    /// <summary>y = BN(x) with batch statistics (the plain form: no workspace, no reserve space, so forward and backward
    /// share nothing but the saved mean and inverse std). Updates runningMean = newMean·factor + runningMean·(1 − factor)
    /// and the running variance likewise; epsilon ≥ CUDNN_BN_MIN_EPSILON (0.0 in 9.6) and equal in forward and backward.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnBatchNormalizationForwardTraining(CudnnHandle handle, cudnnBatchNormMode_t mode, void* alpha, void* beta,
        CudnnTensorDescriptor xDesc, void* x, CudnnTensorDescriptor yDesc, void* y, CudnnTensorDescriptor bnScaleBiasMeanVarDesc,
        void* bnScale, void* bnBias, double exponentialAverageFactor, void* resultRunningMean, void* resultRunningVariance,
        double epsilon, void* resultSaveMean, void* resultSaveInvVariance);

    /// <summary>dx = alphaDataDiff·∂x + betaDataDiff·dx; dscale, dbias = alphaParamDiff·∂ + betaParamDiff·(previous) (the plain form).
    /// xDesc describes x, dy and dx alike in the header's words; savedMean / savedInvVariance come from the training forward.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnBatchNormalizationBackward(CudnnHandle handle, cudnnBatchNormMode_t mode,
        void* alphaDataDiff, void* betaDataDiff, void* alphaParamDiff, void* betaParamDiff,
        CudnnTensorDescriptor xDesc, void* x, CudnnTensorDescriptor dyDesc, void* dy, CudnnTensorDescriptor dxDesc, void* dx,
        CudnnTensorDescriptor dBnScaleBiasDesc, void* bnScale, void* dBnScaleResult, void* dBnBiasResult, double epsilon,
        void* savedMean, void* savedInvVariance);

    /// <summary>y = scale·(x − mean)/sqrt(var + eps) + bias with the running (estimated) statistics.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnBatchNormalizationForwardInference(CudnnHandle handle, cudnnBatchNormMode_t mode, void* alpha, void* beta,
        CudnnTensorDescriptor xDesc, void* x, CudnnTensorDescriptor yDesc, void* y, CudnnTensorDescriptor bnScaleBiasMeanVarDesc,
        void* bnScale, void* bnBias, void* estimatedMean, void* estimatedVariance, double epsilon);

    /// <summary>dx, dscale, dbias (and dz for the fused add) from dy and the saved statistics.</summary>
    [LibraryImport(Libraries.Cudnn)]
    public static partial cudnnStatus_t cudnnBatchNormalizationBackwardEx(CudnnHandle handle, cudnnBatchNormMode_t mode, cudnnBatchNormOps_t bnOps,
        void* alphaDataDiff, void* betaDataDiff, void* alphaParamDiff, void* betaParamDiff,
        CudnnTensorDescriptor xDesc, void* xData, CudnnTensorDescriptor yDesc, void* yData, CudnnTensorDescriptor dyDesc, void* dyData,
        CudnnTensorDescriptor dzDesc, void* dzData, CudnnTensorDescriptor dxDesc, void* dxData,
        CudnnTensorDescriptor dBnScaleBiasDesc, void* bnScaleData, void* bnBiasData, void* dBnScaleData, void* dBnBiasData, double epsilon,
        void* savedMean, void* savedInvVariance, CudnnActivationDescriptor activationDesc,
        void* workSpace, nuint workSpaceSizeInBytes, void* reserveSpace, nuint reserveSpaceSizeInBytes);
}
#pragma warning restore CA1707

using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>A <c>cudnnHandle_t</c>, created by <see cref="Cudnn.cudnnCreate"/>.</summary>
public sealed class CudnnHandle() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroy(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

/// <summary>A <c>cudnnTensorDescriptor_t</c>, created by <see cref="Cudnn.cudnnCreateTensorDescriptor"/>.</summary>
public sealed class CudnnTensorDescriptor : SafeHandle
{
    /// <summary>Creates an empty handle for the marshaller to fill.</summary>
    public CudnnTensorDescriptor() : base(IntPtr.Zero, ownsHandle: true) { }

    private CudnnTensorDescriptor(bool owns) : base(IntPtr.Zero, owns) { }

    /// <summary>A NULL descriptor, for optional arguments (the <c>z</c> of the batch-norm Ex calls). Never dispose it.</summary>
    public static CudnnTensorDescriptor Null { get; } = new(owns: false);

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyTensorDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

/// <summary>A <c>cudnnFilterDescriptor_t</c>, created by <see cref="Cudnn.cudnnCreateFilterDescriptor"/>.</summary>
public sealed class CudnnFilterDescriptor() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyFilterDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

/// <summary>A <c>cudnnConvolutionDescriptor_t</c>, created by <see cref="Cudnn.cudnnCreateConvolutionDescriptor"/>.</summary>
public sealed class CudnnConvolutionDescriptor() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyConvolutionDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

/// <summary>A <c>cudnnPoolingDescriptor_t</c>, created by <see cref="Cudnn.cudnnCreatePoolingDescriptor"/>.</summary>
public sealed class CudnnPoolingDescriptor() : SafeHandle(IntPtr.Zero, ownsHandle: true)
{
    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyPoolingDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

/// <summary>A <c>cudnnActivationDescriptor_t</c>, created by <see cref="Cudnn.cudnnCreateActivationDescriptor"/>.</summary>
public sealed class CudnnActivationDescriptor : SafeHandle
{
    /// <summary>Creates an empty handle for the marshaller to fill.</summary>
    public CudnnActivationDescriptor() : base(IntPtr.Zero, ownsHandle: true) { }

    private CudnnActivationDescriptor(bool owns) : base(IntPtr.Zero, owns) { }

    /// <summary>A NULL descriptor, for the batch-norm Ex calls with <c>CUDNN_BATCHNORM_OPS_BN</c>. Never dispose it.</summary>
    public static CudnnActivationDescriptor Null { get; } = new(owns: false);

    /// <inheritdoc/>
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyActivationDescriptor(handle) == cudnnStatus_t.CUDNN_STATUS_SUCCESS;
}

using DeepTrain.Interop;
using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cuda;

// 2-D pooling on cuDNN (cudnnPoolingForward / cudnnPoolingBackward), floor mode like PyTorch's MaxPool2d / AvgPool2d:
// cuDNN's output size is 1 + (H + 2·pad − window)/stride, rounded down, the same formula as PoolSpec.OutH.
// Modes: Max → CUDNN_POOLING_MAX, or CUDNN_POOLING_MAX_DETERMINISTIC in deterministic mode; AverageIncludePad →
// CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING; AverageExcludePad → CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING.
// NaN propagates through max pooling (CUDNN_PROPAGATE_NAN), as in PyTorch.
// Ties: the CPU backend sends a window's gradient to its first maximum (PyTorch's rule). cuDNN does not document which
// of several equal maxima receives it, so results can differ where a window holds a tie; the CUDA-vs-CPU tests use
// inputs without ties.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc />
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void Pool2dForward(PoolSpec spec, Tensor x, Tensor y)
    {
        const string op = "Pool2dForward";
        nint xp = Ptr(op, "x", x), yp = Ptr(op, "y", y);
        if (MixedStorage(x, y)) { using var h = new Widened(this); Pool2dForward(spec, h.In(x), h.Out(y)); return; }
        KernelDType(op, "x", x);
        SameDType(op, "x", x, "y", y);
        OperandChecks.Pool(op, spec, x, y);
        SameLayout(op, "x", x, "y", y);
        if (y.Elements == 0) return;
        SetPool(op, spec, x, y);
        float alpha = 1f, beta = 0f;
        Dnn(Cudnn.cudnnPoolingForward(_cudnn, _pool, &alpha, _t0, (void*)xp, &beta, _t1, (void*)yp), op, x, y);
    }

    /// <inheritdoc />
    /// <remarks>Max pooling finds each window's maximum from x and y (cuDNN's rule for ties: see the file header).</remarks>
    /// <exception cref="CudaOperationException">cuDNN rejected the shapes or failed.</exception>
    public void Pool2dBackward(PoolSpec spec, Tensor x, Tensor y, Tensor dy, Tensor dx, bool accumulate)
    {
        const string op = "Pool2dBackward";
        nint xp = Ptr(op, "x", x), yp = Ptr(op, "y", y), dyp = Ptr(op, "dy", dy), dxp = Ptr(op, "dx", dx);
        if (MixedStorage(x, y, dy, dx)) { using var h = new Widened(this); Pool2dBackward(spec, h.In(x), h.In(y), h.In(dy), h.Out(dx), accumulate); return; }
        KernelDType(op, "x", x);
        SameDType(op, "x", x, "y", y); SameDType(op, "x", x, "dy", dy); SameDType(op, "x", x, "dx", dx);
        OperandChecks.Pool(op, spec, x, y);
        OperandChecks.SameGeometry(op, "y", y, "dy", dy);
        OperandChecks.SameGeometry(op, "x", x, "dx", dx);
        SameLayout(op, "x", x, "y", y);
        if (x.Elements == 0) return;
        if (y.Elements == 0) { if (!accumulate) Fill(dx, 0f); return; }
        SetPool(op, spec, x, y);
        float alpha = 1f, beta = accumulate ? 1f : 0f;
        Dnn(Cudnn.cudnnPoolingBackward(_cudnn, _pool, &alpha, _t1, (void*)yp, _t1, (void*)dyp, _t0, (void*)xp, &beta, _t0, (void*)dxp), op, x, y, dx);
    }

    /// <summary>_pool for <paramref name="spec"/>, _t0 = x (and dx), _t1 = y (and dy).</summary>
    private void SetPool(string op, PoolSpec spec, Tensor x, Tensor y)
    {
        var mode = spec.Mode switch
        {
            PoolMode.Max => _options.Deterministic ? cudnnPoolingMode_t.CUDNN_POOLING_MAX_DETERMINISTIC : cudnnPoolingMode_t.CUDNN_POOLING_MAX,
            PoolMode.AverageIncludePad => cudnnPoolingMode_t.CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING,
            _ => cudnnPoolingMode_t.CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING,
        };
        Dnn(Cudnn.cudnnSetPooling2dDescriptor(_pool, mode, cudnnNanPropagation_t.CUDNN_PROPAGATE_NAN,
            spec.KernelH, spec.KernelW, spec.PadH, spec.PadW, spec.StrideH, spec.StrideW), op, x, y);
        Describe(_t0, x, op);
        Describe(_t1, y, op);
    }
}

using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// Losses on the kernel library: dt_softmax_xent_f32 (F.cross_entropy fused with its gradient and the accuracy count),
// dt_mse (F.mse_loss), dt_bce_logits (F.binary_cross_entropy_with_logits). Each writes the mean loss to a one-element
// device tensor with a deterministic reduction; the loss and correct count are cleared first (a no-op for kernels that
// overwrite, and right for ones that add). Nothing is read back except the bad-label flag (see CudaBackendOptions.CheckLabels).
public sealed unsafe partial class CudaBackend
{
    private nint _flags;            // one device int32: dt_softmax_xent_f32's bad_label flag
    private bool _labelsPending;    // LabelCheck.Deferred: a loss ran since the flag was last read

    /// <inheritdoc />
    /// <remarks>
    /// logits may be (N, K) or any shape read as (N, K = elements/N); labels are int32 on this device. A label outside
    /// [0, K) throws as <see cref="CudaBackendOptions.CheckLabels"/> says: at the next host synchronisation (the default,
    /// <see cref="LabelCheck.Deferred"/>) or right after the kernel (<see cref="LabelCheck.Immediate"/>, like the CPU backend).
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, K); the message names its index and value.</exception>
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor loss, Tensor? dlogits, Tensor? correct, float scale)
    {
        const string op = "SoftmaxCrossEntropy";
        // The loss kernels are fp32 (the plans keep logits fp32); 16-bit operands run widened (CudaBackend.Precision.cs).
        if (AnyReduced(logits, loss, dlogits, correct))
        {
            OnThisDevice(op, ("logits", logits), ("labels", labels), ("loss", loss), ("dlogits", dlogits), ("correct", correct));
            using var h = new Widened(this);
            SoftmaxCrossEntropy(h.In(logits), labels, h.Out(loss), h.Out(dlogits), h.Out(correct), scale);
            return;
        }
        float* zp = F32(op, "logits", logits), lp = F32(op, "loss", loss);
        nint yp = Ptr(op, "labels", labels);
        if (logits.Shape.Rank < 2) ThrowHelper.Invalid(op, $"logits has shape {logits.Shape}; expected (N, K)");
        int n = logits.Shape.N, k = n == 0 ? logits.Shape.C : checked((int)(logits.Elements / n));
        CheckSoftmaxClasses(op, logits, k);
        if (labels.DType != DType.Int32) ThrowHelper.Invalid(op, $"labels is {labels.DType}, expected Int32");
        if (labels.Elements != n) ThrowHelper.Invalid(op, $"labels has shape {labels.Shape}, expected ({n},) for logits {logits.Shape}");
        OperandChecks.Scalar(op, "loss", loss);
        float* dzp = null, cp = null;
        if (dlogits is not null) { dzp = F32(op, "dlogits", dlogits); OperandChecks.SameGeometry(op, "logits", logits, "dlogits", dlogits); }
        if (correct is not null) { cp = F32(op, "correct", correct); OperandChecks.Scalar(op, "correct", correct); }
        if (n == 0)
        {
            // PyTorch: the mean of nothing is NaN.
            Fill(loss, float.NaN);
            if (correct is not null) Fill(correct, 0f);
            return;
        }
        // No classes: every label is outside [0, 0). The kernel refuses K = 0 (cudaErrorInvalidValue); throw what the CPU
        // backend throws for it instead, naming the first label.
        if (k == 0) ThrowBadLabel(op, labels, logits, k);
        Memset(op, (nint)lp, sizeof(float));
        if (cp != null) Memset(op, (nint)cp, sizeof(float));
        int* bad = null;
        if (_options.CheckLabels != LabelCheck.Off)
        {
            if (_flags == 0) { _flags = RawAlloc(sizeof(int)); Memset(op, _flags, sizeof(int)); }
            bad = (int*)_flags;
            if (_options.CheckLabels == LabelCheck.Immediate) Memset(op, _flags, sizeof(int));
        }
        // dlogits = s·(softmax(z) − onehot)/N with s = host_scale (no device loss scale here).
        Launched(Kernels.dt_softmax_xent_f32(zp, (int*)yp, n, k, lp, dzp, cp, null, scale, bad, _streamPtr), op);
        if (_options.CheckLabels == LabelCheck.Deferred) _labelsPending = true;
        else if (bad != null && ReadFlag() != 0) ThrowBadLabel(op, labels, logits, k);
    }

    /// <summary>
    /// The most classes dt_softmax_xent_f32 takes: 2^24, because it reduces the first maximum's index as a float, exact up
    /// to 2^24 (deeptrain_kernels.h); the kernel refuses more with cudaErrorInvalidValue. The CPU backend has no limit.
    /// </summary>
    internal const int SoftmaxMaxClasses = 1 << 24;

    /// <summary>Refuses K above <see cref="SoftmaxMaxClasses"/> before the kernel does, naming the operation, K and the limit.</summary>
    /// <exception cref="ArgumentException">K is above the limit.</exception>
    internal static void CheckSoftmaxClasses(string op, Tensor logits, int k)
    {
        if (k > SoftmaxMaxClasses)
            ThrowHelper.Invalid(op, $"logits {logits.Shape} has K = {k} classes; the CUDA kernel dt_softmax_xent_f32 takes at most " +
                $"2^24 = {SoftmaxMaxClasses} (it reduces the first maximum's index in fp32); the CPU backend has no such limit");
    }

    /// <summary>The bad-label flag, read after the stream has drained (a 4-byte copy; the caller has synchronised or is about to).</summary>
    private int ReadFlag()
    {
        int flag;
        Check(Cudart.cudaMemcpyAsync(&flag, (void*)_flags, sizeof(int), cudaMemcpyKind.cudaMemcpyDeviceToHost, _stream));
        Check(Cudart.cudaStreamSynchronize(_stream));
        return flag;
    }

    /// <summary>
    /// <see cref="LabelCheck.Deferred"/>: called at every host synchronisation; throws (once, clearing the flag) when a loss since
    /// the previous one saw a label outside [0, K).
    /// </summary>
    private void CheckDeferredLabels()
    {
        if (!_labelsPending) return;
        _labelsPending = false;
        if (ReadFlag() == 0) return;
        Memset("SoftmaxCrossEntropy", _flags, sizeof(int));
        throw new ArgumentOutOfRangeException("labels",
            "SoftmaxCrossEntropy: a cross-entropy loss since the previous host synchronisation saw a label outside [0, K) (the device checks " +
            "labels and reports at the next synchronisation; CudaBackendOptions(CheckLabels: LabelCheck.Immediate) names the label and its index)");
    }

    /// <summary>Finds the first label outside [0, K) (a rare path: copies the labels to the host) and throws as the CPU backend does.</summary>
    private void ThrowBadLabel(string op, Tensor labels, Tensor logits, int k)
    {
        var host = new int[labels.Elements];
        CopyToHost<int>(labels, host);
        for (int i = 0; i < host.Length; i++)
            if ((uint)host[i] >= (uint)k)
                throw new ArgumentOutOfRangeException(nameof(labels), host[i], $"{op}: labels[{i}] = {host[i]} is outside [0, {k}) for logits {logits.Shape}");
        throw new ArgumentOutOfRangeException(nameof(labels), $"{op}: the kernel reported a label outside [0, {k}) for logits {logits.Shape}");
    }

    /// <inheritdoc />
    public void MseLoss(Tensor pred, Tensor target, Tensor loss, Tensor? dpred, float scale) =>
        // loss = (1/n)·Σ(p − t)²;  dpred = scale·2(p − t)/n.
        PointwiseLoss("MseLoss", "pred", pred, target, loss, dpred, "dpred", scale, &Kernels.dt_mse);

    /// <inheritdoc />
    public void BceWithLogitsLoss(Tensor logits, Tensor target, Tensor loss, Tensor? dlogits, float scale) =>
        // loss = (1/n)·Σ[max(z, 0) − z·t + log(1 + e^−|z|)];  dlogits = scale·(σ(z) − t)/n.
        PointwiseLoss("BceWithLogitsLoss", "logits", pred: logits, target, loss, dlogits, "dlogits", scale, &Kernels.dt_bce_logits);

    /// <summary>
    /// A mean element-wise loss on the kernel library (dt_mse, dt_bce_logits share the signature): checks, the empty
    /// case (NaN, PyTorch's mean of nothing), and 16-bit operands run widened.
    /// </summary>
    private void PointwiseLoss(string op, string predName, Tensor pred, Tensor target, Tensor loss, Tensor? grad, string gradName, float scale,
        delegate*<float*, float*, long, float*, float*, float, IntPtr, int> kernel)
    {
        if (AnyReduced(pred, target, loss, grad))
        {
            OnThisDevice(op, (predName, pred), ("target", target), ("loss", loss), (gradName, grad));
            using var h = new Widened(this);
            PointwiseLoss(op, predName, h.In(pred), h.In(target), h.Out(loss), h.Out(grad), gradName, scale, kernel);
            return;
        }
        float* pp = F32(op, predName, pred), tp = F32(op, "target", target), lp = F32(op, "loss", loss);
        OperandChecks.SameGeometry(op, predName, pred, "target", target);
        OperandChecks.Scalar(op, "loss", loss);
        float* dp = null;
        if (grad is not null) { dp = F32(op, gradName, grad); OperandChecks.SameGeometry(op, predName, pred, gradName, grad); }
        if (pred.Elements == 0) { Fill(loss, float.NaN); return; }
        Memset(op, (nint)lp, sizeof(float));
        Launched(kernel(pp, tp, pred.Elements, lp, dp, scale, _streamPtr), op);
    }

    private void Memset(string op, nint p, int bytes)
    {
        var status = Cudart.cudaMemsetAsync((void*)p, 0, (nuint)bytes, _stream);
        if (status != cudaError_t.cudaSuccess) Launched((int)status, op);
    }
}

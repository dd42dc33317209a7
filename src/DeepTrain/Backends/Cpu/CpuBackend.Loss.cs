using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Losses, each the mean over the batch with a scaled gradient (the loss scale of mixed precision):
// SoftmaxCrossEntropy = F.cross_entropy(z, labels) fused with its gradient and the accuracy count;
// MseLoss = F.mse_loss; BceWithLogitsLoss = F.binary_cross_entropy_with_logits. The kernels are in
// CpuKernels.Loss.cs; sums are taken in double. Gradients may alias their inputs.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    /// <remarks>logits may be (N, K) or any shape read as (N, K = elements/N); labels are checked before anything is written.</remarks>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, K); the message names its index and value.</exception>
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor loss, Tensor? dlogits, Tensor? correct, float scale)
    {
        if (Reduced(logits, loss, dlogits, correct)) { using var h = new Widened(); SoftmaxCrossEntropy(h.In(logits), labels, h.Out(loss), h.Out(dlogits), h.Out(correct), scale); return; }
        const string op = "SoftmaxCrossEntropy";
        F32(op, "logits", logits); F32(op, "loss", loss);
        if (logits.Shape.Rank < 2) ThrowHelper.Invalid(op, $"logits has shape {logits.Shape}; expected (N, K)");
        int n = logits.Shape.N, k = n == 0 ? logits.Shape.C : checked((int)(logits.Elements / n));
        if (labels.DType != DType.Int32) ThrowHelper.Invalid(op, $"labels is {labels.DType}, expected Int32");
        if (labels.Elements != n) ThrowHelper.Invalid(op, $"labels has shape {labels.Shape}, expected ({n},) for logits {logits.Shape}");
        OperandChecks.Scalar(op, "loss", loss);
        if (dlogits is not null) { F32(op, "dlogits", dlogits); SameGeometry(op, "logits", logits, "dlogits", dlogits); }
        if (correct is not null) { F32(op, "correct", correct); OperandChecks.Scalar(op, "correct", correct); }
        ReadOnlySpan<int> ls = labels.AsSpan<int>();
        for (int i = 0; i < n; i++)
            if ((uint)ls[i] >= (uint)k)
                throw new ArgumentOutOfRangeException(nameof(labels), ls[i], $"{op}: labels[{i}] = {ls[i]} is outside [0, {k}) for logits {logits.Shape}");

        // loss = (1/N)·Σ_n (lse(z_n) − z_n[label_n]);  dlogits_n = (scale/N)·(softmax(z_n) − onehot(label_n)).
        ReadOnlySpan<float> z = logits.AsSpan<float>();
        Span<float> dz = dlogits is null ? default : dlogits.AsSpan<float>();
        float gradScale = n == 0 ? 0f : scale / n;
        double total = 0;
        int hits = 0;
        for (int i = 0; i < n; i++)
        {
            total += CpuKernels.SoftmaxCrossEntropyRow(z.Slice(i * k, k), ls[i], dz.IsEmpty ? default : dz.Slice(i * k, k), gradScale, out int argmax);
            if (argmax == ls[i]) hits++;
        }
        loss.AsSpan<float>()[0] = n == 0 ? float.NaN : (float)(total / n);   // PyTorch: the mean of nothing is NaN
        if (correct is not null) correct.AsSpan<float>()[0] = hits;
    }

    /// <inheritdoc />
    public void MseLoss(Tensor pred, Tensor target, Tensor loss, Tensor? dpred, float scale)
    {
        if (Reduced(pred, target, loss, dpred)) { using var h = new Widened(); MseLoss(h.In(pred), h.In(target), h.Out(loss), h.Out(dpred), scale); return; }
        const string op = "MseLoss";
        F32(op, "pred", pred); F32(op, "target", target); F32(op, "loss", loss);
        SameGeometry(op, "pred", pred, "target", target);
        OperandChecks.Scalar(op, "loss", loss);
        if (dpred is not null) { F32(op, "dpred", dpred); SameGeometry(op, "pred", pred, "dpred", dpred); }
        long n = pred.Elements;
        // loss = (1/n)·Σ(p − t)²;  dpred = scale·2(p − t)/n.
        double sum = CpuKernels.MseTerms(pred.AsSpan<float>(), target.AsSpan<float>(), dpred is null ? default : dpred.AsSpan<float>(), n == 0 ? 0f : (float)(2.0 * scale / n));
        loss.AsSpan<float>()[0] = (float)(sum / n);
    }

    /// <inheritdoc />
    public void BceWithLogitsLoss(Tensor logits, Tensor target, Tensor loss, Tensor? dlogits, float scale)
    {
        if (Reduced(logits, target, loss, dlogits)) { using var h = new Widened(); BceWithLogitsLoss(h.In(logits), h.In(target), h.Out(loss), h.Out(dlogits), scale); return; }
        const string op = "BceWithLogitsLoss";
        F32(op, "logits", logits); F32(op, "target", target); F32(op, "loss", loss);
        SameGeometry(op, "logits", logits, "target", target);
        OperandChecks.Scalar(op, "loss", loss);
        if (dlogits is not null) { F32(op, "dlogits", dlogits); SameGeometry(op, "logits", logits, "dlogits", dlogits); }
        long n = logits.Elements;
        // loss = (1/n)·Σ[max(z, 0) − z·t + log(1 + e^−|z|)];  dlogits = scale·(σ(z) − t)/n.
        double sum = CpuKernels.BceWithLogitsTerms(logits.AsSpan<float>(), target.AsSpan<float>(), dlogits is null ? default : dlogits.AsSpan<float>(), n == 0 ? 0f : (float)((double)scale / n));
        loss.AsSpan<float>()[0] = (float)(sum / n);
    }


}

using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cpu;

// PLACEHOLDER: replaced by the real implementation of this family.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor loss, Tensor? dlogits, Tensor? correct, float scale) => throw new NotImplementedException();
    /// <inheritdoc />
    public void MseLoss(Tensor pred, Tensor target, Tensor loss, Tensor? dpred, float scale) => throw new NotImplementedException();
    /// <inheritdoc />
    public void BceWithLogitsLoss(Tensor logits, Tensor target, Tensor loss, Tensor? dlogits, float scale) => throw new NotImplementedException();
}

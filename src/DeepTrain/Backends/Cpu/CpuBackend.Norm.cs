using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cpu;

// PLACEHOLDER: replaced by the real implementation of this family.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, Tensor saveMean, Tensor saveInvStd, double momentum, double eps) => throw new NotImplementedException();
    /// <inheritdoc />
    public void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, double eps) => throw new NotImplementedException();
    /// <inheritdoc />
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams) => throw new NotImplementedException();
}

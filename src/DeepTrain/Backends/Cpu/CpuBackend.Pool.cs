using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cpu;

// PLACEHOLDER: replaced by the real implementation of this family.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void Pool2dForward(PoolSpec spec, Tensor x, Tensor y) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Pool2dBackward(PoolSpec spec, Tensor x, Tensor y, Tensor dy, Tensor dx, bool accumulate) => throw new NotImplementedException();
}

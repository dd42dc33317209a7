using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cpu;

// PLACEHOLDER: replaced by the real implementation of this family.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step) => throw new NotImplementedException();
}

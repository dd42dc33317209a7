using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cpu;

// PLACEHOLDER: replaced by the real implementation of this family.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, ConvSpec spec) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvSpec spec, bool accumulate) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias, ConvSpec spec, bool accumulate) => throw new NotImplementedException();
    /// <inheritdoc />
    public long Conv2dWorkspaceBytes(Shape x, Shape w, ConvSpec spec) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Gemm(bool transA, bool transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) => throw new NotImplementedException();
}

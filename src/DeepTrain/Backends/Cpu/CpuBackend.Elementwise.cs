using DeepTrain.Tensors;

namespace DeepTrain.Backends.Cpu;

// PLACEHOLDER: replaced by the real implementation of this family.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void Fill(Tensor t, float value) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Copy(Tensor src, Tensor dst) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Axpby(float alpha, Tensor x, float beta, Tensor y) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Add(Tensor a, Tensor b, Tensor y) => throw new NotImplementedException();
    /// <inheritdoc />
    public void Activation(ActivationKind kind, float alpha, Tensor x, Tensor y) => throw new NotImplementedException();
    /// <inheritdoc />
    public void ActivationBackward(ActivationKind kind, float alpha, Tensor y, Tensor dy, Tensor dx, bool accumulate) => throw new NotImplementedException();
    /// <inheritdoc />
    public void DropoutForward(Tensor x, Tensor y, float p, ulong seed) => throw new NotImplementedException();
    /// <inheritdoc />
    public void DropoutBackward(Tensor dy, Tensor dx, float p, ulong seed, bool accumulate) => throw new NotImplementedException();
    /// <inheritdoc />
    public void AddBias(Tensor y, Tensor bias) => throw new NotImplementedException();
    /// <inheritdoc />
    public void BiasBackward(Tensor dy, Tensor dbias, bool accumulate) => throw new NotImplementedException();
    /// <inheritdoc />
    public void CopyChannels(Tensor src, int srcC0, Tensor dst, int dstC0, int channels, int stride, bool accumulate) => throw new NotImplementedException();
    /// <inheritdoc />
    public void CopyChannelsBackward(Tensor ddst, int dstC0, Tensor dsrc, int srcC0, int channels, int stride, bool accumulate) => throw new NotImplementedException();
}

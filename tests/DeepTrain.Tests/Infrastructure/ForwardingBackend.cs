using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>
/// An <see cref="IBackend"/> that forwards every operation to another backend: tests derive from it and override
/// the few members they observe or change (counting host reads, refusing a precision). The inner backend stays
/// owned by the caller.
/// </summary>
public abstract class ForwardingBackend(IBackend inner) : IBackend
{
    /// <summary>The backend every call goes to.</summary>
    protected IBackend Inner { get; } = inner;

    public virtual bool SupportsPrecision(Precision precision, out string reason) => Inner.SupportsPrecision(precision, out reason);
    public virtual Device Device => Inner.Device;
    public virtual string Description => Inner.Description;
    public virtual long LiveBytes => Inner.LiveBytes;
    public virtual long? AvailableMemoryBytes => Inner.AvailableMemoryBytes;
    public virtual DeviceBuffer Allocate(long bytes) => Inner.Allocate(bytes);
    public virtual void CopyFromHost<T>(ReadOnlySpan<T> src, Tensor dst) where T : unmanaged => Inner.CopyFromHost<T>(src, dst);
    public virtual void CopyToHost<T>(Tensor src, Span<T> dst) where T : unmanaged => Inner.CopyToHost<T>(src, dst);
    public virtual void Synchronize() => Inner.Synchronize();
    public virtual void Fill(Tensor t, float value) => Inner.Fill(t, value);
    public virtual void Copy(Tensor src, Tensor dst) => Inner.Copy(src, dst);
    public virtual void Axpby(float alpha, Tensor x, float beta, Tensor y) => Inner.Axpby(alpha, x, beta, y);
    public virtual void Add(Tensor a, Tensor b, Tensor y) => Inner.Add(a, b, y);
    public virtual void Activation(ActivationKind kind, float alpha, Tensor x, Tensor y) => Inner.Activation(kind, alpha, x, y);
    public virtual void ActivationBackward(ActivationKind kind, float alpha, Tensor y, Tensor dy, Tensor dx, bool accumulate) => Inner.ActivationBackward(kind, alpha, y, dy, dx, accumulate);
    public virtual void PReluForward(Tensor x, Tensor alpha, Tensor y) => Inner.PReluForward(x, alpha, y);
    public virtual void PReluBackward(Tensor x, Tensor alpha, Tensor dy, Tensor? dx, Tensor dalpha, bool accumulateDx, bool accumulateAlpha) => Inner.PReluBackward(x, alpha, dy, dx, dalpha, accumulateDx, accumulateAlpha);
    public virtual void DropoutForward(Tensor x, Tensor y, float p, ulong seed) => Inner.DropoutForward(x, y, p, seed);
    public virtual void DropoutBackward(Tensor dy, Tensor dx, float p, ulong seed, bool accumulate) => Inner.DropoutBackward(dy, dx, p, seed, accumulate);
    public virtual void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, ConvSpec spec) => Inner.Conv2dForward(x, w, bias, y, spec);
    public virtual void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvSpec spec, bool accumulate) => Inner.Conv2dBackwardData(dy, w, dx, spec, accumulate);
    public virtual void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias, ConvSpec spec, bool accumulate) => Inner.Conv2dBackwardFilter(x, dy, dw, dbias, spec, accumulate);
    public virtual long Conv2dWorkspaceBytes(Shape x, Shape w, ConvSpec spec, Layout layout, DType dtype) => Inner.Conv2dWorkspaceBytes(x, w, spec, layout, dtype);
    public virtual void Gemm(bool transA, bool transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) => Inner.Gemm(transA, transB, alpha, a, b, beta, c);
    public virtual void AddBias(Tensor y, Tensor bias) => Inner.AddBias(y, bias);
    public virtual void BiasBackward(Tensor dy, Tensor dbias, bool accumulate) => Inner.BiasBackward(dy, dbias, accumulate);
    public virtual void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, Tensor saveMean, Tensor saveInvStd, double momentum, double eps) => Inner.BatchNormForwardTraining(x, gamma, beta, y, runningMean, runningVar, saveMean, saveInvStd, momentum, eps);
    public virtual void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, double eps) => Inner.BatchNormForwardInference(x, gamma, beta, y, runningMean, runningVar, eps);
    public virtual void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, double eps, Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams) => Inner.BatchNormBackward(x, dy, gamma, saveMean, saveInvStd, eps, dx, dgamma, dbeta, accumulateDx, accumulateParams);
    public virtual void Pool2dForward(PoolSpec spec, Tensor x, Tensor y) => Inner.Pool2dForward(spec, x, y);
    public virtual void Pool2dBackward(PoolSpec spec, Tensor x, Tensor y, Tensor dy, Tensor dx, bool accumulate) => Inner.Pool2dBackward(spec, x, y, dy, dx, accumulate);
    public virtual void CopyChannels(Tensor src, int srcC0, Tensor dst, int dstC0, int channels, int stride, bool accumulate) => Inner.CopyChannels(src, srcC0, dst, dstC0, channels, stride, accumulate);
    public virtual void CopyChannelsBackward(Tensor ddst, int dstC0, Tensor dsrc, int srcC0, int channels, int stride, bool accumulate) => Inner.CopyChannelsBackward(ddst, dstC0, dsrc, srcC0, channels, stride, accumulate);
    public virtual void SoftmaxCrossEntropy(Tensor logits, Tensor labels, Tensor loss, Tensor? dlogits, Tensor? correct, float scale) => Inner.SoftmaxCrossEntropy(logits, labels, loss, dlogits, correct, scale);
    public virtual void MseLoss(Tensor pred, Tensor target, Tensor loss, Tensor? dpred, float scale) => Inner.MseLoss(pred, target, loss, dpred, scale);
    public virtual void BceWithLogitsLoss(Tensor logits, Tensor target, Tensor loss, Tensor? dlogits, float scale) => Inner.BceWithLogitsLoss(logits, target, loss, dlogits, scale);
    public virtual void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null) => Inner.SgdStep(w, g, momentum, args, step, workingCopy, scalerState);
    public virtual void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null) => Inner.AdamStep(w, g, m, v, args, step, workingCopy, scalerState);
    public virtual void AdagradStep(Tensor w, Tensor g, Tensor sum, AdagradArgs args, long step) => Inner.AdagradStep(w, g, sum, args, step);
    public virtual void RmsPropStep(Tensor w, Tensor g, Tensor v, Tensor? momentum, Tensor? gradAvg, RmsPropArgs args) => Inner.RmsPropStep(w, g, v, momentum, gradAvg, args);
    public virtual void PenaltyGradient(Tensor w, Tensor g, float l1, float l2) => Inner.PenaltyGradient(w, g, l1, l2);
    public virtual void UnscaleGradients(Tensor grads, Tensor scalerState) => Inner.UnscaleGradients(grads, scalerState);
    public virtual void UpdateLossScale(Tensor scalerState, float growthFactor, float backoffFactor, int growthInterval) => Inner.UpdateLossScale(scalerState, growthFactor, backoffFactor, growthInterval);
    public virtual void MultiplyByLossScale(Tensor x, Tensor scalerState) => Inner.MultiplyByLossScale(x, scalerState);
    public virtual void GlobalNormSquared(Tensor x, Tensor normSquared) => Inner.GlobalNormSquared(x, normSquared);
    public virtual void ScaleByNorm(Tensor g, Tensor normSquared, float maxNorm) => Inner.ScaleByNorm(g, normSquared, maxNorm);
    /// <summary>Does not dispose <see cref="Inner"/>: the caller owns it.</summary>
    public void Dispose() => GC.SuppressFinalize(this);
}

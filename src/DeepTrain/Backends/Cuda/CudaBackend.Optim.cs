using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cuda;

// Optimizer steps over flat fp32 buffers on the kernel library's fused kernels: dt_sgd_f32, dt_adam_f32,
// dt_adagrad_f32, dt_rmsprop_f32. Each applies the same equations in the same order as the CPU twin (the rules are on
// SgdArgs, AdamArgs, AdagradArgs and RmsPropArgs). Here the step number comes from the host (step_count = NULL) and no
// found-inf flag gates the step; the mixed-precision path passes device counters and flags instead.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step) => SgdStep(w, g, momentum, args, step, null, null);

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step) => AdamStep(w, g, m, v, args, step, null, null);

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void AdagradStep(Tensor w, Tensor g, Tensor sum, AdagradArgs a, long step)
    {
        const string op = "AdagradStep";
        float* wp = F32(op, "w", w), gp = F32(op, "g", g), sp = F32(op, "sum", sum);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "sum", sum);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        if (w.Elements == 0) return;
        Launched(Kernels.dt_adagrad_f32(wp, gp, sp, w.Elements, a.LearningRate, a.LrDecay, a.WeightDecay, a.Eps, step, _streamPtr), op);
    }

    /// <inheritdoc />
    public void RmsPropStep(Tensor w, Tensor g, Tensor v, Tensor? momentum, Tensor? gradAvg, RmsPropArgs a)
    {
        const string op = "RmsPropStep";
        float* wp = F32(op, "w", w), gp = F32(op, "g", g), vp = F32(op, "v", v);
        OperandChecks.RmsPropBuffers(op, w, g, v, momentum, gradAvg, a);
        float* bp = a.Momentum > 0 ? F32(op, "momentum", momentum!) : null;
        float* ap = a.Centered ? F32(op, "gradAvg", gradAvg!) : null;
        if (w.Elements == 0) return;
        Launched(Kernels.dt_rmsprop_f32(wp, gp, vp, bp, ap, w.Elements, a.LearningRate, a.Alpha, a.Eps, a.WeightDecay, a.Momentum, a.Centered ? 1 : 0, _streamPtr), op);
    }
}

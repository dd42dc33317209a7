using DeepTrain.Interop;
using DeepTrain.Mixed;
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

    /// <inheritdoc />
    public void PenaltyGradient(Tensor w, Tensor g, float l1, float l2)
    {
        const string op = "PenaltyGradient";
        float* wp = F32(op, "w", w), gp = F32(op, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        OperandChecks.PenaltyCoefficients(op, l1, l2);
        if (w.Elements == 0 || (l1 == 0 && l2 == 0)) return;
        Launched(Kernels.dt_penalty_grad_f32(wp, gp, w.Elements, l1, l2, _streamPtr), op);
    }

    /// <summary>The working copy's pointer and DT_HALF_* kind (null and DT_HALF_NONE without one).</summary>
    private (nint Ptr, int Kind) WorkingCopy(string op, Tensor w, Tensor? workingCopy)
    {
        OperandChecks.WorkingCopy(op, w, workingCopy);
        if (workingCopy is null) return (0, (int)Kernels.dt_half_kind.DT_HALF_NONE);
        var kind = workingCopy.DType == DType.Float16 ? Kernels.dt_half_kind.DT_HALF_F16 : Kernels.dt_half_kind.DT_HALF_BF16;
        return (Ptr(op, "workingCopy", workingCopy), (int)kind);
    }

    /// <summary>The step-count and found-inf pointers of the scaler state (both null without one).</summary>
    private (nint Steps, nint FoundInf) StepGate(string op, Tensor? scalerState)
    {
        if (scalerState is null) return (0, 0);
        byte* s = ScalerState(op, scalerState);
        return ((nint)StepCountField(s), (nint)FoundInfField(s));
    }

    /// <inheritdoc />
    public void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null)
    {
        const string op = "SgdStep";
        float* wp = F32(op, "w", w), gp = F32(op, "g", g), mp = null;
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        if (scalerState is null) ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        OperandChecks.Sgd(op, args);
        if (args.Momentum != 0f) { mp = F32(op, "momentum", momentum); ThrowHelper.CheckSameElements(op, "w", w, "momentum", momentum); }
        var (half, kind) = WorkingCopy(op, w, workingCopy);
        var (steps, foundInf) = StepGate(op, scalerState);
        if (w.Elements == 0) return;
        // t = *steps + 1 with a scaler state (the kernel skips when *foundInf is set), else the host's step.
        Launched(Kernels.dt_sgd_f32(wp, gp, mp, (void*)half, kind, w.Elements, args.LearningRate, args.Momentum, args.Dampening,
            args.WeightDecay, args.Nesterov ? 1 : 0, args.Form == SgdMomentumForm.Caffe ? 1 : 0, (long*)steps, step, (int*)foundInf, _streamPtr), op);
    }

    /// <inheritdoc />
    public void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step, Tensor? workingCopy = null, Tensor? scalerState = null)
    {
        const string op = "AdamStep";
        float* wp = F32(op, "w", w), gp = F32(op, "g", g), mp = F32(op, "m", m), vp = F32(op, "v", v);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "m", m);
        ThrowHelper.CheckSameElements(op, "w", w, "v", v);
        if (scalerState is null) ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        var (half, kind) = WorkingCopy(op, w, workingCopy);
        var (steps, foundInf) = StepGate(op, scalerState);
        if (w.Elements == 0) return;
        Launched(Kernels.dt_adam_f32(wp, gp, mp, vp, (void*)half, kind, w.Elements, args.LearningRate, args.Beta1, args.Beta2,
            args.Eps, args.WeightDecay, args.Decoupled ? 1 : 0, (long*)steps, step, (int*)foundInf, _streamPtr), op);
    }
}

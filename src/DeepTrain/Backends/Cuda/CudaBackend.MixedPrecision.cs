using DeepTrain.Interop;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cuda;

// The loss scaler, clipping, the elastic-net penalty and the mixed-precision optimizer steps: one kernel call each
// (loss_scale.cu, norm.cu, optim_extra.cu, sgd.cu, adamw.cu). The scaler state is a LossScalerState tensor (24 bytes:
// scale f32 at +0, growth tracker i32 at +4, found-inf i32 at +8, step count i64 at +16); the kernels get pointers to
// its fields, so a scaled step never synchronises with the host.
public sealed unsafe partial class CudaBackend
{
    /// <summary>The scaler state's device address, after checking its shape, type and device.</summary>
    private byte* ScalerState(string op, Tensor scalerState)
    {
        LossScalerState.Check(op, scalerState);
        return (byte*)Ptr(op, "scalerState", scalerState);
    }

    private static float* ScaleField(byte* s) => (float*)(s + LossScalerState.ScaleOffset);
    private static int* GrowthTrackerField(byte* s) => (int*)(s + LossScalerState.GrowthTrackerOffset);
    private static int* FoundInfField(byte* s) => (int*)(s + LossScalerState.FoundInfOffset);
    private static long* StepCountField(byte* s) => (long*)(s + LossScalerState.StepCountOffset);

    /// <inheritdoc />
    public void UnscaleGradients(Tensor grads, Tensor scalerState)
    {
        const string op = "UnscaleGradients";
        float* g = F32(op, "grads", grads);
        byte* s = ScalerState(op, scalerState);
        Launched(Kernels.dt_unscale_f32(g, grads.Elements, ScaleField(s), FoundInfField(s), _streamPtr), op);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">The growth factor is not finite and ≥ 1, the backoff factor not in (0, 1], or the interval is below 1.</exception>
    public void UpdateLossScale(Tensor scalerState, float growthFactor, float backoffFactor, int growthInterval)
    {
        const string op = "UpdateLossScale";
        OperandChecks.ScalerFactors(growthFactor, backoffFactor, growthInterval);
        byte* s = ScalerState(op, scalerState);
        Launched(Kernels.dt_update_scale(ScaleField(s), GrowthTrackerField(s), FoundInfField(s), StepCountField(s),
            growthFactor, backoffFactor, growthInterval, _streamPtr), op);
    }

    /// <inheritdoc />
    public void MultiplyByLossScale(Tensor x, Tensor scalerState)
    {
        const string op = "MultiplyByLossScale";
        if (x.DType != DType.Float32) ThrowHelper.Invalid(op, $"x is {x.DType}; the loss gradient is scaled in fp32, before any 16-bit store");
        float* p = F32(op, "x", x);
        byte* s = ScalerState(op, scalerState);
        Launched(Kernels.dt_scale_by_f32(p, x.Elements, ScaleField(s), _streamPtr), op);
    }

    /// <inheritdoc />
    public void GlobalNormSquared(Tensor x, Tensor normSquared)
    {
        const string op = "GlobalNormSquared";
        float* p = F32(op, "x", x), o = F32(op, "normSquared", normSquared);
        if (normSquared.Elements != 1) ThrowHelper.Invalid(op, $"normSquared has shape {normSquared.Shape}, expected one element");
        Launched(Kernels.dt_global_norm_sq_f32(p, x.Elements, o, _streamPtr), op);   // written, deterministic
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not finite and positive.</exception>
    public void ScaleByNorm(Tensor g, Tensor normSquared, float maxNorm)
    {
        const string op = "ScaleByNorm";
        OperandChecks.MaxNorm(maxNorm);
        float* p = F32(op, "g", g), o = F32(op, "normSquared", normSquared);
        if (normSquared.Elements != 1) ThrowHelper.Invalid(op, $"normSquared has shape {normSquared.Shape}, expected one element");
        Launched(Kernels.dt_scale_by_norm_f32(p, g.Elements, o, maxNorm, 1e-6f, _streamPtr), op);
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
    public void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step, Tensor? workingCopy, Tensor? scalerState)
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
    public void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step, Tensor? workingCopy, Tensor? scalerState)
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

using System.Runtime.InteropServices;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// The loss scaler's and clipping's operations and the mixed-precision optimizer steps: the CPU twins of
// loss_scale.cu (dt_unscale_f32, dt_update_scale), dt_global_norm_sq_f32 / dt_scale_by_norm_f32 and the
// w_half / found_inf / step_count arguments of dt_sgd_f32 and dt_adam_f32. The state is a
// LossScalerState tensor in host memory, read and written in place.
public sealed partial class CpuBackend
{
    private static Span<byte> StateBytes(string op, Tensor state)
    {
        LossScalerState.Check(op, state);
        if (state.Device.Kind != DeviceKind.Cpu) ThrowHelper.Invalid(op, $"scalerState is on {state.Device}; the CPU backend needs host tensors");
        return MemoryMarshal.AsBytes(state.AsSpan<int>());
    }

    /// <inheritdoc />
    public void UnscaleGradients(Tensor grads, Tensor scalerState)
    {
        const string op = "UnscaleGradients";
        var g = F32(op, "grads", grads);
        var bytes = StateBytes(op, scalerState);
        var s = LossScalerState.Fields.Read(bytes);
        float inv = 1f / s.Scale;   // the kernel's g * (1 / *scale), the same rounding
        bool found = false;
        for (int i = 0; i < g.Length; i++)
        {
            float x = g[i] * inv;
            if (!float.IsFinite(x)) found = true;
            g[i] = x;
        }
        if (found) (s with { FoundInf = 1 }).Write(bytes);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException">The growth factor is not finite and ≥ 1, the backoff factor not in (0, 1], or the interval is below 1.</exception>
    public void UpdateLossScale(Tensor scalerState, float growthFactor, float backoffFactor, int growthInterval)
    {
        OperandChecks.ScalerFactors(growthFactor, backoffFactor, growthInterval);
        var bytes = StateBytes("UpdateLossScale", scalerState);
        var s = LossScalerState.Fields.Read(bytes);
        float scale = s.Scale;
        long tracker = s.GrowthTracker;   // 64 bits, as the kernel: int.MaxValue + 1 does not wrap
        long steps = s.StepCount;
        if (s.FoundInf != 0) { scale *= backoffFactor; tracker = 0; }
        else
        {
            // ≥ where PyTorch has ==: a tracker restored at or past a smaller interval grows now instead of counting on.
            if (++tracker >= growthInterval)
            {
                float grown = scale * growthFactor;
                if (float.IsFinite(grown)) scale = grown;   // as PyTorch's _amp_update_scale_ and the kernel: never grow into ∞
                tracker = 0;
            }
            steps++;
        }
        new LossScalerState.Fields(scale, (int)tracker, 0, steps).Write(bytes);   // tracker < interval ≤ int.MaxValue
    }

    /// <inheritdoc />
    public void MultiplyByLossScale(Tensor x, Tensor scalerState)
    {
        const string op = "MultiplyByLossScale";
        if (Reduced(x)) ThrowHelper.Invalid(op, $"x is {x.DType}; the loss gradient is scaled in fp32, before any 16-bit store");
        var v = F32(op, "x", x);
        float scale = LossScalerState.Fields.Read(StateBytes(op, scalerState)).Scale;
        for (int i = 0; i < v.Length; i++) v[i] *= scale;
    }

    /// <inheritdoc />
    public void GlobalNormSquared(Tensor x, Tensor normSquared)
    {
        const string op = "GlobalNormSquared";
        var v = F32(op, "x", x);
        var o = F32(op, "normSquared", normSquared);
        if (o.Length != 1) ThrowHelper.Invalid(op, $"normSquared has shape {normSquared.Shape}, expected one element");
        double sum = 0;   // double: the CPU twin is the reference; the kernel accumulates in float per block
        foreach (float e in v) sum += (double)e * e;
        o[0] = (float)sum;
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is not finite and positive.</exception>
    public void ScaleByNorm(Tensor g, Tensor normSquared, float maxNorm)
    {
        const string op = "ScaleByNorm";
        OperandChecks.MaxNorm(maxNorm);
        var v = F32(op, "g", g);
        var o = F32(op, "normSquared", normSquared);
        if (o.Length != 1) ThrowHelper.Invalid(op, $"normSquared has shape {normSquared.Shape}, expected one element");
        // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1, and every gradient multiplied by it.
        float coef = MathF.Min(1f, maxNorm / (MathF.Sqrt(o[0]) + 1e-6f));
        for (int i = 0; i < v.Length; i++) v[i] *= coef;
    }

    /// <inheritdoc />
    public void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step, Tensor? workingCopy, Tensor? scalerState)
    {
        if (!BeginMixedStep("SgdStep", w, workingCopy, scalerState, ref step)) return;
        SgdStep(w, g, momentum, args, step);
        EndMixedStep(w, workingCopy);
    }

    /// <inheritdoc />
    public void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step, Tensor? workingCopy, Tensor? scalerState)
    {
        if (!BeginMixedStep("AdamStep", w, workingCopy, scalerState, ref step)) return;
        AdamStep(w, g, m, v, args, step);
        EndMixedStep(w, workingCopy);
    }

    /// <summary>Validates the extra operands; false when the found-inf flag says to skip; takes t from the state.</summary>
    private static bool BeginMixedStep(string op, Tensor w, Tensor? workingCopy, Tensor? scalerState, ref long step)
    {
        OperandChecks.WorkingCopy(op, w, workingCopy);
        if (scalerState is null) return true;
        var s = LossScalerState.Fields.Read(StateBytes(op, scalerState));
        if (s.FoundInf != 0) return false;
        step = s.StepCount + 1;
        return true;
    }

    private static void EndMixedStep(Tensor w, Tensor? workingCopy)
    {
        if (workingCopy is not null) ReducedFloat.Narrow(w.AsSpan<float>(), workingCopy.AsSpan<ushort>(), workingCopy.DType);
    }
}

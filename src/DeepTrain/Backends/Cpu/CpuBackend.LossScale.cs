using System.Runtime.InteropServices;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// The loss scaler's operations, the CPU twins of native/src/loss_scale.cu (dt_unscale_f32, dt_update_scale,
// dt_scale_by_f32). The state is a LossScalerState tensor in host memory, read and written in place.
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
}

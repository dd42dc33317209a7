using DeepTrain.Interop;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cuda;

// The loss scaler's operations on native/src/loss_scale.cu; the state is a LossScalerState tensor in device memory and
// never leaves it. The CPU twins are in CpuBackend.LossScale.cs.
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
}

using System.Runtime.InteropServices;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Clipping by the global gradient norm, the CPU twins of native/src/clip.cu (dt_global_norm_sq_f32,
// dt_scale_by_norm_f32).
public sealed partial class CpuBackend
{
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
}

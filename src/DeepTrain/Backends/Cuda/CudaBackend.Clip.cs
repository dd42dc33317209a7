using DeepTrain.Interop;
using DeepTrain.Mixed;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cuda;

// Clipping by the global gradient norm on native/src/clip.cu, without a host sync; the CPU twins are in
// CpuBackend.Clip.cs.
public sealed unsafe partial class CudaBackend
{
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
}

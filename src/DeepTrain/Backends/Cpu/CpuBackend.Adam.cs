using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Adam and AdamW over flat buffers; the rule is in CpuKernels.Adam.cs.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void AdamStep(Tensor w, Tensor g, Tensor m, Tensor v, AdamArgs args, long step)
    {
        const string op = "AdamStep";
        F32(op, "w", w); F32(op, "g", g); F32(op, "m", m); F32(op, "v", v);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "m", m);
        ThrowHelper.CheckSameElements(op, "w", w, "v", v);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        CpuParallel.For(checked((int)w.Elements), 8, new AdamBody(w, g, m, v, args, step));
    }

    private readonly record struct AdamBody(Tensor W, Tensor G, Tensor M, Tensor V, AdamArgs Args, long Step) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.AdamStep(
            W.AsSpan<float>()[s..e], G.AsSpan<float>()[s..e], M.AsSpan<float>()[s..e], V.AsSpan<float>()[s..e], Args, Step);
    }
}

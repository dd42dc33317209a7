using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Optimizer steps over flat parameter, gradient and state buffers; the update rules are in
// CpuKernels.Optim.cs. Work is split into contiguous chunks across CpuParallel's threads.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    /// <remarks>As PyTorch, Nesterov momentum needs μ &gt; 0 and zero dampening; <paramref name="momentum"/> is ignored when μ = 0.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="step"/> is below 1.</exception>
    public void SgdStep(Tensor w, Tensor g, Tensor momentum, SgdArgs args, long step)
    {
        const string op = "SgdStep";
        F32(op, "w", w); F32(op, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        OperandChecks.Sgd(op, args);
        bool useMomentum = args.Momentum != 0f;
        if (useMomentum) { F32(op, "momentum", momentum); ThrowHelper.CheckSameElements(op, "w", w, "momentum", momentum); }
        CpuParallel.For(checked((int)w.Elements), 4, new SgdBody(w, g, useMomentum ? momentum : null, args, FirstStep: step == 1));
    }

    private readonly record struct SgdBody(Tensor W, Tensor G, Tensor? Momentum, SgdArgs Args, bool FirstStep) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.SgdStep(
            W.AsSpan<float>()[s..e], G.AsSpan<float>()[s..e], Momentum is null ? default : Momentum.AsSpan<float>()[s..e], Args, FirstStep);
    }
}

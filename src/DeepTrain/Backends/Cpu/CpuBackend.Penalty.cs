using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// The elastic-net penalty's gradient over flat parameter and gradient buffers (CpuKernels.Penalty.cs
// has the math), split into contiguous chunks across CpuParallel's threads.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void PenaltyGradient(Tensor w, Tensor g, float l1, float l2)
    {
        const string op = "PenaltyGradient";
        F32(op, "w", w); F32(op, "g", g);
        ThrowHelper.CheckSameElements(op, "w", w, "g", g);
        OperandChecks.PenaltyCoefficients(op, l1, l2);
        CpuParallel.For(checked((int)w.Elements), 2, new PenaltyBody(w, g, l1, l2));
    }

    private readonly struct PenaltyBody(Tensor w, Tensor g, float l1, float l2) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.PenaltyGradient(w.AsSpan<float>()[s..e], g.AsSpan<float>()[s..e], l1, l2);
    }
}

using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Inverted dropout with a counter-based mask (CpuKernels.Dropout.cs), regenerated in backward from the seed.
// The CUDA twins are in CudaBackend.Dropout.cs and native/src/dropout.cu.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    /// <remarks>The mask formula is <see cref="CpuKernels.DropoutKeep"/>; i is the element's memory index.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public void DropoutForward(Tensor x, Tensor y, float p, ulong seed)
    {
        if (Reduced(x, y)) { using var h = new Widened(); DropoutForward(h.In(x), h.Out(y), p, seed); return; }
        F32("DropoutForward", "x", x); F32("DropoutForward", "y", y);
        SameGeometry("DropoutForward", "x", x, "y", y);
        OperandChecks.DropoutP(p);
        CpuParallel.For(checked((int)x.Elements), 16, new DropoutBody(x, y, p, seed, Backward: false, Accumulate: false));
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public void DropoutBackward(Tensor dy, Tensor dx, float p, ulong seed, bool accumulate)
    {
        if (Reduced(dy, dx)) { using var h = new Widened(); DropoutBackward(h.In(dy), h.Out(dx), p, seed, accumulate); return; }
        F32("DropoutBackward", "dy", dy); F32("DropoutBackward", "dx", dx);
        SameGeometry("DropoutBackward", "dy", dy, "dx", dx);
        OperandChecks.DropoutP(p);
        CpuParallel.For(checked((int)dy.Elements), 16, new DropoutBody(dy, dx, p, seed, Backward: true, accumulate));
    }

    /// <summary>Dropout forward (x → y) or backward (dy → dx) over a range of memory indices.</summary>
    private readonly record struct DropoutBody(Tensor Src, Tensor Dst, float P, ulong Seed, bool Backward, bool Accumulate) : IRangeBody
    {
        public void Run(int s, int e)
        {
            if (Backward) CpuKernels.DropoutBackward(Src.AsSpan<float>()[s..e], Dst.AsSpan<float>()[s..e], P, Seed, first: s, Accumulate);
            else CpuKernels.DropoutForward(Src.AsSpan<float>()[s..e], Dst.AsSpan<float>()[s..e], P, Seed, first: s);
        }
    }
}

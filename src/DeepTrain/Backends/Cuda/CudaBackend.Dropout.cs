using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// Inverted dropout on native/src/dropout.cu (dt_dropout); the CPU twin is in CpuBackend.Dropout.cs.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc />
    /// <remarks>The mask is the CPU backend's counter-based hash of (seed, memory index), so both backends drop the same elements.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public void DropoutForward(Tensor x, Tensor y, float p, ulong seed)
    {
        const string op = "DropoutForward";
        nint xp = Ptr(op, "x", x), yp = Ptr(op, "y", y);
        if (MixedStorage(x, y)) { using var h = new Widened(this); DropoutForward(h.In(x), h.Out(y), p, seed); return; }
        int dt = ElementwisePair(op, "x", x, "y", y);
        OperandChecks.DropoutP(p);
        if (x.Elements == 0) return;
        Launched(Kernels.dt_dropout((void*)xp, (void*)yp, dt, x.Elements, p, seed, 0, _streamPtr), op);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="p"/> is outside [0, 1].</exception>
    public void DropoutBackward(Tensor dy, Tensor dx, float p, ulong seed, bool accumulate)
    {
        const string op = "DropoutBackward";
        nint dyp = Ptr(op, "dy", dy), dxp = Ptr(op, "dx", dx);
        if (MixedStorage(dy, dx)) { using var h = new Widened(this); DropoutBackward(h.In(dy), h.Out(dx), p, seed, accumulate); return; }
        int dt = ElementwisePair(op, "dy", dy, "dx", dx);
        OperandChecks.DropoutP(p);
        if (dy.Elements == 0) return;
        // The backward is the forward's mask applied to dy: the same kernel, adding when accumulating.
        Launched(Kernels.dt_dropout((void*)dyp, (void*)dxp, dt, dy.Elements, p, seed, accumulate ? 1 : 0, _streamPtr), op);
    }
}

using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// Activations on native/src/activation.cu (dt_activation, dt_activation_backward, dt_prelu_forward/backward); the CPU
// twins are in CpuBackend.Activation.cs.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc />
    public void Activation(ActivationKind kind, float alpha, Tensor x, Tensor y)
    {
        const string op = "Activation";
        nint xp = Ptr(op, "x", x), yp = Ptr(op, "y", y);
        if (MixedStorage(x, y)) { using var h = new Widened(this); Activation(kind, alpha, h.In(x), h.Out(y)); return; }
        int dt = ElementwisePair(op, "x", x, "y", y);
        if (x.Elements == 0) return;
        // The kernel's kind codes (DT_ACT_RELU 0 … DT_ACT_TANH 3) are ActivationKind's order.
        Launched(Kernels.dt_activation((int)kind, alpha, (void*)xp, (void*)yp, dt, x.Elements, _streamPtr), op);
    }

    /// <inheritdoc />
    public void ActivationBackward(ActivationKind kind, float alpha, Tensor y, Tensor dy, Tensor dx, bool accumulate)
    {
        const string op = "ActivationBackward";
        nint yp = Ptr(op, "y", y), dyp = Ptr(op, "dy", dy), dxp = Ptr(op, "dx", dx);
        if (MixedStorage(y, dy, dx)) { using var h = new Widened(this); ActivationBackward(kind, alpha, h.In(y), h.In(dy), h.Out(dx), accumulate); return; }
        int dt = ElementwisePair(op, "y", y, "dy", dy);
        ElementwisePair(op, "y", y, "dx", dx);
        if (y.Elements == 0) return;
        Launched(Kernels.dt_activation_backward((int)kind, alpha, (void*)yp, (void*)dyp, (void*)dxp, dt, y.Elements, accumulate ? 1 : 0, _streamPtr), op);
    }

    /// <inheritdoc />
    public void PReluForward(Tensor x, Tensor alpha, Tensor y)
    {
        const string op = "PReluForward";
        // dt_prelu_* are fp32 kernels: 16-bit operands run widened (CudaBackend.Precision.cs, tier 3).
        if (AnyReduced(x, alpha, y))
        {
            OnThisDevice(op, ("x", x), ("alpha", alpha), ("y", y));
            using var h = new Widened(this);
            PReluForward(h.In(x), h.In(alpha), h.Out(y));
            return;
        }
        float* xp = F32(op, "x", x), ap = F32(op, "alpha", alpha), yp = F32(op, "y", y);
        OperandChecks.SameGeometry(op, "x", x, "y", y);
        var g = ChannelGeometry.Of(op, "x", x);
        if (alpha.Elements != 1) OperandChecks.PerChannel(op, "alpha", alpha, g.C);
        if (x.Elements == 0) return;
        Launched(Kernels.dt_prelu_forward(xp, ap, yp, g.N, g.C, g.Spatial, g.ChannelsLast ? 1 : 0, alpha.Elements == 1 ? 1 : 0, _streamPtr), op);
    }

    /// <inheritdoc />
    public void PReluBackward(Tensor x, Tensor alpha, Tensor dy, Tensor? dx, Tensor dalpha, bool accumulateDx, bool accumulateAlpha)
    {
        const string op = "PReluBackward";
        if (AnyReduced(x, alpha, dy, dx, dalpha))
        {
            OnThisDevice(op, ("x", x), ("alpha", alpha), ("dy", dy), ("dx", dx), ("dalpha", dalpha));
            using var h = new Widened(this);
            PReluBackward(h.In(x), h.In(alpha), h.In(dy), h.Out(dx), h.Out(dalpha), accumulateDx, accumulateAlpha);
            return;
        }
        float* xp = F32(op, "x", x), ap = F32(op, "alpha", alpha), dyp = F32(op, "dy", dy), dap = F32(op, "dalpha", dalpha);
        float* dxp = null;
        OperandChecks.SameGeometry(op, "x", x, "dy", dy);
        var g = ChannelGeometry.Of(op, "x", x);
        if (alpha.Elements != 1) OperandChecks.PerChannel(op, "alpha", alpha, g.C);
        if (dalpha.Elements != alpha.Elements) ThrowHelper.Invalid(op, $"dalpha has {dalpha.Elements} elements, expected {alpha.Elements} like alpha");
        if (dx is not null) { dxp = F32(op, "dx", dx); OperandChecks.SameGeometry(op, "x", x, "dx", dx); }
        Launched(Kernels.dt_prelu_backward(xp, ap, dyp, dxp, dap, g.N, g.C, g.Spatial, g.ChannelsLast ? 1 : 0, alpha.Elements == 1 ? 1 : 0,
            accumulateDx ? 1 : 0, accumulateAlpha ? 1 : 0, _streamPtr), op);
    }
}

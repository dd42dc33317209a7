using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Activations: ReLU, LeakyReLU, sigmoid and tanh element-wise (the span kernels are in CpuKernels.Activation.cs), and
// PReLU with its learned per-channel slope. The CUDA twins are in CudaBackend.Activation.cs and native/src/activation.cu.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void Activation(ActivationKind kind, float alpha, Tensor x, Tensor y)
    {
        if (Reduced(x, y)) { using var h = new Widened(); Activation(kind, alpha, h.In(x), h.Out(y)); return; }
        F32("Activation", "x", x); F32("Activation", "y", y);
        SameGeometry("Activation", "x", x, "y", y);
        long cost = kind is ActivationKind.Sigmoid or ActivationKind.Tanh ? 16 : 1;
        CpuParallel.For(checked((int)x.Elements), cost, new ActivationBody(kind, alpha, x, y));
    }

    private readonly struct ActivationBody(ActivationKind kind, float alpha, Tensor x, Tensor y) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.Activation(kind, alpha, x.AsSpan<float>()[s..e], y.AsSpan<float>()[s..e]);
    }

    /// <inheritdoc />
    public void ActivationBackward(ActivationKind kind, float alpha, Tensor y, Tensor dy, Tensor dx, bool accumulate)
    {
        if (Reduced(y, dy, dx)) { using var h = new Widened(); ActivationBackward(kind, alpha, h.In(y), h.In(dy), h.Out(dx), accumulate); return; }
        const string op = "ActivationBackward";
        F32(op, "y", y); F32(op, "dy", dy); F32(op, "dx", dx);
        SameGeometry(op, "y", y, "dy", dy);
        SameGeometry(op, "y", y, "dx", dx);
        CpuParallel.For(checked((int)y.Elements), 2, new ActivationBackwardBody(kind, alpha, y, dy, dx, accumulate));
    }

    private readonly struct ActivationBackwardBody(ActivationKind kind, float alpha, Tensor y, Tensor dy, Tensor dx, bool accumulate) : IRangeBody
    {
        public void Run(int s, int e)
            => CpuKernels.ActivationBackward(kind, alpha, y.AsSpan<float>()[s..e], dy.AsSpan<float>()[s..e], dx.AsSpan<float>()[s..e], accumulate);
    }

    /// <inheritdoc />
    public void PReluForward(Tensor x, Tensor alpha, Tensor y)
    {
        if (Reduced(x, alpha, y)) { using var h = new Widened(); PReluForward(h.In(x), h.In(alpha), h.Out(y)); return; }
        const string op = "PReluForward";
        var xs = F32(op, "x", x); var a = F32(op, "alpha", alpha); var ys = F32(op, "y", y);
        SameGeometry(op, "x", x, "y", y);
        var g = ChannelGeometry.Of(op, "x", x);
        if (a.Length != 1) PerChannel(op, "alpha", alpha, g.C);
        for (long i = 0; i < xs.Length; i++)
        {
            float v = xs[(int)i];
            ys[(int)i] = v > 0 ? v : a[a.Length == 1 ? 0 : ChannelOf(g, i)] * v;
        }
    }

    /// <inheritdoc />
    public void PReluBackward(Tensor x, Tensor alpha, Tensor dy, Tensor? dx, Tensor dalpha, bool accumulateDx, bool accumulateAlpha)
    {
        if (Reduced(x, alpha, dy, dx, dalpha)) { using var h = new Widened(); PReluBackward(h.In(x), h.In(alpha), h.In(dy), h.Out(dx), h.Out(dalpha), accumulateDx, accumulateAlpha); return; }
        const string op = "PReluBackward";
        var xs = F32(op, "x", x); var a = F32(op, "alpha", alpha); var dys = F32(op, "dy", dy); var da = F32(op, "dalpha", dalpha);
        SameGeometry(op, "x", x, "dy", dy);
        var g = ChannelGeometry.Of(op, "x", x);
        if (a.Length != 1) PerChannel(op, "alpha", alpha, g.C);
        if (da.Length != a.Length) ThrowHelper.Invalid(op, $"dalpha has {da.Length} elements, expected {a.Length} like alpha");
        Span<float> dxs = default;
        if (dx is not null) { dxs = F32(op, "dx", dx); SameGeometry(op, "x", x, "dx", dx); }
        var sums = new double[a.Length];
        for (long i = 0; i < xs.Length; i++)
        {
            float v = xs[(int)i], d = dys[(int)i];
            int c = a.Length == 1 ? 0 : ChannelOf(g, i);
            if (v <= 0) sums[c] += (double)d * v;
            if (dx is not null)
            {
                float gi = v > 0 ? d : a[c] * d;
                dxs[(int)i] = accumulateDx ? dxs[(int)i] + gi : gi;
            }
        }
        for (int c = 0; c < da.Length; c++) da[c] = accumulateAlpha ? da[c] + (float)sums[c] : (float)sums[c];
    }

    /// <summary>Channel of memory index <paramref name="i"/>: (n·S + s)·C + c channels-last, else (n·C + c)·S + s.</summary>
    private static int ChannelOf(ChannelGeometry g, long i) => g.ChannelsLast ? (int)(i % g.C) : (int)(i / g.Spatial % g.C);
}

using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// 2-D max and average pooling (PyTorch's MaxPool2d / AvgPool2d, floor mode; global average pooling is
// the kernel H×W). x (N, C, H, W) → y (N, C, OH, OW) with OH = ⌊(H + 2·pH − kH)/sH⌋ + 1. Work is split
// over the N·C planes; the per-plane kernels in CpuKernels.Pool.cs address either layout by strides.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void Pool2dForward(PoolSpec spec, Tensor x, Tensor y)
    {
        if (Reduced(x, y)) { using var h = new Widened(); Pool2dForward(spec, h.In(x), h.Out(y)); return; }
        const string op = "Pool2dForward";
        F32(op, "x", x); F32(op, "y", y);
        OperandChecks.Pool(op, spec, x, y);
        int c = x.Shape.C, oh = y.Shape.H, ow = y.Shape.W;
        CpuParallel.For(x.Shape.N * c, (long)oh * ow * spec.KernelH * spec.KernelW, new PoolBody(spec, x, y, null, null));
    }

    /// <inheritdoc />
    /// <remarks>
    /// Max pooling recomputes each window's first maximum from x (the forward's rule), so y only fixes the
    /// shape. dx must have x's shape and layout, dy y's.
    /// </remarks>
    public void Pool2dBackward(PoolSpec spec, Tensor x, Tensor y, Tensor dy, Tensor dx, bool accumulate)
    {
        if (Reduced(x, y, dy, dx)) { using var h = new Widened(); Pool2dBackward(spec, h.In(x), h.In(y), h.In(dy), h.Out(dx), accumulate); return; }
        const string op = "Pool2dBackward";
        F32(op, "x", x); F32(op, "y", y); F32(op, "dy", dy); F32(op, "dx", dx);
        OperandChecks.Pool(op, spec, x, y);
        SameGeometry(op, "y", y, "dy", dy);
        SameGeometry(op, "x", x, "dx", dx);
        if (!accumulate) Fill(dx, 0f);
        int c = x.Shape.C, oh = y.Shape.H, ow = y.Shape.W;
        // Planes are disjoint in dx, so threads never write the same element.
        CpuParallel.For(x.Shape.N * c, (long)oh * ow * spec.KernelH * spec.KernelW, new PoolBody(spec, x, y, dy, dx));
    }

    /// <summary>Forward (dy and dx null) or backward over the (n, c) planes [p0, p1).</summary>
    private readonly struct PoolBody(PoolSpec spec, Tensor x, Tensor y, Tensor? dy, Tensor? dx) : IRangeBody
    {
        public void Run(int p0, int p1)
        {
            var (xs, ys) = (PlaneStrides(x), PlaneStrides(y));
            int c = x.Shape.C, h = x.Shape.H, w = x.Shape.W, oh = y.Shape.H, ow = y.Shape.W;
            ReadOnlySpan<float> xa = x.AsSpan<float>();
            if (dx is null)
            {
                Span<float> ya = y.AsSpan<float>();
                for (int p = p0; p < p1; p++)
                {
                    int n = p / c, ch = p % c;
                    CpuKernels.Pool2dPlane(spec, xa[(int)(n * xs.N + ch * xs.C)..], h, w, xs.H, xs.W, ya[(int)(n * ys.N + ch * ys.C)..], oh, ow, ys.H, ys.W);
                }
                return;
            }
            ReadOnlySpan<float> ga = dy!.AsSpan<float>();
            Span<float> da = dx.AsSpan<float>();
            for (int p = p0; p < p1; p++)
            {
                int n = p / c, ch = p % c, xo = (int)(n * xs.N + ch * xs.C), yo = (int)(n * ys.N + ch * ys.C);
                CpuKernels.Pool2dPlaneBackward(spec, xa[xo..], h, w, xs.H, xs.W, ga[yo..], oh, ow, ys.H, ys.W, da[xo..]);
            }
        }
    }

    private static (long N, long C, int H, int W) PlaneStrides(Tensor t)
    {
        var (n, c, h, w) = t.Strides4;
        return (n, c, (int)h, (int)w);
    }


}

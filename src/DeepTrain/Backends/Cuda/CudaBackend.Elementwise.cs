using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// Element-wise operations, dropout, PReLU and the channel copies of concatenation and the option-A shortcut, on the
// kernel library (deeptrain_kernels.h, ABI v3). The dtype-generic kernels load fp32/fp16/bf16 storage, compute in fp32
// and store with round-to-nearest-even; operands of one call share a dtype (Copy converts). Element-wise math follows
// memory order, so operands share shape and layout, as on the CPU; outputs may alias inputs.
public sealed unsafe partial class CudaBackend
{
    /// <inheritdoc />
    public void Fill(Tensor t, float value)
    {
        const string op = "Fill";
        nint p = Ptr(op, "t", t);
        int dt = KernelDType(op, "t", t);
        if (t.Elements == 0) return;
        Launched(Kernels.dt_fill((void*)p, dt, t.Elements, value, _streamPtr), op);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Converts layout and dtype (fp32, fp16, bf16 in any combination) in one kernel (dt_convert); equal layout and dtype
    /// is a device-to-device memcpy (Int32 tensors only this way). src and dst must not overlap unless they are the same
    /// tensor with the same layout and dtype (then the copy is a no-op).
    /// </remarks>
    public void Copy(Tensor src, Tensor dst)
    {
        const string op = "Copy";
        nint s = Ptr(op, "src", src), d = Ptr(op, "dst", dst);
        if (src.Shape != dst.Shape) ThrowHelper.ShapeMismatch(op, "dst", src.Shape, dst.Shape);
        OperandChecks.ConvertibleDTypes(op, src, dst);
        bool plain = src.DType == dst.DType && (src.Layout == dst.Layout || src.Shape.Rank != 4);
        if (Overlaps(src, dst) && !(s == d && plain))
            ThrowHelper.Invalid(op, "src and dst overlap; a layout or dtype conversion cannot run in place");
        if (s == d || src.Elements == 0) return;
        if (plain)
        {
            try { Check(Cudart.cudaMemcpyAsync((void*)d, (void*)s, (nuint)src.Bytes, cudaMemcpyKind.cudaMemcpyDeviceToDevice, _stream)); }
            catch (CudaException e) { throw new CudaOperationException(op, $"{src.Shape}", e); }
            return;
        }
        int st = KernelDType(op, "src", src), dt = KernelDType(op, "dst", dst);
        var sh = src.Shape;
        // Logical (n, c, h, w); tensors of other ranks are flat and never change layout.
        (long n, long c, long h, long w) = sh.Rank == 4 ? (sh.N, sh.C, sh.H, sh.W) : (src.Elements, 1L, 1L, 1L);
        int sn = sh.Rank == 4 && src.Layout == Layout.NHWC ? 1 : 0, dn = sh.Rank == 4 && dst.Layout == Layout.NHWC ? 1 : 0;
        Launched(Kernels.dt_convert((void*)s, st, sn, (void*)d, dt, dn, n, c, h, w, _streamPtr), op);
    }

    /// <inheritdoc />
    public void Axpby(float alpha, Tensor x, float beta, Tensor y)
    {
        const string op = "Axpby";
        nint xp = Ptr(op, "x", x), yp = Ptr(op, "y", y);
        if (MixedStorage(x, y)) { using var h = new Widened(this); Axpby(alpha, h.In(x), beta, h.Out(y)); return; }
        int dt = ElementwisePair(op, "x", x, "y", y);
        if (x.Elements == 0) return;
        Launched(Kernels.dt_axpby((void*)xp, (void*)yp, dt, x.Elements, alpha, beta, _streamPtr), op);
    }

    /// <inheritdoc />
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        const string op = "Add";
        nint ap = Ptr(op, "a", a), bp = Ptr(op, "b", b), yp = Ptr(op, "y", y);
        if (MixedStorage(a, b, y)) { using var h = new Widened(this); Add(h.In(a), h.In(b), h.Out(y)); return; }
        int dt = ElementwisePair(op, "a", a, "b", b);
        ElementwisePair(op, "a", a, "y", y);
        if (a.Elements == 0) return;
        Launched(Kernels.dt_add((void*)ap, (void*)bp, (void*)yp, dt, a.Elements, _streamPtr), op);
    }

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

    /// <inheritdoc />
    public void PReluForward(Tensor x, Tensor alpha, Tensor y)
    {
        const string op = "PReluForward";
        // dt_prelu_* are fp32 kernels: 16-bit operands run widened (CudaBackend.Reduced.cs, tier 3).
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

    /// <inheritdoc />
    /// <remarks>
    /// dst's spatial size must be ⌈H/stride⌉ × ⌈W/stride⌉ of src's; layouts may differ (the kernel takes one layout flag,
    /// so a src in the other layout is first converted into the workspace).
    /// </remarks>
    public void CopyChannels(Tensor src, int srcC0, Tensor dst, int dstC0, int channels, int stride, bool accumulate)
    {
        const string op = "CopyChannels";
        nint sp = Ptr(op, "src", src), dp = Ptr(op, "dst", dst);
        if (MixedStorage(src, dst)) { using var h = new Widened(this); CopyChannels(h.In(src), srcC0, h.Out(dst), dstC0, channels, stride, accumulate); return; }
        int dt = KernelDType(op, "src", src);
        SameDType(op, "src", src, "dst", dst);
        OperandChecks.ChannelCopy(op, src, "src", srcC0, dst, "dst", dstC0, channels, stride);
        var (s, d) = (src.Shape, dst.Shape);
        if (channels == 0 || d.N == 0) return;
        int nhwc = ChannelsLast(dst);
        sp = InLayoutOf(op, src, sp, nhwc);
        Launched(Kernels.dt_copy_channels((void*)sp, s.C, s.H, s.W, srcC0, (void*)dp, d.C, d.H, d.W, dstC0, dt, d.N, channels, stride, nhwc,
            accumulate ? 1 : 0, _streamPtr), op);
    }

    /// <inheritdoc />
    /// <remarks>
    /// When not accumulating, the channels [srcC0, srcC0 + channels) of dsrc are overwritten whole, with zeros at the
    /// positions the stride skipped. Layouts may differ: ddst is converted to dsrc's layout first when they do.
    /// </remarks>
    public void CopyChannelsBackward(Tensor ddst, int dstC0, Tensor dsrc, int srcC0, int channels, int stride, bool accumulate)
    {
        const string op = "CopyChannelsBackward";
        nint dp = Ptr(op, "ddst", ddst), sp = Ptr(op, "dsrc", dsrc);
        if (MixedStorage(ddst, dsrc)) { using var h = new Widened(this); CopyChannelsBackward(h.In(ddst), dstC0, h.Out(dsrc), srcC0, channels, stride, accumulate); return; }
        int dt = KernelDType(op, "ddst", ddst);
        SameDType(op, "ddst", ddst, "dsrc", dsrc);
        OperandChecks.ChannelCopy(op, dsrc, "dsrc", srcC0, ddst, "ddst", dstC0, channels, stride);
        var (s, d) = (dsrc.Shape, ddst.Shape);
        if (channels == 0 || d.N == 0) return;
        int nhwc = ChannelsLast(dsrc);
        dp = InLayoutOf(op, ddst, dp, nhwc);
        Launched(Kernels.dt_copy_channels_backward((void*)dp, d.C, d.H, d.W, dstC0, (void*)sp, s.C, s.H, s.W, srcC0, dt, d.N, channels, stride, nhwc,
            accumulate ? 1 : 0, _streamPtr), op);
    }

    /// <summary>1 when <paramref name="t"/> is a channels-last rank-4 tensor (a rank-2 tensor is the same memory in either layout).</summary>
    private static int ChannelsLast(Tensor t) => t.Shape.Rank == 4 && t.Layout == Layout.NHWC ? 1 : 0;

    /// <summary>
    /// The address of <paramref name="t"/>'s values in the layout given by <paramref name="nhwc"/>: its own when it already
    /// is, else a converted copy in the workspace (the kernels take one layout flag for both operands).
    /// </summary>
    private nint InLayoutOf(string op, Tensor t, nint p, int nhwc)
    {
        if (ChannelsLast(t) == nhwc || t.Shape.Rank != 4) return p;
        var sh = t.Shape;
        nint copy = Workspace(t.Bytes);
        int dt = (int)t.DType;
        Launched(Kernels.dt_convert((void*)p, dt, 1 - nhwc, (void*)copy, dt, nhwc, sh.N, sh.C, sh.H, sh.W, _streamPtr), op);
        return copy;
    }

    /// <summary>Element-wise operands: same shape, layout and storage type; returns the kernel dtype code.</summary>
    private static int ElementwisePair(string op, string an, Tensor a, string bn, Tensor b)
    {
        int dt = KernelDType(op, an, a);
        SameDType(op, an, a, bn, b);
        OperandChecks.SameGeometry(op, an, a, bn, b);
        return dt;
    }
}

using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Element-wise operations, bias, dropout and the channel copies of concatenation and the option-A
// shortcut. Each method validates its tensors, then runs a span kernel of CpuKernels over contiguous
// chunks on CpuParallel's threads. Element-wise math follows memory order, so operands must share
// shape and layout; Copy is the one operation that converts layouts.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    public void Fill(Tensor t, float value)
    {
        if (Reduced(t)) { using var h = new Widened(); Fill(h.Out(t), value); return; }
        F32("Fill", "t", t);
        CpuParallel.For(checked((int)t.Elements), 1, new FillBody(t, value));
    }

    private readonly struct FillBody(Tensor t, float value) : IRangeBody
    {
        public void Run(int s, int e) => t.AsSpan<float>()[s..e].Fill(value);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Converts between the floating-point types (fp32 ↔ fp16 ↔ bf16): widening is exact, narrowing rounds to
    /// nearest even (the GPU's __float2half_rn and __float2bfloat16_rn); Int32 converts to nothing else.
    /// NCHW ↔ NHWC is a per-sample transpose of (C, H·W) ↔ (H·W, C). src and dst must not overlap unless
    /// they are the same tensor with the same layout and dtype (then the copy is a no-op).
    /// </remarks>
    /// <exception cref="NotSupportedException">One dtype is Int32 and the other is not.</exception>
    public void Copy(Tensor src, Tensor dst)
    {
        const string op = "Copy";
        if (src.Shape != dst.Shape) ThrowHelper.ShapeMismatch(op, "dst", src.Shape, dst.Shape);
        if (src.Device.Kind != DeviceKind.Cpu || dst.Device.Kind != DeviceKind.Cpu) ThrowHelper.Invalid(op, "the CPU backend needs host tensors");
        OperandChecks.ConvertibleDTypes(op, src, dst);
        if (src.DType != dst.DType)
        {
            bool overlaps = src.Pointer < dst.Pointer + (nint)dst.Bytes && dst.Pointer < src.Pointer + (nint)src.Bytes;
            if (overlaps) ThrowHelper.Invalid(op, $"src ({src.DType}) and dst ({dst.DType}) overlap; a conversion cannot run in place");
            ConvertCopy(src, dst);
            return;
        }
        bool overlap = src.Pointer < dst.Pointer + (nint)dst.Bytes && dst.Pointer < src.Pointer + (nint)src.Bytes;
        if (overlap && (src.Pointer != dst.Pointer || src.Layout != dst.Layout))
            ThrowHelper.Invalid(op, "src and dst overlap; a layout conversion cannot run in place");
        switch (src.DType.Size())
        {
            case 4: CopyTyped<float>(src, dst); break;
            default: CopyTyped<ushort>(src, dst); break;
        }
    }

    /// <summary>A dtype-converting copy: through fp32, in src's layout, then <see cref="Copy"/>'s layout conversion.</summary>
    private void ConvertCopy(Tensor src, Tensor dst)
    {
        using var wide = Tensor.Create(src.Shape, DType.Float32, src.Layout);
        if (src.DType == DType.Float32) src.AsSpan<float>().CopyTo(wide.AsSpan<float>());
        else Mixed.ReducedFloat.Widen(src.AsSpan<ushort>(), src.DType, wide.AsSpan<float>());
        if (dst.DType == DType.Float32) { Copy(wide, dst); return; }
        using var narrow = Tensor.Create(src.Shape, dst.DType, src.Layout);
        Mixed.ReducedFloat.Narrow(wide.AsSpan<float>(), narrow.AsSpan<ushort>(), dst.DType);
        Copy(narrow, dst);
    }

    private static void CopyTyped<T>(Tensor src, Tensor dst) where T : unmanaged
    {
        if (src.Pointer == dst.Pointer) return;
        if (src.Layout == dst.Layout)
        {
            CpuParallel.For(checked((int)src.Elements), 1, new CopyBody<T>(src, dst));
            return;
        }
        // (N, C, H, W): NCHW → NHWC transposes each sample's (C, HW) matrix; NHWC → NCHW its (HW, C).
        var shape = src.Shape;
        int c = shape.C, hw = shape.H * shape.W, per = c * hw;
        (int rows, int cols) = src.Layout == Layout.NCHW ? (c, hw) : (hw, c);
        CpuParallel.For(shape.N, per, new TransposeBody<T>(src, dst, per, rows, cols));
    }

    private readonly struct CopyBody<T>(Tensor src, Tensor dst) : IRangeBody where T : unmanaged
    {
        public void Run(int s, int e) => src.AsSpan<T>()[s..e].CopyTo(dst.AsSpan<T>()[s..e]);
    }

    private readonly struct TransposeBody<T>(Tensor src, Tensor dst, int per, int rows, int cols) : IRangeBody where T : unmanaged
    {
        public void Run(int n0, int n1)
        {
            for (int n = n0; n < n1; n++)
                CpuKernels.Transpose<T>(src.AsSpan<T>().Slice(n * per, per), dst.AsSpan<T>().Slice(n * per, per), rows, cols);
        }
    }

    /// <inheritdoc />
    public void Axpby(float alpha, Tensor x, float beta, Tensor y)
    {
        if (Reduced(x, y)) { using var h = new Widened(); Axpby(alpha, h.In(x), beta, h.Out(y)); return; }
        F32("Axpby", "x", x); F32("Axpby", "y", y);
        SameGeometry("Axpby", "x", x, "y", y);
        CpuParallel.For(checked((int)x.Elements), 2, new AxpbyBody(alpha, x, beta, y));
    }

    private readonly struct AxpbyBody(float alpha, Tensor x, float beta, Tensor y) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.Axpby(alpha, x.AsSpan<float>()[s..e], beta, y.AsSpan<float>()[s..e]);
    }

    /// <inheritdoc />
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        if (Reduced(a, b, y)) { using var h = new Widened(); Add(h.In(a), h.In(b), h.Out(y)); return; }
        F32("Add", "a", a); F32("Add", "b", b); F32("Add", "y", y);
        SameGeometry("Add", "a", a, "b", b);
        SameGeometry("Add", "a", a, "y", y);
        CpuParallel.For(checked((int)a.Elements), 2, new AddBody(a, b, y));
    }

    private readonly struct AddBody(Tensor a, Tensor b, Tensor y) : IRangeBody
    {
        public void Run(int s, int e) => CpuKernels.Add(a.AsSpan<float>()[s..e], b.AsSpan<float>()[s..e], y.AsSpan<float>()[s..e]);
    }

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

    /// <inheritdoc />
    public void AddBias(Tensor y, Tensor bias)
    {
        if (Reduced(y, bias)) { using var h = new Widened(); AddBias(h.Out(y), h.In(bias)); return; }
        F32("AddBias", "y", y); F32("AddBias", "bias", bias);
        var g = ChannelGeometry.Of("AddBias", "y", y);
        PerChannel("AddBias", "bias", bias, g.C);
        if (g.ChannelsLast)
        {
            // (N·H·W, C): every row gains the bias vector.
            CpuParallel.For(g.Rows, g.C, new AddBiasBody(y, bias, g));
        }
        else
        {
            // (N·C, H·W): plane (n, c) gains bias[c].
            CpuParallel.For(g.N * g.C, g.Spatial, new AddBiasBody(y, bias, g));
        }
    }

    /// <summary>Channels-last: items are rows (N·H·W, C), each gaining the bias vector; else planes (N·C, H·W), each gaining bias[c].</summary>
    private readonly struct AddBiasBody(Tensor y, Tensor bias, ChannelGeometry g) : IRangeBody
    {
        public void Run(int i0, int i1)
        {
            Span<float> ys = y.AsSpan<float>();
            ReadOnlySpan<float> b = bias.AsSpan<float>();
            if (g.ChannelsLast)
                for (int r = i0; r < i1; r++) CpuKernels.AddInPlace(ys.Slice(r * g.C, g.C), b);
            else
                for (int p = i0; p < i1; p++) CpuKernels.AddScalar(ys.Slice(p * g.Spatial, g.Spatial), b[p % g.C]);
        }
    }

    /// <inheritdoc />
    public unsafe void BiasBackward(Tensor dy, Tensor dbias, bool accumulate)
    {
        if (Reduced(dy, dbias)) { using var h = new Widened(); BiasBackward(h.In(dy), h.Out(dbias), accumulate); return; }
        F32("BiasBackward", "dy", dy); F32("BiasBackward", "dbias", dbias);
        var g = ChannelGeometry.Of("BiasBackward", "dy", dy);
        PerChannel("BiasBackward", "dbias", dbias, g.C);
        double* sums = CpuScratch.Current.GetDoubles(CpuScratch.Slot.Statistics, g.C);
        // dbias[c] = Σ over n and the spatial positions of dy[n, c, …], summed in double.
        if (g.ChannelsLast) CpuReduce.Rows(g, sums, 1, new BiasRows(dy, g));
        else CpuReduce.Planes(g, sums, new BiasPlanes(dy, g));
        Span<float> db = dbias.AsSpan<float>();
        for (int c = 0; c < g.C; c++) db[c] = (float)(accumulate ? db[c] + sums[c] : sums[c]);
    }

    private readonly struct BiasRows(Tensor dy, ChannelGeometry g) : IRowAccumulator
    {
        public void Accumulate(int r0, int r1, Span<float> partial)
        {
            ReadOnlySpan<float> d = dy.AsSpan<float>();
            for (int r = r0; r < r1; r++) CpuKernels.AddInPlace(partial, d.Slice(r * g.C, g.C));
        }
    }

    private readonly struct BiasPlanes(Tensor dy, ChannelGeometry g) : IChannelSum
    {
        public double Sum(int c)
        {
            ReadOnlySpan<float> d = dy.AsSpan<float>();
            double s = 0;
            for (int n = 0; n < g.N; n++) s += CpuKernels.Sum(d.Slice((n * g.C + c) * g.Spatial, g.Spatial));
            return s;
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// dst's spatial size must be ⌈H/stride⌉ × ⌈W/stride⌉ of src's (PyTorch's x[:, :, ::s, ::s]); rank-2
    /// tensors (N, C) are read as (N, C, 1, 1). Layouts may differ.
    /// </remarks>
    public void CopyChannels(Tensor src, int srcC0, Tensor dst, int dstC0, int channels, int stride, bool accumulate)
    {
        if (Reduced(src, dst)) { using var h = new Widened(); CopyChannels(h.In(src), srcC0, h.Out(dst), dstC0, channels, stride, accumulate); return; }
        const string op = "CopyChannels";
        F32(op, "src", src); F32(op, "dst", dst);
        OperandChecks.ChannelCopy(op, src, "src", srcC0, dst, "dst", dstC0, channels, stride);
        int n = dst.Shape.N, oh = dst.Shape.H, ow = dst.Shape.W;
        if (src.Layout == Layout.NCHW && dst.Layout == Layout.NCHW)
        {
            // One (n, i) plane at a time: each output row gathers every stride-th element of an input row.
            CpuParallel.For(n * channels, oh * ow, new CopyChannelsPlanes(new ChannelCopy(src, dst, srcC0, dstC0, channels, stride, accumulate)));
        }
        else
        {
            // Channels-last (or mixed): one output pixel at a time; channels are contiguous when both are NHWC.
            CpuParallel.For(n * oh, (long)ow * channels, new CopyChannelsRows(new ChannelCopy(src, dst, srcC0, dstC0, channels, stride, accumulate)));
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// The adjoint of the subsampling: when not accumulating, the channels [srcC0, srcC0 + channels) of
    /// dsrc are overwritten whole, with zeros at the positions the stride skipped (their gradient is 0).
    /// </remarks>
    public void CopyChannelsBackward(Tensor ddst, int dstC0, Tensor dsrc, int srcC0, int channels, int stride, bool accumulate)
    {
        if (Reduced(ddst, dsrc)) { using var h = new Widened(); CopyChannelsBackward(h.In(ddst), dstC0, h.Out(dsrc), srcC0, channels, stride, accumulate); return; }
        const string op = "CopyChannelsBackward";
        F32(op, "ddst", ddst); F32(op, "dsrc", dsrc);
        OperandChecks.ChannelCopy(op, dsrc, "dsrc", srcC0, ddst, "ddst", dstC0, channels, stride);
        int n = ddst.Shape.N, ih = dsrc.Shape.H, iw = dsrc.Shape.W;
        if (dsrc.Layout == Layout.NCHW && ddst.Layout == Layout.NCHW)
        {
            CpuParallel.For(n * channels, ih * iw, new CopyChannelsBackwardPlanes(new ChannelCopy(ddst, dsrc, dstC0, srcC0, channels, stride, accumulate)));
        }
        else
        {
            // One sample per work item: clearing then scattering touches only that sample's memory.
            CpuParallel.For(n, (long)ih * iw * channels, new CopyChannelsBackwardSamples(new ChannelCopy(ddst, dsrc, dstC0, srcC0, channels, stride, accumulate)));
        }
    }

    /// <summary>The operands of one channel copy (forward: src → dst; backward: ddst → dsrc), with both tensors' strides.</summary>
    private readonly record struct ChannelCopy(Tensor Src, Tensor Dst, int SrcC0, int DstC0, int Channels, int Stride, bool Accumulate)
    {
        public (long N, long C, long H, long W) SrcStrides => Src.Strides4;
        public (long N, long C, long H, long W) DstStrides => Dst.Strides4;
    }

    /// <summary>CopyChannels, NCHW: one (n, i) plane at a time; each output row gathers every stride-th element of an input row.</summary>
    private readonly struct CopyChannelsPlanes(ChannelCopy a) : IRangeBody
    {
        public void Run(int p0, int p1)
        {
            var (src, dst, srcC0, dstC0, channels, stride, accumulate) = a;
            var (sn, sc, sh, _) = a.SrcStrides;
            var (dn, dc, dh, _) = a.DstStrides;
            int oh = dst.Shape.H, ow = dst.Shape.W;
            ReadOnlySpan<float> s = src.AsSpan<float>();
            Span<float> d = dst.AsSpan<float>();
            for (int p = p0; p < p1; p++)
            {
                int b = p / channels, i = p % channels;
                for (int h = 0; h < oh; h++)
                {
                    int so = (int)(b * sn + (srcC0 + i) * sc + h * stride * sh), dof = (int)(b * dn + (dstC0 + i) * dc + h * dh);
                    CpuKernels.StridedGather(s.Slice(so, Math.Min(s.Length - so, (ow - 1) * stride + 1)), stride, d.Slice(dof, ow), accumulate);
                }
            }
        }
    }

    /// <summary>CopyChannels, channels-last (or mixed): one output pixel row at a time.</summary>
    private readonly struct CopyChannelsRows(ChannelCopy a) : IRangeBody
    {
        public void Run(int q0, int q1)
        {
            var (src, dst, srcC0, dstC0, channels, stride, accumulate) = a;
            var (sn, sc, sh, sw) = a.SrcStrides;
            var (dn, dc, dh, dw) = a.DstStrides;
            int oh = dst.Shape.H, ow = dst.Shape.W;
            bool contiguous = sc == 1 && dc == 1;
            ReadOnlySpan<float> s = src.AsSpan<float>();
            Span<float> d = dst.AsSpan<float>();
            for (int q = q0; q < q1; q++)
            {
                int b = q / oh, h = q % oh;
                for (int w = 0; w < ow; w++)
                {
                    long so = b * sn + srcC0 * sc + h * stride * sh + w * stride * sw, dof = b * dn + dstC0 * dc + h * dh + w * dw;
                    if (contiguous) CpuKernels.StridedGather(s.Slice((int)so, channels), 1, d.Slice((int)dof, channels), accumulate);
                    else
                        for (int i = 0; i < channels; i++)
                        {
                            float v = s[(int)(so + i * sc)];
                            ref float o = ref d[(int)(dof + i * dc)];
                            o = accumulate ? o + v : v;
                        }
                }
            }
        }
    }

    /// <summary>CopyChannelsBackward, NCHW: one (n, i) plane of dsrc at a time (Src = ddst, Dst = dsrc).</summary>
    private readonly struct CopyChannelsBackwardPlanes(ChannelCopy a) : IRangeBody
    {
        public void Run(int p0, int p1)
        {
            var (ddst, dsrc, dstC0, srcC0, channels, stride, accumulate) = a;
            var (dn, dc, dh, _) = a.SrcStrides;
            var (sn, sc, _, _) = a.DstStrides;
            int oh = ddst.Shape.H, ow = ddst.Shape.W, ih = dsrc.Shape.H, iw = dsrc.Shape.W;
            Span<float> s = dsrc.AsSpan<float>();
            ReadOnlySpan<float> d = ddst.AsSpan<float>();
            for (int p = p0; p < p1; p++)
            {
                int b = p / channels, i = p % channels;
                int plane = (int)(b * sn + (srcC0 + i) * sc);
                if (!accumulate) s.Slice(plane, ih * iw).Clear();
                for (int h = 0; h < oh; h++)
                {
                    int so = plane + h * stride * iw, dof = (int)(b * dn + (dstC0 + i) * dc + h * dh);
                    CpuKernels.StridedScatterAdd(d.Slice(dof, ow), stride, s.Slice(so, Math.Min(s.Length - so, (ow - 1) * stride + 1)));
                }
            }
        }
    }

    /// <summary>CopyChannelsBackward, channels-last (or mixed): one sample per item (Src = ddst, Dst = dsrc).</summary>
    private readonly struct CopyChannelsBackwardSamples(ChannelCopy a) : IRangeBody
    {
        public void Run(int b0, int b1)
        {
            var (ddst, dsrc, dstC0, srcC0, channels, stride, accumulate) = a;
            var (dn, dc, dh, dw) = a.SrcStrides;
            var (sn, sc, sh, sw) = a.DstStrides;
            int oh = ddst.Shape.H, ow = ddst.Shape.W, ih = dsrc.Shape.H, iw = dsrc.Shape.W;
            bool contiguous = sc == 1 && dc == 1;
            Span<float> s = dsrc.AsSpan<float>();
            ReadOnlySpan<float> d = ddst.AsSpan<float>();
            for (int b = b0; b < b1; b++)
            {
                if (!accumulate)
                    for (int h = 0; h < ih; h++)
                        for (int w = 0; w < iw; w++)
                        {
                            long so = b * sn + srcC0 * sc + h * sh + w * sw;
                            if (contiguous) s.Slice((int)so, channels).Clear();
                            else for (int i = 0; i < channels; i++) s[(int)(so + i * sc)] = 0f;
                        }
                for (int h = 0; h < oh; h++)
                    for (int w = 0; w < ow; w++)
                    {
                        long so = b * sn + srcC0 * sc + h * stride * sh + w * stride * sw, dof = b * dn + dstC0 * dc + h * dh + w * dw;
                        if (contiguous) CpuKernels.AddInPlace(s.Slice((int)so, channels), d.Slice((int)dof, channels));
                        else for (int i = 0; i < channels; i++) s[(int)(so + i * sc)] += d[(int)(dof + i * dc)];
                    }
            }
        }
    }


}

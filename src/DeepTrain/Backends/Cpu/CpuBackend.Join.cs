using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// The join family: channel-range copies for concatenation and the option-A shortcut's subsampling, and their
// adjoints (CpuKernels.Join.cs). The CUDA twins are in CudaBackend.Join.cs and native/src/join.cu.
public sealed partial class CpuBackend
{
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

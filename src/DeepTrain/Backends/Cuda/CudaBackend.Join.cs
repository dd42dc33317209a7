using DeepTrain.Interop;
using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Backends.Cuda;

// Channel-range copies for concatenation and the option-A shortcut on native/src/join.cu (dt_copy_channels and its
// backward); the CPU twins are in CpuBackend.Join.cs.
public sealed unsafe partial class CudaBackend
{
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
}

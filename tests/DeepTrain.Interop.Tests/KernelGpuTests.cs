using static DeepTrain.Interop.Checks;

namespace DeepTrain.Interop.Tests;

/// <summary>
/// The ABI v3 kernels on device memory against a few lines of C# reference each (the managed CudaBackend's
/// tests cover the operations end to end). Where the kernel promises the CPU's rounding (no FMA, the same
/// operation order) the comparison is exact; where it calls expf/logf it is within a few ulps. Skipped,
/// with the reason, where there is no usable GPU; the argument checks run wherever the library loads.
/// </summary>
public sealed unsafe class KernelGpuTests
{
    private const int Invalid = (int)cudaError_t.cudaErrorInvalidValue;

    private static void RequireGpu()
    {
        var cuda = CudaAvailability.Probe();
        if (!cuda.IsAvailable) Assert.Skip($"no usable GPU: {cuda.Reason}");
        if (!NativeLibraryResolver.TryLoad(Libraries.Kernels, out string why)) Assert.Skip($"the kernel library is not built: {why}");
    }

    private static void RequireLibrary()
    {
        if (!NativeLibraryResolver.TryLoad(Libraries.Kernels, out string why))
            Assert.Skip($"the kernel library is not built here (./build.sh native needs nvcc): {why}");
    }

    /// <summary>Asserts a kernel call returned cudaSuccess, then waits for it and checks the device status.</summary>
    private static void Ok(int status)
    {
        Assert.Equal(0, status);
        Check(Cudart.cudaDeviceSynchronize());
    }

    /// <summary>A device allocation with host copies in and out.</summary>
    private sealed class Dev : IDisposable
    {
        public void* Ptr { get; }
        public float* F => (float*)Ptr;

        public Dev(long bytes)
        {
            void* p;
            Check(Cudart.cudaMalloc(&p, (nuint)Math.Max(bytes, 1)));
            Ptr = p;
        }

        public static Dev Of<T>(T[] host) where T : unmanaged
        {
            var d = new Dev((long)host.Length * sizeof(T));
            fixed (T* h = host) Check(Cudart.cudaMemcpy(d.Ptr, h, (nuint)((long)host.Length * sizeof(T)), cudaMemcpyKind.cudaMemcpyHostToDevice));
            return d;
        }

        public T[] Read<T>(long count) where T : unmanaged
        {
            var host = new T[count];
            fixed (T* h = host) Check(Cudart.cudaMemcpy(h, Ptr, (nuint)(count * sizeof(T)), cudaMemcpyKind.cudaMemcpyDeviceToHost));
            return host;
        }

        public void Dispose() => Check(Cudart.cudaFree(Ptr));
    }

    private static float[] Rand(int n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return x;
    }

    private static ushort HalfBits(float x) => BitConverter.HalfToUInt16Bits((Half)x);

    /// <summary>fp32 → bfloat16 bits, round to nearest even (finite inputs), as __float2bfloat16_rn.</summary>
    private static ushort BFloat16Bits(float x)
    {
        uint u = BitConverter.SingleToUInt32Bits(x);
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }

    private static float FromBFloat16(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    // ---- argument checks: host side, before any launch, so no GPU is needed ----------------------------

    [Fact]
    public void BadArguments_AreRefusedOnTheHost_AndEmptyInputsLaunchNothing()
    {
        RequireLibrary();
        void* p = (void*)0x1000;   // never dereferenced: every call below returns before launching
        Assert.Equal(Invalid, Kernels.dt_fill(p, 3, 10, 0f, 0));
        Assert.Equal(Invalid, Kernels.dt_fill(p, Kernels.DT_F32, -1, 0f, 0));
        Assert.Equal(Invalid, Kernels.dt_convert(p, Kernels.DT_F32, 0, p, Kernels.DT_F32, 1, 2, 3, 4, 4, 0));   // in-place transpose
        Assert.Equal(Invalid, Kernels.dt_convert(p, Kernels.DT_F32, 0, p, Kernels.DT_F16, 0, 10, 1, 1, 1, 0));  // in-place narrowing
        Assert.Equal(Invalid, Kernels.dt_activation(4, 0f, p, p, Kernels.DT_F32, 10, 0));
        Assert.Equal(Invalid, Kernels.dt_dropout(p, p, Kernels.DT_F32, 10, 1.5f, 1, 0, 0));
        Assert.Equal(Invalid, Kernels.dt_dropout(p, p, Kernels.DT_F32, 10, float.NaN, 1, 0, 0));
        // dst 3×3 is not ⌈5/2⌉ × ⌈4/2⌉ = 3×2; then channels [3, 5) outside a 4-channel src.
        Assert.Equal(Invalid, Kernels.dt_copy_channels(p, 4, 5, 4, 0, p, 8, 3, 3, 0, Kernels.DT_F32, 2, 4, 2, 0, 0, 0));
        Assert.Equal(Invalid, Kernels.dt_copy_channels(p, 4, 5, 5, 3, p, 8, 3, 3, 0, Kernels.DT_F32, 2, 2, 2, 0, 0, 0));
        Assert.Equal(Invalid, Kernels.dt_copy_channels_backward(p, 8, 3, 3, 0, p, 4, 5, 5, 0, Kernels.DT_F32, 2, 4, 0, 0, 0, 0));
        Assert.Equal(Invalid, Kernels.dt_adagrad_f32((float*)p, (float*)p, (float*)p, 10, 0.1f, 0f, 0f, 1e-10f, 0, 0));
        Assert.Equal(Invalid, Kernels.dt_rmsprop_f32((float*)p, (float*)p, (float*)p, null, null, 10, 0.1f, 0.99f, 1e-8f, 0f, 0.9f, 0, 0));
        Assert.Equal(Invalid, Kernels.dt_rmsprop_f32((float*)p, (float*)p, (float*)p, null, null, 10, 0.1f, 0.99f, 1e-8f, 0f, 0f, 1, 0));
        Assert.Equal(Invalid, Kernels.dt_sgd_f32((float*)p, (float*)p, null, null, 0, 10, 0.1f, 0f, 0f, 0f, 0, 0, null, 0, null, 0));
        Assert.Equal(Invalid, Kernels.dt_adam_f32((float*)p, (float*)p, (float*)p, (float*)p, null, 0, 10, 1e-3f, 0.9f, 0.999f, 1e-8f, 0f, 1, null, 0, null, 0));
        Assert.Equal(Invalid, Kernels.dt_scale_by_norm_f32((float*)p, 10, null, 1f, 1e-6f, 0));
        // Nothing to do: success without a launch, even through bogus pointers.
        Assert.Equal(0, Kernels.dt_fill(p, Kernels.DT_BF16, 0, 1f, 0));
        Assert.Equal(0, Kernels.dt_convert(p, Kernels.DT_F16, 1, p, Kernels.DT_F32, 0, 0, 3, 4, 4, 0));
        Assert.Equal(0, Kernels.dt_convert(p, Kernels.DT_F32, 0, p, Kernels.DT_F32, 1, 2, 1, 4, 4, 0));   // one channel: both layouts are the same bytes
        Assert.Equal(0, Kernels.dt_axpby(p, p, Kernels.DT_F16, 0, 1f, 1f, 0));
        Assert.Equal(0, Kernels.dt_add(p, p, p, Kernels.DT_F32, 0, 0));
        Assert.Equal(0, Kernels.dt_dropout(p, p, Kernels.DT_F16, 0, 0.5f, 1, 1, 0));
        Assert.Equal(0, Kernels.dt_copy_channels(p, 4, 5, 5, 0, p, 8, 3, 3, 0, Kernels.DT_F32, 2, 0, 2, 1, 0, 0));
        Assert.Equal(0, Kernels.dt_penalty_grad_f32((float*)p, (float*)p, 0, 1f, 1f, 0));
    }

    // ---- element-wise ----------------------------------------------------------------------------------

    [Fact]
    public void Convert_TransposesLayouts_AndRoundsToNearestEven()
    {
        RequireGpu();
        const int n = 2, c = 3, h = 2, w = 5, hw = h * w, count = n * c * hw;
        float[] x = Rand(count, 1, 10f);
        using var dx = Dev.Of(x);
        using var nhwc = new Dev(count * 4);
        using var back = new Dev(count * 4);
        using var half = new Dev(count * 2);
        using var bf = new Dev(count * 2);
        using var bfBack = new Dev(count * 4);
        Ok(Kernels.dt_convert(dx.Ptr, Kernels.DT_F32, 0, nhwc.Ptr, Kernels.DT_F32, 1, n, c, h, w, 0));
        Ok(Kernels.dt_convert(nhwc.Ptr, Kernels.DT_F32, 1, back.Ptr, Kernels.DT_F32, 0, n, c, h, w, 0));
        Ok(Kernels.dt_convert(dx.Ptr, Kernels.DT_F32, 0, half.Ptr, Kernels.DT_F16, 1, n, c, h, w, 0));
        Ok(Kernels.dt_convert(dx.Ptr, Kernels.DT_F32, 0, bf.Ptr, Kernels.DT_BF16, 0, n, c, h, w, 0));
        Ok(Kernels.dt_convert(bf.Ptr, Kernels.DT_BF16, 0, bfBack.Ptr, Kernels.DT_F32, 0, count, 1, 1, 1, 0));
        float[] t = nhwc.Read<float>(count);
        ushort[] hb = half.Read<ushort>(count), bb = bf.Read<ushort>(count);
        float[] bw = bfBack.Read<float>(count);
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int s = 0; s < hw; s++)
                {
                    int src = (b * c + ch) * hw + s, dst = (b * hw + s) * c + ch;
                    Assert.Equal(x[src], t[dst]);
                    Assert.Equal(HalfBits(x[src]), hb[dst]);
                }
        Assert.Equal(x, back.Read<float>(count));
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(BFloat16Bits(x[i]), bb[i]);
            Assert.Equal(FromBFloat16(bb[i]), bw[i]);
        }
    }

    [Fact]
    public void Fill_Axpby_Add_RoundLikeTheCpu_AndBetaZeroNeverReadsY()
    {
        RequireGpu();
        const int count = 1000;
        using var h = new Dev(count * 2);
        Ok(Kernels.dt_fill(h.Ptr, Kernels.DT_F16, count, 0.1f, 0));
        Assert.All(h.Read<ushort>(count), b => Assert.Equal(HalfBits(0.1f), b));

        float[] x = Rand(count, 2), y = Rand(count, 3);
        var nanY = Enumerable.Repeat(float.NaN, count).ToArray();
        using var dx = Dev.Of(x);
        using var dnan = Dev.Of(nanY);
        Ok(Kernels.dt_axpby(dx.Ptr, dnan.Ptr, Kernels.DT_F32, count, 1.5f, 0f, 0));
        float[] got = dnan.Read<float>(count);
        for (int i = 0; i < count; i++) Assert.Equal(1.5f * x[i], got[i]);

        using var dy = Dev.Of(y);
        Ok(Kernels.dt_axpby(dx.Ptr, dy.Ptr, Kernels.DT_F32, count, 0.3f, -0.7f, 0));
        got = dy.Read<float>(count);
        for (int i = 0; i < count; i++)
        {
            float a = 0.3f * x[i], b = -0.7f * y[i];   // two products, one sum: no FMA
            Assert.Equal(a + b, got[i]);
        }

        using var da = Dev.Of(y);
        Ok(Kernels.dt_add(da.Ptr, dx.Ptr, da.Ptr, Kernels.DT_F32, count, 0));   // y aliases a
        got = da.Read<float>(count);
        for (int i = 0; i < count; i++) Assert.Equal(y[i] + x[i], got[i]);
    }

    // ---- activations -----------------------------------------------------------------------------------

    [Fact]
    public void Activations_AndTheirGradientsFromTheOutput_MatchTheReference()
    {
        RequireGpu();
        float[] x = [.. Rand(997, 4, 6f), 0f, -0f, 1e-5f, -3e-4f, 20f, -20f, 100f, -100f];
        int count = x.Length;
        float[] dy = Rand(count, 5), dx0 = Rand(count, 6);
        const float alpha = 0.1f;
        using var dX = Dev.Of(x);
        using var dY = new Dev(count * 4);
        using var dDy = Dev.Of(dy);
        foreach (var kind in Enum.GetValues<Kernels.dt_activation_kind>())
        {
            Ok(Kernels.dt_activation((int)kind, alpha, dX.Ptr, dY.Ptr, Kernels.DT_F32, count, 0));
            float[] y = dY.Read<float>(count);
            for (int i = 0; i < count; i++)
            {
                float v = x[i];
                switch (kind)
                {
                    case Kernels.dt_activation_kind.DT_ACT_RELU: Assert.Equal(MathF.Max(v, 0f), y[i]); break;
                    case Kernels.dt_activation_kind.DT_ACT_LEAKY_RELU: Assert.Equal(v > 0f ? v : alpha * v, y[i]); break;
                    case Kernels.dt_activation_kind.DT_ACT_SIGMOID: Assert.Equal(1.0 / (1.0 + Math.Exp(-v)), y[i], 1e-6); break;
                    default: Assert.Equal(Math.Tanh(v), y[i], 2e-6); break;
                }
            }
            using var dDx = Dev.Of(dx0);
            Ok(Kernels.dt_activation_backward((int)kind, alpha, dY.Ptr, dDy.Ptr, dDx.Ptr, Kernels.DT_F32, count, 1, 0));
            float[] g = dDx.Read<float>(count);
            for (int i = 0; i < count; i++)
            {
                float yi = y[i], d = dy[i];
                float expected = kind switch
                {
                    Kernels.dt_activation_kind.DT_ACT_RELU => yi > 0f ? d : 0f * d,
                    Kernels.dt_activation_kind.DT_ACT_LEAKY_RELU => yi > 0f ? d : alpha * d,
                    Kernels.dt_activation_kind.DT_ACT_SIGMOID => d * yi * (1f - yi),
                    _ => d * (1f - yi * yi),
                };
                Assert.Equal(dx0[i] + expected, g[i]);
            }
        }
        // NaN propagates through ReLU (torch.relu), not max's NaN-dropping.
        using var nan = Dev.Of(new[] { float.NaN });
        Ok(Kernels.dt_activation((int)Kernels.dt_activation_kind.DT_ACT_RELU, 0f, nan.Ptr, nan.Ptr, Kernels.DT_F32, 1, 0));
        Assert.True(float.IsNaN(nan.Read<float>(1)[0]));
    }

    // ---- dropout ---------------------------------------------------------------------------------------

    /// <summary>CpuKernels.DropoutKeep, copied: the GPU mask must equal it bit for bit.</summary>
    private static bool Keep(ulong seed, long i, float p)
    {
        ulong z = unchecked(seed + (ulong)i * 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (float)(z >> 40) * (1f / 16777216f) >= p;
    }

    [Fact]
    public void Dropout_UsesTheCpuMask_ForwardAndAccumulatingBackward()
    {
        RequireGpu();
        const int count = 10_000;
        const float p = 0.3f;
        const ulong seed = 0xDEADBEEF12345UL;
        float scale = 1f / (1f - p);
        float[] x = Rand(count, 7), acc = Rand(count, 8);
        using var dx = Dev.Of(x);
        using var dy = new Dev(count * 4);
        using var dacc = Dev.Of(acc);
        Ok(Kernels.dt_dropout(dx.Ptr, dy.Ptr, Kernels.DT_F32, count, p, seed, 0, 0));
        Ok(Kernels.dt_dropout(dx.Ptr, dacc.Ptr, Kernels.DT_F32, count, p, seed, 1, 0));
        float[] y = dy.Read<float>(count), a = dacc.Read<float>(count);
        int kept = 0;
        for (int i = 0; i < count; i++)
        {
            bool keep = Keep(seed, i, p);
            kept += keep ? 1 : 0;
            float g = keep ? x[i] * scale : 0f;
            Assert.Equal(g, y[i]);
            Assert.Equal(acc[i] + g, a[i]);
        }
        Assert.InRange(kept, 6700, 7300);   // P(keep) = 0.7: a mask that ignored p would fail here

        ushort[] hx = x.Select(HalfBits).ToArray();
        using var dh = Dev.Of(hx);
        using var dhy = new Dev(count * 2);
        Ok(Kernels.dt_dropout(dh.Ptr, dhy.Ptr, Kernels.DT_F16, count, p, seed, 0, 0));
        ushort[] hy = dhy.Read<ushort>(count);
        for (int i = 0; i < count; i++)
            Assert.Equal(HalfBits(Keep(seed, i, p) ? (float)BitConverter.UInt16BitsToHalf(hx[i]) * scale : 0f), hy[i]);
    }

    // ---- PReLU -----------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    public void PRelu_ForwardAndBackward_PerChannelOrShared(int nhwc, int shared)
    {
        RequireGpu();
        const int n = 3, c = 4, hw = 5, count = n * c * hw;
        int slopes = shared != 0 ? 1 : c;
        float[] x = Rand(count, 9), dy = Rand(count, 10), alpha = Rand(slopes, 11, 0.5f), dx0 = Rand(count, 12), da0 = Rand(slopes, 13);
        int Channel(int i) => shared != 0 ? 0 : nhwc != 0 ? i % c : i / hw % c;
        using var dX = Dev.Of(x);
        using var dA = Dev.Of(alpha);
        using var dY = new Dev(count * 4);
        using var dDy = Dev.Of(dy);
        using var dDx = Dev.Of(dx0);
        using var dDa = Dev.Of(da0);
        Ok(Kernels.dt_prelu_forward(dX.F, dA.F, dY.F, n, c, hw, nhwc, shared, 0));
        Ok(Kernels.dt_prelu_backward(dX.F, dA.F, dDy.F, dDx.F, dDa.F, n, c, hw, nhwc, shared, 1, 1, 0));
        float[] y = dY.Read<float>(count), g = dDx.Read<float>(count), da = dDa.Read<float>(slopes);
        var sums = new double[slopes];
        for (int i = 0; i < count; i++)
        {
            int ch = Channel(i);
            Assert.Equal(x[i] > 0 ? x[i] : alpha[ch] * x[i], y[i]);
            Assert.Equal(dx0[i] + (x[i] > 0 ? dy[i] : alpha[ch] * dy[i]), g[i]);
            if (x[i] <= 0) sums[ch] += (double)dy[i] * x[i];
        }
        for (int ch = 0; ch < slopes; ch++) Assert.Equal(da0[ch] + (float)sums[ch], da[ch], 1e-6f);

        // Not accumulating, and no dx: dalpha is overwritten.
        Ok(Kernels.dt_prelu_backward(dX.F, dA.F, dDy.F, null, dDa.F, n, c, hw, nhwc, shared, 0, 0, 0));
        da = dDa.Read<float>(slopes);
        for (int ch = 0; ch < slopes; ch++) Assert.Equal((float)sums[ch], da[ch], 1e-6f);
    }

    // ---- channel copies --------------------------------------------------------------------------------

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void CopyChannels_Subsamples_AndTheAdjointClearsTheSkippedPixels(int nhwc)
    {
        RequireGpu();
        const int n = 2, sc = 4, sh = 5, sw = 5, stride = 2, dc = 6, dh = 3, dw = 3, srcC0 = 1, dstC0 = 3, channels = 2;
        long Off(int C, int H, int W, int b, int ch, int y, int x) => nhwc != 0 ? ((long)(b * H + y) * W + x) * C + ch : ((long)(b * C + ch) * H + y) * W + x;
        float[] src = Rand(n * sc * sh * sw, 14);
        var dst0 = Enumerable.Repeat(9f, n * dc * dh * dw).ToArray();
        using var dSrc = Dev.Of(src);
        using var dDst = Dev.Of(dst0);
        Ok(Kernels.dt_copy_channels(dSrc.Ptr, sc, sh, sw, srcC0, dDst.Ptr, dc, dh, dw, dstC0, Kernels.DT_F32, n, channels, stride, nhwc, 0, 0));
        float[] dst = dDst.Read<float>(dst0.Length);
        var expected = (float[])dst0.Clone();
        for (int b = 0; b < n; b++)
            for (int i = 0; i < channels; i++)
                for (int y = 0; y < dh; y++)
                    for (int x = 0; x < dw; x++)
                        expected[Off(dc, dh, dw, b, dstC0 + i, y, x)] = src[Off(sc, sh, sw, b, srcC0 + i, y * stride, x * stride)];
        Assert.Equal(expected, dst);

        // Backward from dst into a 7-filled dsrc: overwriting the channel range whole, then accumulating.
        var dsrc0 = Enumerable.Repeat(7f, src.Length).ToArray();
        using var dDsrc = Dev.Of(dsrc0);
        Ok(Kernels.dt_copy_channels_backward(dDst.Ptr, dc, dh, dw, dstC0, dDsrc.Ptr, sc, sh, sw, srcC0, Kernels.DT_F32, n, channels, stride, nhwc, 0, 0));
        float[] once = dDsrc.Read<float>(src.Length);
        Ok(Kernels.dt_copy_channels_backward(dDst.Ptr, dc, dh, dw, dstC0, dDsrc.Ptr, sc, sh, sw, srcC0, Kernels.DT_F32, n, channels, stride, nhwc, 1, 0));
        float[] twice = dDsrc.Read<float>(src.Length);
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < sc; ch++)
                for (int y = 0; y < sh; y++)
                    for (int x = 0; x < sw; x++)
                    {
                        long o = Off(sc, sh, sw, b, ch, y, x);
                        bool inRange = ch >= srcC0 && ch < srcC0 + channels, onGrid = y % stride == 0 && x % stride == 0;
                        float v = inRange && onGrid ? dst[Off(dc, dh, dw, b, dstC0 + ch - srcC0, y / stride, x / stride)] : 0f;
                        Assert.Equal(inRange ? v : 7f, once[o]);
                        Assert.Equal(inRange ? v + v : 7f, twice[o]);
                    }
    }

    // ---- losses ----------------------------------------------------------------------------------------

    [Theory]
    [InlineData(1000)]      // one block
    [InlineData(100_000)]   // two stages
    public void MseAndBce_WriteTheMean_RepeatBitForBit_AndGiveTheGradient(int count)
    {
        RequireGpu();
        float[] p = Rand(count, 15, 4f), t = Rand(count, 16);
        for (int i = 0; i < count; i++) t[i] = (t[i] + 1) / 2;   // BCE targets in [0, 1]
        const float scale = 3f;
        using var dP = Dev.Of(p);
        using var dT = Dev.Of(t);
        using var loss = Dev.Of(new[] { 123f, 123f });
        using var grad = new Dev(count * 4);

        Ok(Kernels.dt_mse(dP.F, dT.F, count, loss.F, grad.F, scale, 0));
        Ok(Kernels.dt_mse(dP.F, dT.F, count, loss.F + 1, null, scale, 0));
        float[] l = loss.Read<float>(2), g = grad.Read<float>(count);
        double sum = 0;
        float k = (float)(2.0 * scale / count);
        for (int i = 0; i < count; i++)
        {
            float d = p[i] - t[i];
            sum += (double)(d * d);
            Assert.Equal(d * k, g[i]);
        }
        Assert.Equal(sum / count, l[0], Math.Abs(sum / count) * 1e-6);
        Assert.Equal(BitConverter.SingleToInt32Bits(l[0]), BitConverter.SingleToInt32Bits(l[1]));

        Ok(Kernels.dt_bce_logits(dP.F, dT.F, count, loss.F, grad.F, scale, 0));
        Ok(Kernels.dt_bce_logits(dP.F, dT.F, count, loss.F + 1, null, scale, 0));
        l = loss.Read<float>(2);
        g = grad.Read<float>(count);
        sum = 0;
        for (int i = 0; i < count; i++)
        {
            double z = p[i], y = t[i];
            sum += Math.Max(z, 0) - z * y + Math.Log(1 + Math.Exp(-Math.Abs(z)));
            Assert.Equal((1 / (1 + Math.Exp(-z)) - y) * scale / count, g[i], 1e-6 * scale / count);
        }
        Assert.Equal(sum / count, l[0], Math.Abs(sum / count) * 1e-6);
        Assert.Equal(BitConverter.SingleToInt32Bits(l[0]), BitConverter.SingleToInt32Bits(l[1]));

        // The mean of nothing is NaN (as the CPU and PyTorch), written over whatever was there.
        Ok(Kernels.dt_mse(dP.F, dT.F, 0, loss.F, null, scale, 0));
        Assert.True(float.IsNaN(loss.Read<float>(1)[0]));
    }

    // ---- optimizers ------------------------------------------------------------------------------------

    [Fact]
    public void AdagradRmspropAndPenalty_AreBitIdenticalToTheCpuOrder()
    {
        RequireGpu();
        const int count = 5000;
        float[] w = Rand(count, 17), g = Rand(count, 18, 0.1f), s = Rand(count, 19).Select(MathF.Abs).ToArray();
        float[] v = Rand(count, 20).Select(MathF.Abs).ToArray(), buf = Rand(count, 21, 0.01f), avg = Rand(count, 22, 0.01f);
        for (int i = 0; i < count; i++) v[i] += 0.1f;   // keeps v − ḡ² positive
        const float lr = 0.01f, decay = 0.001f, wd = 1e-4f, eps = 1e-10f, alpha = 0.99f, mom = 0.9f, l1 = 1e-3f, l2 = 2e-3f;
        long step = 7;   // a variable: the reference's (t − 1)·decay must round in fp32 at run time, as the kernel's host code

        using var dW = Dev.Of(w);
        using var dG = Dev.Of(g);
        using var dS = Dev.Of(s);
        Ok(Kernels.dt_adagrad_f32(dW.F, dG.F, dS.F, count, lr, decay, wd, eps, step, 0));
        float[] w1 = dW.Read<float>(count), s1 = dS.Read<float>(count);
        float clr = lr / (1f + (step - 1) * decay);
        for (int i = 0; i < count; i++)
        {
            float gi = g[i] + wd * w[i];
            float si = s[i] + gi * gi;
            Assert.Equal(si, s1[i]);
            Assert.Equal(w[i] - clr * gi / (MathF.Sqrt(si) + eps), w1[i]);
        }

        using var dW2 = Dev.Of(w);
        using var dV = Dev.Of(v);
        using var dB = Dev.Of(buf);
        using var dAvg = Dev.Of(avg);
        Ok(Kernels.dt_rmsprop_f32(dW2.F, dG.F, dV.F, dB.F, dAvg.F, count, lr, alpha, 1e-8f, wd, mom, 1, 0));
        float[] w2 = dW2.Read<float>(count), v2 = dV.Read<float>(count), b2 = dB.Read<float>(count), a2 = dAvg.Read<float>(count);
        float beta = 1f - alpha;
        for (int i = 0; i < count; i++)
        {
            float gi = g[i] + wd * w[i];
            float vi = alpha * v[i] + beta * gi * gi;
            float m = alpha * avg[i] + beta * gi;
            float d = MathF.Sqrt(vi - m * m) + 1e-8f;
            float b = mom * buf[i] + gi / d;
            Assert.Equal(vi, v2[i]);
            Assert.Equal(m, a2[i]);
            Assert.Equal(b, b2[i]);
            Assert.Equal(w[i] - lr * b, w2[i]);
        }

        float[] wp = [.. Rand(100, 23), 0f, -0f];
        float[] gp = Rand(wp.Length, 24);
        using var dWp = Dev.Of(wp);
        using var dGp = Dev.Of(gp);
        Ok(Kernels.dt_penalty_grad_f32(dWp.F, dGp.F, wp.Length, l1, l2, 0));
        float[] gq = dGp.Read<float>(wp.Length);
        for (int i = 0; i < wp.Length; i++)
        {
            float sign = wp[i] > 0 ? 1f : wp[i] < 0 ? -1f : 0f;
            Assert.Equal(gp[i] + (l1 * sign + l2 * wp[i]), gq[i]);
        }
    }

    [Fact]
    public void SgdAndAdam_UseTheHostStep_WhenTheDeviceCounterIsNull()
    {
        RequireGpu();
        const int count = 300;
        float[] w = Rand(count, 25), g = Rand(count, 26, 0.1f), b = Rand(count, 27, 0.1f);
        const float lr = 0.1f, mu = 0.9f;
        using var dW = Dev.Of(w);
        using var dG = Dev.Of(g);
        using var dB = Dev.Of(b);
        // Step 1: PyTorch's buffer starts as the gradient, whatever it held.
        Ok(Kernels.dt_sgd_f32(dW.F, dG.F, dB.F, null, 0, count, lr, mu, 0f, 0f, 0, 0, null, 1, null, 0));
        float[] b1 = dB.Read<float>(count), w1 = dW.Read<float>(count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(g[i], b1[i]);
            Assert.Equal(w[i] - lr * g[i], w1[i], 1e-6f);
        }
        // Step 2: b = μ·b + g.
        Ok(Kernels.dt_sgd_f32(dW.F, dG.F, dB.F, null, 0, count, lr, mu, 0f, 0f, 0, 0, null, 2, null, 0));
        float[] b2 = dB.Read<float>(count);
        for (int i = 0; i < count; i++) Assert.Equal(mu * g[i] + g[i], b2[i], 1e-6f);

        // Adam at host step 3 from zero moments: the bias corrections of t = 3, not t = 1.
        var zeros = new float[count];
        using var dW3 = Dev.Of(w);
        using var dM = Dev.Of(zeros);
        using var dV = Dev.Of(zeros);
        const float b1c = 0.9f, b2c = 0.999f, eps = 1e-8f, alr = 1e-3f;
        Ok(Kernels.dt_adam_f32(dW3.F, dG.F, dM.F, dV.F, null, 0, count, alr, b1c, b2c, eps, 0f, 1, null, 3, null, 0));
        float[] w3 = dW3.Read<float>(count);
        double bc1 = 1 - Math.Pow(b1c, 3), bc2 = 1 - Math.Pow(b2c, 3);
        for (int i = 0; i < count; i++)
        {
            double m = (1 - b1c) * (double)g[i], v = (1 - b2c) * (double)g[i] * g[i];
            double expected = w[i] - alr / bc1 * m / (Math.Sqrt(v) / Math.Sqrt(bc2) + eps);
            Assert.Equal(expected, w3[i], 1e-6);
        }
    }

    // ---- loss scaling (issue 9) -------------------------------------------------------------------------

    /// <summary>
    /// A static scale (growth 1, backoff 1, interval int.MaxValue) on real memory: a clean step counts and leaves the scale,
    /// the tracker at int.MaxValue − 1 (and at int.MaxValue itself) restarts at 0 without overflowing, an overflow keeps
    /// the scale and clears the flag. The layout is LossScalerState's: scale f32, tracker i32, found-inf i32, step i64.
    /// </summary>
    [Fact]
    public void UpdateScale_StaticScale_CountsWithoutOverflow_AndNeverMoves()
    {
        RequireGpu();
        using var scale = Dev.Of(new[] { 1024f });
        using var tracker = Dev.Of(new[] { int.MaxValue - 1 });
        using var found = Dev.Of(new[] { 0 });
        using var steps = Dev.Of(new[] { 5L });
        Ok(Kernels.dt_update_scale(scale.F, (int*)tracker.Ptr, (int*)found.Ptr, (long*)steps.Ptr, 1f, 1f, int.MaxValue, 0));
        Assert.Equal((1024f, 0, 0, 6L), (scale.Read<float>(1)[0], tracker.Read<int>(1)[0], found.Read<int>(1)[0], steps.Read<long>(1)[0]));

        using var atMax = Dev.Of(new[] { int.MaxValue });
        Ok(Kernels.dt_update_scale(scale.F, (int*)atMax.Ptr, (int*)found.Ptr, (long*)steps.Ptr, 1f, 1f, int.MaxValue, 0));
        Assert.Equal(0, atMax.Read<int>(1)[0]);

        using var overflow = Dev.Of(new[] { 1 });
        Ok(Kernels.dt_update_scale(scale.F, (int*)tracker.Ptr, (int*)overflow.Ptr, (long*)steps.Ptr, 1f, 1f, int.MaxValue, 0));
        Assert.Equal((1024f, 0, 0, 7L), (scale.Read<float>(1)[0], tracker.Read<int>(1)[0], overflow.Read<int>(1)[0], steps.Read<long>(1)[0]));
    }

    /// <summary>More tensors than grid.y holds (65535): the launcher batches, and every tensor is unscaled, the last one too.</summary>
    [Fact]
    public void UnscaleMulti_MoreTensorsThanGridY_UnscalesEveryOne()
    {
        RequireGpu();
        const int tensors = 65535 + 2;
        var values = new float[tensors * 2];
        for (int i = 0; i < values.Length; i++) values[i] = i % 7 - 3;
        using var data = Dev.Of(values);
        var ptrs = new long[tensors];
        var sizes = new long[tensors];
        for (int t = 0; t < tensors; t++) { ptrs[t] = (long)(data.F + 2 * t); sizes[t] = 2; }
        using var dPtrs = Dev.Of(ptrs);
        using var dSizes = Dev.Of(sizes);
        using var scale = Dev.Of(new[] { 4f });
        using var found = Dev.Of(new[] { 0 });
        Ok(Kernels.dt_unscale_multi_f32((float**)dPtrs.Ptr, (long*)dSizes.Ptr, tensors, scale.F, (int*)found.Ptr, 0));
        Assert.Equal(values.Select(v => v / 4f).ToArray(), data.Read<float>(values.Length));
        Assert.Equal(0, found.Read<int>(1)[0]);
    }

    // ---- clip by global norm ---------------------------------------------------------------------------

    [Fact]
    public void GlobalNormSquared_IsDeterministic_AndScaleByNormClipsAsPyTorch()
    {
        RequireGpu();
        const int count = 3_000_000;   // well past one block: the two-stage path
        float[] x = Rand(count, 28, 0.01f);
        using var dX = Dev.Of(x);
        using var out2 = Dev.Of(new[] { -1f, -1f });
        Ok(Kernels.dt_global_norm_sq_f32(dX.F, count, out2.F, 0));
        Ok(Kernels.dt_global_norm_sq_f32(dX.F, count, out2.F + 1, 0));
        float[] r = out2.Read<float>(2);
        double sum = 0;
        foreach (float v in x) sum += (double)v * v;
        Assert.Equal(sum, r[0], sum * 1e-6);
        Assert.Equal(BitConverter.SingleToInt32Bits(r[0]), BitConverter.SingleToInt32Bits(r[1]));

        // Clip to max_norm = half the norm: g·c with c = max/(‖g‖ + 1e-6), in fp32.
        float norm = MathF.Sqrt(r[0]), maxNorm = norm / 2;
        Ok(Kernels.dt_scale_by_norm_f32(dX.F, count, out2.F, maxNorm, 1e-6f, 0));
        float c = maxNorm / (norm + 1e-6f);
        float[] clipped = dX.Read<float>(count);
        for (int i = 0; i < count; i += 997) Assert.Equal(x[i] * c, clipped[i]);
        // A norm under max_norm leaves g as it is.
        Ok(Kernels.dt_scale_by_norm_f32(dX.F, count, out2.F, norm * 4, 1e-6f, 0));
        Assert.Equal(clipped, dX.Read<float>(count));

        using var empty = Dev.Of(new[] { 5f });
        Ok(Kernels.dt_global_norm_sq_f32(dX.F, 0, empty.F, 0));
        Assert.Equal(0f, empty.Read<float>(1)[0]);
    }

    // ---- softmax cross-entropy -------------------------------------------------------------------------

    [Fact]
    public void SoftmaxXent_WritesLossAndCorrect_FoldsBothScales_AndRunsInPlace()
    {
        RequireGpu();
        const int n = 37, k = 11;
        float[] z = Rand(n * k, 29, 5f);
        var labels = new int[n];
        var rnd = new Random(30);
        for (int i = 0; i < n; i++) labels[i] = rnd.Next(k);
        labels[0] = Array.IndexOf(z, z.Take(k).Max());   // at least one hit
        using var dZ = Dev.Of(z);
        using var dL = Dev.Of(labels);
        using var outs = Dev.Of(new[] { 100f, 100f, 2f });   // loss, correct, device scale
        using var dz = new Dev(n * k * 4);
        Ok(Kernels.dt_softmax_xent_f32(dZ.F, (int*)dL.Ptr, n, k, outs.F, dz.F, outs.F + 1, outs.F + 2, 0.25f, null, 0));
        float[] o = outs.Read<float>(2), grad = dz.Read<float>(n * k);
        double total = 0;
        int hits = 0;
        for (int r = 0; r < n; r++)
        {
            var row = z.AsSpan(r * k, k);
            float m = float.NegativeInfinity;
            int argmax = 0;
            for (int j = 0; j < k; j++) if (row[j] > m) { m = row[j]; argmax = j; }
            double s = 0;
            for (int j = 0; j < k; j++) s += Math.Exp(row[j] - m);
            total += m + Math.Log(s) - row[labels[r]];
            hits += argmax == labels[r] ? 1 : 0;
            for (int j = 0; j < k; j++)
            {
                double expected = 2 * 0.25 / n * (Math.Exp(row[j] - m) / s - (j == labels[r] ? 1 : 0));
                Assert.Equal(expected, grad[r * k + j], 1e-6);
            }
        }
        Assert.Equal(total / n, o[0], total / n * 1e-6);
        Assert.Equal((float)hits, o[1]);

        // In place (dlogits = logits), no device scale: the same gradient up to the scale.
        Ok(Kernels.dt_softmax_xent_f32(dZ.F, (int*)dL.Ptr, n, k, outs.F, dZ.F, null, null, 0.5f, null, 0));
        float[] inPlace = dZ.Read<float>(n * k);
        for (int i = 0; i < n * k; i++) Assert.Equal(grad[i], inPlace[i], 1e-7f);
        Assert.Equal(BitConverter.SingleToInt32Bits(o[0]), BitConverter.SingleToInt32Bits(outs.Read<float>(1)[0]));

        // No rows: the loss is NaN and no row was correct, both written.
        Ok(Kernels.dt_softmax_xent_f32(dZ.F, (int*)dL.Ptr, 0, k, outs.F, null, outs.F + 1, null, 1f, null, 0));
        o = outs.Read<float>(2);
        Assert.True(float.IsNaN(o[0]));
        Assert.Equal(0f, o[1]);
    }
}

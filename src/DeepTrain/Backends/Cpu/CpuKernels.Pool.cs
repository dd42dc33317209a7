namespace DeepTrain.Backends.Cpu;

// 2-D pooling of one (n, c) plane (PyTorch's MaxPool2d / AvgPool2d, floor mode; the CPU kernels
// max_pool2d_with_indices and avg_pool2d). A plane is addressed by element strides, so the same code
// reads NCHW (strideH = W, strideW = 1) and NHWC (strideH = W·C, strideW = C). For output (oh, ow) the
// window is rows [oh·sH − pH, oh·sH − pH + kH) × columns [ow·sW − pW, ow·sW − pW + kW), clipped to the input.
//   max:        y = the window's maximum; its index is the first maximum in row-major order, and a NaN
//               wins (PyTorch: `if (val > maxval || isnan(val))`), so the gradient goes there.
//   average:    y = Σ window / d with d = kH·kW (count_include_pad=True; the window clipped to the padded
//               input, which in floor mode is always the full kernel) or d = the in-bounds count (False).
internal static partial class CpuKernels
{
    /// <summary>y = pool(x) over one plane; see the file header for the window and tie rules.</summary>
    /// <exception cref="ArgumentException">A span is too short for its plane.</exception>
    public static void Pool2dPlane(PoolSpec spec, ReadOnlySpan<float> x, int h, int w, int xStrideH, int xStrideW,
        Span<float> y, int outH, int outW, int yStrideH, int yStrideW)
    {
        CheckPlane(x.Length, h, w, xStrideH, xStrideW, nameof(x));
        CheckPlane(y.Length, outH, outW, yStrideH, yStrideW, nameof(y));
        for (int oh = 0; oh < outH; oh++)
            for (int ow = 0; ow < outW; ow++)
            {
                var win = Window(spec, h, w, oh, ow);
                float v;
                if (spec.Mode == PoolMode.Max) v = x[ArgMax(x, win, xStrideH, xStrideW)];
                else
                {
                    float s = 0;
                    for (int ih = win.H0; ih < win.H1; ih++)
                        for (int iw = win.W0; iw < win.W1; iw++) s += x[ih * xStrideH + iw * xStrideW];
                    v = s / win.Divisor(spec.Mode);
                }
                y[oh * yStrideH + ow * yStrideW] = v;
            }
    }

    /// <summary>
    /// dx += the pooling gradient of one plane (dx has x's strides): max sends dy to the window's first
    /// maximum of x; average spreads dy/d over the in-bounds window.
    /// </summary>
    /// <exception cref="ArgumentException">A span is too short for its plane.</exception>
    public static void Pool2dPlaneBackward(PoolSpec spec, ReadOnlySpan<float> x, int h, int w, int xStrideH, int xStrideW,
        ReadOnlySpan<float> dy, int outH, int outW, int yStrideH, int yStrideW, Span<float> dx)
    {
        CheckPlane(x.Length, h, w, xStrideH, xStrideW, nameof(x));
        CheckPlane(dx.Length, h, w, xStrideH, xStrideW, nameof(dx));
        CheckPlane(dy.Length, outH, outW, yStrideH, yStrideW, nameof(dy));
        for (int oh = 0; oh < outH; oh++)
            for (int ow = 0; ow < outW; ow++)
            {
                var win = Window(spec, h, w, oh, ow);
                float g = dy[oh * yStrideH + ow * yStrideW];
                if (spec.Mode == PoolMode.Max) dx[ArgMax(x, win, xStrideH, xStrideW)] += g;
                else
                {
                    g /= win.Divisor(spec.Mode);
                    for (int ih = win.H0; ih < win.H1; ih++)
                        for (int iw = win.W0; iw < win.W1; iw++) dx[ih * xStrideH + iw * xStrideW] += g;
                }
            }
    }

    /// <summary>The clipped window [H0, H1) × [W0, W1) and PyTorch's padded pool size.</summary>
    private readonly record struct PoolWindow(int H0, int H1, int W0, int W1, int PaddedSize)
    {
        public float Divisor(PoolMode mode) => mode == PoolMode.AverageIncludePad ? PaddedSize : (H1 - H0) * (W1 - W0);
    }

    private static PoolWindow Window(PoolSpec s, int h, int w, int oh, int ow)
    {
        int h0 = oh * s.StrideH - s.PadH, w0 = ow * s.StrideW - s.PadW;
        int h1 = Math.Min(h0 + s.KernelH, h + s.PadH), w1 = Math.Min(w0 + s.KernelW, w + s.PadW);
        int padded = (h1 - h0) * (w1 - w0);
        return new PoolWindow(Math.Max(h0, 0), Math.Min(h1, h), Math.Max(w0, 0), Math.Min(w1, w), padded);
    }

    /// <summary>Index of the first maximum of the window (a NaN counts as the maximum, as in PyTorch).</summary>
    private static int ArgMax(ReadOnlySpan<float> x, PoolWindow win, int strideH, int strideW)
    {
        int best = win.H0 * strideH + win.W0 * strideW;
        float max = float.NegativeInfinity;
        for (int ih = win.H0; ih < win.H1; ih++)
            for (int iw = win.W0; iw < win.W1; iw++)
            {
                int i = ih * strideH + iw * strideW;
                float v = x[i];
                if (v > max || float.IsNaN(v)) { max = v; best = i; }
            }
        return best;
    }

    private static void CheckPlane(int length, int h, int w, int strideH, int strideW, string name)
    {
        if (h > 0 && w > 0 && (long)(h - 1) * strideH + (long)(w - 1) * strideW >= length) CheckLength(h * w, length, name);
    }
}

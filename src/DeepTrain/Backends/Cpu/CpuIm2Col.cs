using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DeepTrain.Backends.Cpu;

/// <summary>
/// im2col and its adjoint col2im (Chellapilla, Puri &amp; Simard, "High Performance Convolutional
/// Neural Networks for Document Processing", 2006; Caffe's im2col_cpu). For one image and one group:
/// <code>
/// col[(c·R + r)·S + s, oh·OW + ow] = x[c, oh·strideH − padH + r·dilH, ow·strideW − padW + s·dilW]   (0 outside)
/// </code>
/// so the convolution becomes y (K, OH·OW) = w (K, C·R·S) · col. The input is addressed by element
/// strides, so NCHW and NHWC share the code; col is always row-major (C·R·S, OH·OW).
/// </summary>
internal static unsafe class CpuIm2Col
{
    /// <summary>The range [lo, hi) of output columns whose input column ow·stride + off lies in [0, w).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Lo, int Hi) ValidRange(int outSize, int stride, int off, int size)
    {
        int lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
        int hi = size - 1 - off < 0 ? 0 : Math.Min(outSize, (size - 1 - off) / stride + 1);
        lo = Math.Min(lo, outSize);
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>Fills col (C·R·S, OH·OW) from x (C, H, W) with strides (sC, sH, sW).</summary>
    public static void Im2Col(float* x, nint sC, nint sH, nint sW, int c, int h, int w, int r, int s,
        in ConvSpec sp, int oh, int ow, float* col)
    {
        nint p = (nint)oh * ow;
        for (int ci = 0; ci < c; ci++)
            for (int ri = 0; ri < r; ri++)
            {
                int offH = ri * sp.DilationH - sp.PadH;
                for (int si = 0; si < s; si++)
                {
                    float* d = col + ((ci * r + ri) * s + si) * p;
                    int offW = si * sp.DilationW - sp.PadW;
                    var (lo, hi) = ValidRange(ow, sp.StrideW, offW, w);
                    for (int y = 0; y < oh; y++, d += ow)
                    {
                        int ih = y * sp.StrideH + offH;
                        if ((uint)ih >= (uint)h)
                        {
                            Zero(d, ow);
                            continue;
                        }
                        for (int xo = 0; xo < lo; xo++) d[xo] = 0f;
                        for (int xo = hi; xo < ow; xo++) d[xo] = 0f;
                        float* src = x + ci * sC + ih * sH + (nint)offW * sW;
                        if (sp.StrideW == 1 && sW == 1)
                            Copy(d + lo, src + lo, hi - lo);
                        else
                        {
                            nint step = sp.StrideW * sW;
                            for (int xo = lo; xo < hi; xo++) d[xo] = src[xo * step];
                        }
                    }
                }
            }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: dx (C, H, W) += scatter of dcol (C·R·S, OH·OW).</summary>
    public static void Col2ImAdd(float* dcol, int c, int h, int w, int r, int s,
        in ConvSpec sp, int oh, int ow, float* dx, nint sC, nint sH, nint sW)
    {
        nint p = (nint)oh * ow;
        for (int ci = 0; ci < c; ci++)
            for (int ri = 0; ri < r; ri++)
            {
                int offH = ri * sp.DilationH - sp.PadH;
                for (int si = 0; si < s; si++)
                {
                    float* d = dcol + ((ci * r + ri) * s + si) * p;
                    int offW = si * sp.DilationW - sp.PadW;
                    var (lo, hi) = ValidRange(ow, sp.StrideW, offW, w);
                    for (int y = 0; y < oh; y++, d += ow)
                    {
                        int ih = y * sp.StrideH + offH;
                        if ((uint)ih >= (uint)h) continue;
                        float* dst = dx + ci * sC + ih * sH + (nint)offW * sW;
                        nint step = sp.StrideW * sW;
                        if (step == 1)
                            AddInto(dst + lo, d + lo, hi - lo);
                        else
                            for (int xo = lo; xo < hi; xo++) dst[xo * step] += d[xo];
                    }
                }
            }
    }

    /// <summary>dst[i] += src[i] for i in [0, n): a Vector256 body and a scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AddInto(float* dst, float* src, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8)
                Vector256.Store(Vector256.Load(dst + i) + Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] += src[i];
    }

    /// <summary>dst[i] = src[i]. Rows here are short (7 to 32 floats), so a call into Memmove costs more than
    /// the copy: an inline vector loop with a scalar tail instead.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(float* dst, float* src, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i), dst + i);
        for (; i < n; i++) dst[i] = src[i];
    }

    /// <summary>dst[i] = 0 for i in [0, n): a Vector256 body and a scalar tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Zero(float* dst, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256<float>.Zero, dst + i);
        for (; i < n; i++) dst[i] = 0f;
    }

    // ---- implicit im2col ------------------------------------------------------------------
    // Stride 1: with the input zero-padded to (C, Hp, Wp), Hp = H + 2·padH, Wp = W + 2·padW, compute the
    // output over the padded width, p' = oh·Wp + ow for ow in [0, Wp). Then
    //   col[(c, r, s), p'] = xpad[c·Hp·Wp + r·dilH·Wp + s·dilW + p']
    // so every row of the column matrix is a contiguous window of xpad at a fixed offset, and the GEMM can
    // read xpad directly (CpuGemm's row-offset operands). Columns ow ≥ OW are garbage the caller drops; for
    // valid ow the window never wraps, since ow + (S − 1)·dilW ≤ Wp − 1.
    // Stride (sh, sw): split xpad into sh·sw phase planes, plane (ph, pw)[i, j] = xpad[i·sh + ph, j·sw + pw],
    // each (Hq, Wq) = (⌈Hp/sh⌉, ⌈Wp/sw⌉). Tap (r, s) reads plane ((r·dilH) mod sh, (s·dilW) mod sw) at
    // (oh + ⌊r·dilH/sh⌋, ow + ⌊s·dilW/sw⌋): again one contiguous window per row, now of width Wq.
    // Shared padding (stride 1 along W, padW ≤ dilW·(S − 1)): rows keep only their left padding, Wq = W + padW.
    // A window that runs past a row's end reads the next row's first padW columns — zeros, exactly the right
    // padding it needs — so the GEMM computes OH·(W + padW) columns instead of OH·(W + 2·padW): for a 3×3
    // convolution over 7×7 that is 56 columns per 49 outputs rather than 63.

    /// <summary>The zero-padded, phase-split image of one convolution input, and where each col row starts in it.</summary>
    public readonly struct Phases
    {
        public readonly int C, H, W, PadH, PadW, StrideH, StrideW, R, S, DilH, DilW;
        /// <summary>Phase-plane size.</summary>
        public readonly int Hq, Wq;
        /// <summary>Output size (rows of width <see cref="Wq"/>, of which the first OW are valid).</summary>
        public readonly int OH, OW;

        public Phases(int c, int h, int w, int r, int s, int padH, int padW, int strideH, int strideW, int dilH, int dilW)
        {
            C = c; H = h; W = w; R = r; S = s; PadH = padH; PadW = padW; StrideH = strideH; StrideW = strideW; DilH = dilH; DilW = dilW;
            int hp = h + 2 * padH, wp = w + 2 * padW;
            Hq = (hp + strideH - 1) / strideH;
            Wq = strideW == 1 && padW <= dilW * (s - 1) ? w + padW : (wp + strideW - 1) / strideW;
            OH = (hp - dilH * (r - 1) - 1) / strideH + 1;
            OW = (wp - dilW * (s - 1) - 1) / strideW + 1;
        }

        /// <summary>Columns of the implicit col matrix: OH rows of Wq.</summary>
        public int Columns => OH * Wq;

        /// <summary>Floats <see cref="Pad"/> writes: the planes plus the tail the last windows read past.</summary>
        public long Size => (long)C * StrideH * StrideW * Hq * Wq + Tail;

        /// <summary>Zeros after the last plane: the last row's windows read up to (S − 1)·dilW past it, and with shared padding its right padding lies there.</summary>
        private int Tail => (S - 1) * DilW / StrideW + PadW + 8;

        /// <summary>Fills dst with the phase planes of x (C, H, W) with strides (sC, sH, sW); zero where padded.</summary>
        public void Pad(float* x, nint sC, nint sH, nint sW, float* dst)
        {
            float* d = dst;
            for (int ci = 0; ci < C; ci++)
                for (int ph = 0; ph < StrideH; ph++)
                    for (int pw = 0; pw < StrideW; pw++)
                    {
                        // plane[i, j] = x[i·sh + ph − padH, j·sw + pw − padW]
                        var (lo, hi) = ValidRange(Wq, StrideW, pw - PadW, W);
                        for (int i = 0; i < Hq; i++, d += Wq)
                        {
                            int ih = i * StrideH + ph - PadH;
                            if ((uint)ih >= (uint)H) { Zero(d, Wq); continue; }
                            for (int j = 0; j < lo; j++) d[j] = 0f;
                            for (int j = hi; j < Wq; j++) d[j] = 0f;
                            float* src = x + ci * sC + ih * sH + (nint)(pw - PadW) * sW;
                            if (StrideW == 1 && sW == 1) Copy(d + lo, src + lo, hi - lo);
                            else
                            {
                                nint step = StrideW * sW;
                                for (int j = lo; j < hi; j++) d[j] = src[j * step];
                            }
                        }
                    }
            Zero(d, Tail);
        }

        /// <summary>off[(c·R + r)·S + s]: where row (c, r, s) of the implicit col matrix starts in the planes.</summary>
        public void RowOffsets(int* off)
        {
            int plane = Hq * Wq;
            for (int ci = 0; ci < C; ci++)
                for (int ri = 0; ri < R; ri++)
                    for (int si = 0; si < S; si++)
                    {
                        int dr = ri * DilH, ds = si * DilW;
                        *off++ = ((ci * StrideH + dr % StrideH) * StrideW + ds % StrideW) * plane + dr / StrideH * Wq + ds / StrideW;
                    }
        }
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepTrain.Backends.Cpu;

// Direct convolution for inference at small spatial sizes (the 14×14 and 7×7 stages of a batch-1 CIFAR ResNet and their
// stride-2 entries), where im2col's GEMM and Winograd's 16 shallow GEMMs both run far below the FMA peak: ONNX Runtime's NCHWc
// kernels did the 64→64 7×7 convolution in about 20 µs where Winograd took 34 µs (benchmarks/README.md, "Batch-1 inference").
//
// Each block of work is 32 output channels × 8 output pixels, 16 Vector512 accumulators (two 16-channel vectors per pixel):
// for every tap (c, r, s) in order, the two weight vectors w[k0..k0+32, c, r, s] are loaded and each of the 8 pixels' input
// value x[c, oy·sh + r·dh, ox·sw + s·dw] is broadcast into two FMAs. The input is first copied once per call into a
// zero-padded image (so every tap reads memory and no tap needs a bound check), the weights are laid out once at load as
// [K/32][C][R][S][32] (CpuDirectWeights). Pixels are flattened over (oy, ox), so a block may span output rows and any output
// size keeps all 8 lanes of work busy but the last block's. The epilogue adds the bias, the residual (an inference plan's
// fused Add) and applies the ReLU, and writes the block's 32 channel rows of 8 contiguous pixels.
//
// The kernel's methods are compiled optimised at once (AggressiveOptimization, as CpuGemm's kernels and Winograd's transforms
// are): tier-0 code took a batch-1 ResNet-20 pass 1.5–13 ms in a session's first requests against 0.5 ms.
//
// Every output element is Σ over (c, r, s) in that order from 0, by fused multiply-adds, then + bias, + residual, ReLU:
// the same arithmetic whatever block, item or thread computes it, so results do not depend on the thread count.
internal static unsafe class CpuDirectConv
{
    /// <summary>Output channels per block: two Vector512.</summary>
    public const int KBlock = 32;

    /// <summary>Output pixels per block.</summary>
    public const int PBlock = 8;

    /// <summary>The smallest call (flops) that is split over threads (as <see cref="CpuWinograd.SplitMinFlops"/>).</summary>
    /// <remarks>Settable for measurements (InferenceBench's <c>--split-min-flops</c>); the library never changes it.</remarks>
    public static long SplitMinFlops { get; set; } = 8L << 20;

    /// <summary>
    /// Whether this path computes the convolution: one group, output channels a multiple of <see cref="KBlock"/>, and AVX-512
    /// (the kernel is written for it).
    /// </summary>
    public static bool Fits(in ConvGeometry g) => g.G == 1 && g.K % KBlock == 0 && Available;

    /// <summary>Whether this machine runs the kernel (AVX-512).</summary>
    public static bool Available => Avx512F.IsSupported;

    /// <summary>Floats the direct layout of a (K, C, R, S) weight takes.</summary>
    public static long Floats(int k, int crs) => (long)k * crs;

    /// <summary>dst[kb][i][l] = w[(kb·32 + l)·crs + i]: the (K, C·R·S) weights as 32-channel columns, tap by tap.</summary>
    public static void Pack(float* w, int k, int crs, float* dst)
    {
        for (int kb = 0; kb < k / KBlock; kb++)
            for (int i = 0; i < crs; i++)
                for (int l = 0; l < KBlock; l++)
                    dst[((long)kb * crs + i) * KBlock + l] = w[((long)kb * KBlock + l) * crs + i];
    }

    /// <summary>
    /// y (N, K, OH, OW) = conv(x (N, C, H, W), w) (+ bias[k]) (+ residual), then max(·, 0) when <paramref name="relu"/> is set.
    /// <paramref name="packedW"/> is <see cref="Pack"/>'s layout of w; y and <paramref name="residual"/> (null: none) are dense
    /// NCHW; x is read through its strides. One group.
    /// </summary>
    public static void Convolve(CpuWinograd.Strided x, in ConvGeometry g, float* packedW, float* bias, float* residual, float* y, bool relu)
    {
        var s = g.Spec;
        int hp = g.H + 2 * s.PadH, wp = g.W + 2 * s.PadW;
        long image = (long)g.C * hp * wp;
        var scratch = CpuScratch.Current;
        // The padded images, the pixels' offsets in a padded image and the taps' offsets from a pixel's; read by every worker.
        float* xp = scratch.Get(CpuScratch.Slot.Columns, g.N * image);
        int* offsets = (int*)scratch.Get(CpuScratch.Slot.Offsets, g.P + g.Crs);
        int* taps = offsets + g.P;
        for (int n = 0; n < g.N; n++) Pad(x, n, g.C, g.H, g.W, s.PadH, s.PadW, xp + n * image, hp, wp);
        for (int oy = 0, p = 0; oy < g.OH; oy++)
            for (int ox = 0; ox < g.OW; ox++) offsets[p++] = oy * s.StrideH * wp + ox * s.StrideW;
        for (int c = 0, i = 0; c < g.C; c++)
            for (int r = 0; r < g.R; r++)
                for (int q = 0; q < g.S; q++) taps[i++] = c * hp * wp + r * s.DilationH * wp + q * s.DilationW;
        int pixelBlocks = (g.P + PBlock - 1) / PBlock, kBlocks = g.K / KBlock;
        int items = g.N * kBlocks * pixelBlocks;
        long costPerItem = 2L * KBlock * PBlock * g.Crs;
        var body = new Body(xp, image, offsets, taps, g.Crs, g.P, g.K, pixelBlocks, kBlocks, packedW, bias, residual, y, relu);
        if (costPerItem * items < SplitMinFlops) body.Run(0, items);
        else CpuParallel.For(items, costPerItem, body);
    }

    /// <summary>Image <paramref name="n"/> of x into a zero-padded (C, hp, wp) copy at <paramref name="dst"/>.</summary>
    private static void Pad(CpuWinograd.Strided x, int n, int c, int h, int w, int padH, int padW, float* dst, int hp, int wp)
    {
        new Span<float>(dst, c * hp * wp).Clear();
        for (int ci = 0; ci < c; ci++)
            for (int yy = 0; yy < h; yy++)
            {
                float* src = x.P + n * x.N + ci * x.C + yy * x.H;
                float* d = dst + ((long)ci * hp + yy + padH) * wp + padW;
                if (x.W == 1) CpuIm2Col.Copy(d, src, w);
                else for (int xx = 0; xx < w; xx++) d[xx] = src[xx * x.W];
            }
    }

    /// <summary>Items [start, end): item = (image, 32-channel block, 8-pixel block), pixel blocks innermost.</summary>
    private readonly struct Body(float* xp, long image, int* offsets, int* taps, int crs, int pixels, int k, int pixelBlocks, int kBlocks,
        float* packedW, float* bias, float* residual, float* y, bool relu) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int start, int end)
        {
            float* tile = stackalloc float[PBlock * KBlock];
            for (int item = start; item < end; item++)
            {
                int pb = item % pixelBlocks, rest = item / pixelBlocks;
                int kb = rest % kBlocks, n = rest / kBlocks;
                int p0 = pb * PBlock, count = Math.Min(PBlock, pixels - p0);
                Block(xp + n * image, p0, count, packedW + (long)kb * crs * KBlock, tile);
                long at = ((long)n * k + kb * KBlock) * pixels + p0;
                Epilogue(tile, count, kb * KBlock, y + at, residual == null ? null : residual + at);
            }
        }

        /// <summary>The 32 × 8 sums of one block into <paramref name="tile"/>[pixel][channel]; pixels past <paramref name="count"/> repeat the last.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Block(float* xn, int p0, int count, float* w, float* tile)
        {
            int last = p0 + count - 1;
            float* x0 = xn + offsets[p0], x1 = xn + offsets[Math.Min(p0 + 1, last)], x2 = xn + offsets[Math.Min(p0 + 2, last)];
            float* x3 = xn + offsets[Math.Min(p0 + 3, last)], x4 = xn + offsets[Math.Min(p0 + 4, last)], x5 = xn + offsets[Math.Min(p0 + 5, last)];
            float* x6 = xn + offsets[Math.Min(p0 + 6, last)], x7 = xn + offsets[Math.Min(p0 + 7, last)];
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
            int* t = taps;
            for (int i = 0; i < crs; i++, w += KBlock)
            {
                int o = t[i];
                var w0 = Vector512.Load(w);
                var w1 = Vector512.Load(w + 16);
                var v = Vector512.Create(x0[o]); a0 = Avx512F.FusedMultiplyAdd(w0, v, a0); b0 = Avx512F.FusedMultiplyAdd(w1, v, b0);
                v = Vector512.Create(x1[o]); a1 = Avx512F.FusedMultiplyAdd(w0, v, a1); b1 = Avx512F.FusedMultiplyAdd(w1, v, b1);
                v = Vector512.Create(x2[o]); a2 = Avx512F.FusedMultiplyAdd(w0, v, a2); b2 = Avx512F.FusedMultiplyAdd(w1, v, b2);
                v = Vector512.Create(x3[o]); a3 = Avx512F.FusedMultiplyAdd(w0, v, a3); b3 = Avx512F.FusedMultiplyAdd(w1, v, b3);
                v = Vector512.Create(x4[o]); a4 = Avx512F.FusedMultiplyAdd(w0, v, a4); b4 = Avx512F.FusedMultiplyAdd(w1, v, b4);
                v = Vector512.Create(x5[o]); a5 = Avx512F.FusedMultiplyAdd(w0, v, a5); b5 = Avx512F.FusedMultiplyAdd(w1, v, b5);
                v = Vector512.Create(x6[o]); a6 = Avx512F.FusedMultiplyAdd(w0, v, a6); b6 = Avx512F.FusedMultiplyAdd(w1, v, b6);
                v = Vector512.Create(x7[o]); a7 = Avx512F.FusedMultiplyAdd(w0, v, a7); b7 = Avx512F.FusedMultiplyAdd(w1, v, b7);
            }
            Vector512.Store(a0, tile); Vector512.Store(b0, tile + 16);
            Vector512.Store(a1, tile + 32); Vector512.Store(b1, tile + 48);
            Vector512.Store(a2, tile + 64); Vector512.Store(b2, tile + 80);
            Vector512.Store(a3, tile + 96); Vector512.Store(b3, tile + 112);
            Vector512.Store(a4, tile + 128); Vector512.Store(b4, tile + 144);
            Vector512.Store(a5, tile + 160); Vector512.Store(b5, tile + 176);
            Vector512.Store(a6, tile + 192); Vector512.Store(b6, tile + 208);
            Vector512.Store(a7, tile + 224); Vector512.Store(b7, tile + 240);
        }

        /// <summary>y[k0 + kk, p0 + j] = tile[j][kk] + bias (+ residual), ReLU, for the block's first <paramref name="count"/> pixels.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Epilogue(float* tile, int count, int k0, float* yk, float* rk)
        {
            if (count == PBlock && Avx2.IsSupported)
            {
                // A channel's 8 pixels are one gather down the tile's column; the same sums as the scalar loop below.
                var column = Vector256.Create(0, KBlock, 2 * KBlock, 3 * KBlock, 4 * KBlock, 5 * KBlock, 6 * KBlock, 7 * KBlock);
                for (int kk = 0; kk < KBlock; kk++)
                {
                    var v = Avx2.GatherVector256(tile + kk, column, sizeof(float)) + Vector256.Create(bias == null ? 0f : bias[k0 + kk]);
                    if (rk != null) v += Vector256.Load(rk + (long)kk * pixels);
                    if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
                    Vector256.Store(v, yk + (long)kk * pixels);
                }
                return;
            }
            for (int kk = 0; kk < KBlock; kk++)
            {
                float b = bias == null ? 0f : bias[k0 + kk];
                float* d = yk + (long)kk * pixels;
                float* r = rk == null ? null : rk + (long)kk * pixels;
                for (int j = 0; j < count; j++)
                {
                    float v = tile[j * KBlock + kk] + b;
                    if (r != null) v += r[j];
                    d[j] = relu ? MathF.Max(v, 0f) : v;
                }
            }
        }
    }
}

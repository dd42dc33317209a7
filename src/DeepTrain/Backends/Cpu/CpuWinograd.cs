using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepTrain.Backends.Cpu;

// Winograd convolution F(2×2, 3×3) for 3×3, stride 1, dilation 1, ungrouped convolutions (Lavin and Gray, "Fast Algorithms
// for Convolutional Neural Networks", CVPR 2016, §4.1). Each 2×2 block of outputs (a tile) is computed from the 4×4 patch of
// input d it reads, through 16 transformed positions ξ = (a, b):
//
//   U_ξ[k, c] = (G g[k, c] Gᵀ)_ab            G  (4×3) = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]      (weights, once per call, or once per inference session)
//   V_ξ[c, t] = (Bᵀ d[c, t] B)_ab            Bᵀ (4×4) = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//   M_ξ (K, T) = U_ξ (K, C) · V_ξ (C, T)     16 GEMMs over the channels (CpuGemm, U packed once)
//   y[k, t]   = Aᵀ m[k, t] A (+ bias, ReLU)  Aᵀ (2×4) = [1 1 1 0; 0 1 −1 −1]
//
// 16 multiplications per output pair of channels instead of 36: 2.25× fewer GEMM flops than im2col, for transforms that
// cost O(C·T + K·T). The fp32 error is a few times im2col's (the transforms add and subtract ±½-scaled terms before the
// products; CpuWinogradTests measures both against a double-precision reference). F(4×4, 3×3) would save 4× but its
// transform constants (up to ±8, ±¼) grow the error by another order of magnitude; it is not implemented.
//
// Work: tiles are taken in blocks of whole tile rows of one image (sized so a block's V and M stay in L2), and a block's
// output channels may be split into chunks of MR rows, so a batch of one still spreads over the threads (batch-1 inference).
// Every output element is computed by the same arithmetic whichever block or chunk it falls in (the GEMM sums over all C
// channels in the same order, the transforms are per tile), so results do not depend on the thread count at all.
// The transforms run 16 tiles of one tile row per Vector512: the patch columns 2j, 2j+1, 2j+2, 2j+3 of 16 tiles are the
// even and odd elements of two 32-float loads from a zero-padded copy of the input row, picked by one vpermt2ps each.
// Tensors are read and written through their element strides, so NCHW and NHWC both run (NHWC through scalar copies).
internal static unsafe class CpuWinograd
{
    /// <summary>Transformed positions per tile: the 4×4 input patch.</summary>
    public const int Positions = 16;

    /// <summary>Tiles per vector: the transforms run 16 tiles of one tile row per Vector512.</summary>
    private const int Lanes = 16;

    /// <summary>Floats of V and M (16 positions · (C + K) channels · tiles) one block may hold: 512 KiB, half a Zen 5 L2.</summary>
    private const int BlockFloats = 128 * 1024;

    /// <summary>The smallest call (GEMM flops) that is split over threads.</summary>
    /// <remarks>Settable for measurements (InferenceBench's <c>--split-min-flops</c>); the library never changes it.</remarks>
    public static long SplitMinFlops { get; set; } = 8L << 20;

    /// <summary>Whether the convolution's geometry is one this path computes: 3×3, stride 1, dilation 1, one group.</summary>
    public static bool Fits(in ConvGeometry g)
        => g.R == 3 && g.S == 3 && g.G == 1 && g.Spec.StrideH == 1 && g.Spec.StrideW == 1 && g.Spec.DilationH == 1 && g.Spec.DilationW == 1;

    /// <summary>Floats <see cref="TransformWeights"/> writes for <paramref name="kout"/> outputs and <paramref name="cin"/> inputs.</summary>
    public static long PackedSize(int kout, int cin) => Positions * CpuGemm.PackedASize(kout, cin);

    /// <summary>
    /// U_ξ = G g Gᵀ for every (output o, input i) pair, in fp32 (16 input channels per vector), each position's (kout, cin) matrix packed
    /// for <see cref="CpuGemm"/> at <paramref name="packed"/> + ξ·<see cref="CpuGemm.PackedASize"/>(kout, cin).
    /// g[o, i][r, s] = w[o·<paramref name="strideO"/> + i·<paramref name="strideI"/> + r·3 + s], or its 180° rotation
    /// w[… + (2 − r)·3 + (2 − s)] when <paramref name="rotate"/> is set (the data gradient's filter).
    /// <paramref name="scratch"/> holds 16·kout·cin floats.
    /// </summary>
    public static void TransformWeights(float* w, int kout, int cin, nint strideO, nint strideI, bool rotate, float* scratch, float* packed)
    {
        long plane = (long)kout * cin;
        float* g = stackalloc float[9 * Lanes];          // g[r·3 + s][lane]: 16 input channels side by side
        float* u = stackalloc float[Positions * Lanes];
        for (int o = 0; o < kout; o++)
            for (int i0 = 0; i0 < cin; i0 += Lanes)
            {
                int lanes = Math.Min(Lanes, cin - i0);
                for (int l = 0; l < Lanes; l++)
                {
                    float* src = w + o * strideO + (i0 + Math.Min(l, lanes - 1)) * strideI;
                    for (int e = 0; e < 9; e++) g[e * Lanes + l] = src[rotate ? 8 - e : e];
                }
                // (G g) (4×3): rows 0 and 3 are g's first and last rows, rows 1 and 2 are ½(g0 ± g1 + g2); then the same
                // combination along each row gives (G g) Gᵀ (4×4).
                var half = Vector512.Create(0.5f);
                for (int a = 0; a < 4; a++)
                {
                    Vector512<float> h0, h1, h2;
                    if (a == 0 || a == 3)
                    {
                        int r = a == 0 ? 0 : 2;
                        h0 = Vector512.Load(g + (3 * r) * Lanes); h1 = Vector512.Load(g + (3 * r + 1) * Lanes); h2 = Vector512.Load(g + (3 * r + 2) * Lanes);
                    }
                    else
                    {
                        var sign = a == 1 ? Vector512<float>.One : -Vector512<float>.One;
                        h0 = (Vector512.Load(g) + sign * Vector512.Load(g + 3 * Lanes) + Vector512.Load(g + 6 * Lanes)) * half;
                        h1 = (Vector512.Load(g + Lanes) + sign * Vector512.Load(g + 4 * Lanes) + Vector512.Load(g + 7 * Lanes)) * half;
                        h2 = (Vector512.Load(g + 2 * Lanes) + sign * Vector512.Load(g + 5 * Lanes) + Vector512.Load(g + 8 * Lanes)) * half;
                    }
                    Vector512.Store(h0, u + (4 * a) * Lanes);
                    Vector512.Store((h0 + h1 + h2) * half, u + (4 * a + 1) * Lanes);
                    Vector512.Store((h0 - h1 + h2) * half, u + (4 * a + 2) * Lanes);
                    Vector512.Store(h2, u + (4 * a + 3) * Lanes);
                }
                for (int xi = 0; xi < Positions; xi++)
                {
                    float* dst = scratch + xi * plane + (long)o * cin + i0;
                    if (lanes == Lanes) Vector512.Store(Vector512.Load(u + xi * Lanes), dst);
                    else for (int l = 0; l < lanes; l++) dst[l] = u[xi * Lanes + l];
                }
            }
        long per = CpuGemm.PackedASize(kout, cin);
        for (int xi = 0; xi < Positions; xi++)
            CpuGemm.PackAll(kout, cin, scratch + xi * plane, cin, 1, packed + xi * per);
    }

    /// <summary>A tensor's base pointer and (N, C, H, W) element strides.</summary>
    public readonly struct Strided(float* p, nint n, nint c, nint h, nint w)
    {
        public readonly float* P = p;
        public readonly nint N = n, C = c, H = h, W = w;
    }

    /// <summary>
    /// y (N, kout, OH, OW) = β·y + conv3×3(x (N, cin, H, W), packed U) (+ bias[k]) (+ <paramref name="residual"/>, of y's shape,
    /// when its pointer is not null), then max(·, 0) when <paramref name="relu"/> is set; stride 1, padding (padH, padW),
    /// OH = H + 2·padH − 2, OW = W + 2·padW − 2. <paramref name="packedU"/> is <see cref="TransformWeights"/>'s output for
    /// (kout, cin), read by every thread. <paramref name="beta"/> is 0 or 1.
    /// </summary>
    public static void Convolve(Strided x, int n, int cin, int h, int w, int padH, int padW, float* packedU, float* bias,
        Strided y, int kout, bool relu, float beta, Strided residual = default)
    {
        var plan = new Plan(n, cin, h, w, kout, padH, padW);
        // The GEMM reads V's rows in place: row c of position ξ starts at c·Ld.
        int* offs = (int*)CpuScratch.Current.Get(CpuScratch.Slot.Offsets, cin);
        for (int c = 0; c < cin; c++) offs[c] = c * plan.Ld;
        long costPerItem = 2L * Positions * cin * plan.KChunk * plan.RowsPerBlock * plan.TW;
        var body = new Body(plan, x, packedU, offs, y, bias, relu, beta, residual);
        if (plan.Inline) body.Run(0, plan.Items);
        else CpuParallel.For(plan.Items, costPerItem, body);
    }

    /// <summary>
    /// Tests: when positive, calls on this thread split their work as if the pool had this many threads (the results must not
    /// change, whatever the split).
    /// </summary>
    [ThreadStatic] internal static int t_partitionThreads;

    /// <summary>Floats of scratch one call of <see cref="Convolve"/> takes: per thread (V, M, padded rows, packing), and in all.</summary>
    public static (long PerThread, long Shared) WorkspaceFloats(int n, int cin, int h, int w, int kout, int padH, int padW)
    {
        var p = new Plan(n, cin, h, w, kout, padH, padW);
        long perThread = (long)Positions * (cin + p.KChunk) * p.Ld + (long)p.PlaneRows * p.RowLen + (long)CpuGemm.NR * Math.Min(cin, CpuGemm.KC);
        return (perThread, PackedSize(kout, cin) + (long)Positions * kout * cin);
    }

    /// <summary>How one call's tiles split into blocks (whole tile rows of one image) and output channels into chunks.</summary>
    private readonly struct Plan
    {
        public readonly int N, C, H, W, K, PadH, PadW, OH, OW, TH, TW;
        public readonly int RowsPerBlock, BlocksPerImage, KChunk, KChunks, Ld, RowLen;
        public readonly bool Inline;        // small enough to run on the calling thread alone

        public Plan(int n, int c, int h, int w, int k, int padH, int padW)
        {
            (N, C, H, W, K, PadH, PadW) = (n, c, h, w, k, padH, padW);
            OH = h + 2 * padH - 2; OW = w + 2 * padW - 2;
            TH = (OH + 1) / 2; TW = (OW + 1) / 2;
            int tilesTarget = Math.Max(Lanes, BlockFloats / (Positions * (c + k)));
            RowsPerBlock = Math.Clamp(tilesTarget / TW, 1, TH);
            // Fewer blocks than threads (a small batch): smaller blocks, then output-channel chunks.
            // Blocks keep at least one vector of tiles (16), so the GEMM's 16-column micro-tiles stay full.
            // Below SplitMinFlops the whole call stays on one thread: waking a worker costs more than it saves (and on a loaded
            // machine a descheduled worker stalls the call for a time slice).
            long flops = 2L * Positions * c * k * n * ((h + 2 * padH - 1) / 2) * ((w + 2 * padW - 1) / 2);
            int threads = t_partitionThreads > 0 ? t_partitionThreads : flops < SplitMinFlops ? 1 : CpuParallel.Threads;
            Inline = t_partitionThreads <= 0 && flops < SplitMinFlops;
            if ((long)n * ((TH + RowsPerBlock - 1) / RowsPerBlock) < threads)
                RowsPerBlock = Math.Max(Math.Min(TH, (Lanes + TW - 1) / TW), TH / Math.Max(1, threads / n));
            BlocksPerImage = (TH + RowsPerBlock - 1) / RowsPerBlock;
            long blocks = (long)n * BlocksPerImage;
            int chunks = blocks >= threads ? 1 : (int)Math.Min((threads + blocks - 1) / blocks, (k + CpuGemm.MR - 1) / CpuGemm.MR);
            KChunk = (k + chunks - 1) / chunks;
            KChunk = (KChunk + CpuGemm.MR - 1) / CpuGemm.MR * CpuGemm.MR;
            KChunks = (k + KChunk - 1) / KChunk;
            // One tile row's vectors overrun its last tile by up to 15 lanes; Ld leaves room for them past the block's end.
            Ld = RowsPerBlock * TW + Lanes;
            // A padded input row: the loads of the last 16 tiles reach column 2·(tiles rounded up to 16) + 2 + 32.
            RowLen = 2 * ((TW + Lanes - 1) / Lanes * Lanes) + 2 + 2 * Lanes;
        }

        public int Items => checked(N * BlocksPerImage * KChunks);
        public int PlaneRows => 2 * RowsPerBlock + 2;
    }

    /// <summary>Items [start, end) of one call: item = (block, output-channel chunk), block = (image, run of tile rows).</summary>
    private readonly struct Body(Plan p, Strided x, float* packedU, int* offs, Strided y, float* bias, bool relu, float beta, Strided res) : IRangeBody
    {
        public void Run(int start, int end)
        {
            var scratch = CpuScratch.Current;
            float* v = scratch.Get(CpuScratch.Slot.Columns, (long)Positions * p.C * p.Ld);
            float* m = scratch.Get(CpuScratch.Slot.Output, (long)Positions * p.KChunk * p.Ld);
            float* plane = scratch.Get(CpuScratch.Slot.Rows, (long)p.PlaneRows * p.RowLen);
            // Only the columns [PadW, PadW + W) of a plane row are ever written; the rest stays zero (the padding).
            new Span<float>(plane, p.PlaneRows * p.RowLen).Clear();
            long perXi = CpuGemm.PackedASize(p.K, p.C);
            int lastBlock = -1;
            for (int item = start; item < end; item++)
            {
                int block = item / p.KChunks, chunk = item % p.KChunks;
                int n = block / p.BlocksPerImage, i0 = block % p.BlocksPerImage * p.RowsPerBlock;
                int rows = Math.Min(p.TH - i0, p.RowsPerBlock), tiles = rows * p.TW;
                if (block != lastBlock) { InputTransform(n, i0, rows, plane, v); lastBlock = block; }
                int k0 = chunk * p.KChunk, kc = Math.Min(p.KChunk, p.K - k0);
                for (int xi = 0; xi < Positions; xi++)
                    CpuGemm.SgemmPackedA(kc, tiles, p.C, 1f, packedU + xi * perXi, p.K, k0,
                        v + (long)xi * p.C * p.Ld, 0, 1, offs, 0f, m + (long)xi * p.KChunk * p.Ld, p.Ld, 1);
                OutputTransform(n, i0, rows, k0, kc, m);
            }
        }

        /// <summary>V_ξ[c, (li, j)] = (Bᵀ d B)_ξ for the tile rows [i0, i0 + rows) of image n, every channel.</summary>
        private void InputTransform(int n, int i0, int rows, float* plane, float* v)
        {
            int y0 = 2 * i0 - p.PadH, planeRows = 2 * rows + 2;
            nint vXi = (nint)p.C * p.Ld;
            for (int c = 0; c < p.C; c++)
            {
                float* xc = x.P + n * x.N + c * x.C;
                for (int q = 0; q < planeRows; q++)
                {
                    float* dst = plane + q * p.RowLen + p.PadW;
                    int yy = y0 + q;
                    if (yy < 0 || yy >= p.H) { new Span<float>(dst, p.W).Clear(); continue; }
                    float* src = xc + yy * x.H;
                    if (x.W == 1) CpuIm2Col.Copy(dst, src, p.W);
                    else for (int xx = 0; xx < p.W; xx++) dst[xx] = src[xx * x.W];
                }
                float* vc = v + (nint)c * p.Ld;
                for (int li = 0; li < rows; li++)
                    for (int j0 = 0; j0 < p.TW; j0 += Lanes)
                    {
                        // h[r][s'] = (d B)[r][s'] for the 4 patch rows r, 16 tiles per vector.
                        float* r0 = plane + 2 * li * p.RowLen + 2 * j0;
                        RowTransform(r0, out var h00, out var h01, out var h02, out var h03);
                        RowTransform(r0 + p.RowLen, out var h10, out var h11, out var h12, out var h13);
                        RowTransform(r0 + 2 * p.RowLen, out var h20, out var h21, out var h22, out var h23);
                        RowTransform(r0 + 3 * p.RowLen, out var h30, out var h31, out var h32, out var h33);
                        // V = Bᵀ h: rows h0 − h2, h1 + h2, h2 − h1, h1 − h3.
                        float* dst = vc + li * p.TW + j0;
                        Vector512.Store(h00 - h20, dst); Vector512.Store(h01 - h21, dst + vXi);
                        Vector512.Store(h02 - h22, dst + 2 * vXi); Vector512.Store(h03 - h23, dst + 3 * vXi);
                        Vector512.Store(h10 + h20, dst + 4 * vXi); Vector512.Store(h11 + h21, dst + 5 * vXi);
                        Vector512.Store(h12 + h22, dst + 6 * vXi); Vector512.Store(h13 + h23, dst + 7 * vXi);
                        Vector512.Store(h20 - h10, dst + 8 * vXi); Vector512.Store(h21 - h11, dst + 9 * vXi);
                        Vector512.Store(h22 - h12, dst + 10 * vXi); Vector512.Store(h23 - h13, dst + 11 * vXi);
                        Vector512.Store(h10 - h30, dst + 12 * vXi); Vector512.Store(h11 - h31, dst + 13 * vXi);
                        Vector512.Store(h12 - h32, dst + 14 * vXi); Vector512.Store(h13 - h33, dst + 15 * vXi);
                    }
            }
        }

        /// <summary>
        /// y (tile rows [i0, i0 + rows) of image n, channels [k0, k0 + kc)) = Aᵀ m A (+ bias, ReLU), β·y added first.
        /// </summary>
        private void OutputTransform(int n, int i0, int rows, int k0, int kc, float* m)
        {
            nint mXi = (nint)p.KChunk * p.Ld;
            float* pair = stackalloc float[2 * Lanes];
            for (int kk = 0; kk < kc; kk++)
            {
                int k = k0 + kk;
                var vb = Vector512.Create(bias == null ? 0f : bias[k]);
                float* yk = y.P + n * y.N + k * y.C;
                float* rk = res.P == null ? null : res.P + n * res.N + k * res.C;
                float* mk = m + (nint)kk * p.Ld;
                for (int li = 0; li < rows; li++)
                {
                    int oy = 2 * (i0 + li);
                    for (int j0 = 0; j0 < p.TW; j0 += Lanes)
                    {
                        float* s = mk + li * p.TW + j0;
                        // t = Aᵀ m (2×4): rows m0 + m1 + m2 and m1 − m2 − m3, per column s.
                        Vector512<float> m0, m1, m2, m3;
                        m0 = Vector512.Load(s); m1 = Vector512.Load(s + 4 * mXi); m2 = Vector512.Load(s + 8 * mXi); m3 = Vector512.Load(s + 12 * mXi);
                        var t00 = m0 + m1 + m2; var t10 = m1 - m2 - m3;
                        m0 = Vector512.Load(s + mXi); m1 = Vector512.Load(s + 5 * mXi); m2 = Vector512.Load(s + 9 * mXi); m3 = Vector512.Load(s + 13 * mXi);
                        var t01 = m0 + m1 + m2; var t11 = m1 - m2 - m3;
                        m0 = Vector512.Load(s + 2 * mXi); m1 = Vector512.Load(s + 6 * mXi); m2 = Vector512.Load(s + 10 * mXi); m3 = Vector512.Load(s + 14 * mXi);
                        var t02 = m0 + m1 + m2; var t12 = m1 - m2 - m3;
                        m0 = Vector512.Load(s + 3 * mXi); m1 = Vector512.Load(s + 7 * mXi); m2 = Vector512.Load(s + 11 * mXi); m3 = Vector512.Load(s + 15 * mXi);
                        var t03 = m0 + m1 + m2; var t13 = m1 - m2 - m3;
                        // y = t A (2×2 per tile), plus the bias.
                        int ox = 2 * j0, count = Math.Min(2 * Lanes, p.OW - ox);
                        StoreRow(t00 + t01 + t02 + vb, t01 - t02 - t03 + vb, yk + oy * y.H + ox * y.W, count, pair,
                            rk == null ? null : rk + oy * res.H + ox * res.W);
                        if (oy + 1 < p.OH)
                            StoreRow(t10 + t11 + t12 + vb, t11 - t12 - t13 + vb, yk + (oy + 1) * y.H + ox * y.W, count, pair,
                                rk == null ? null : rk + (oy + 1) * res.H + ox * res.W);
                    }
                }
            }
        }

        /// <summary>
        /// Output columns 2j and 2j + 1 of 16 tiles (<paramref name="even"/>, <paramref name="odd"/>) interleaved into one output
        /// row: dst[2l] = even[l], dst[2l + 1] = odd[l] for the first <paramref name="count"/> columns, β·dst added, then the
        /// residual row <paramref name="r"/> (null: none), then ReLU.
        /// </summary>
        private void StoreRow(Vector512<float> even, Vector512<float> odd, float* dst, int count, float* pair, float* r)
        {
            var lo = Pick(even, InterleaveLo, odd);
            var hi = Pick(even, InterleaveHi, odd);
            if (y.W == 1 && (r == null || res.W == 1) && Avx512F.IsSupported)
            {
                // Masked loads and stores: lanes past count are neither read nor written (no fault past the tensor's end).
                var mLo = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
                var mHi = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count - Lanes)).AsSingle();
                if (beta != 0f)
                {
                    lo += Avx512F.MaskLoad(dst, mLo, Vector512<float>.Zero);
                    hi += Avx512F.MaskLoad(dst + Lanes, mHi, Vector512<float>.Zero);
                }
                if (r != null)
                {
                    lo += Avx512F.MaskLoad(r, mLo, Vector512<float>.Zero);
                    hi += Avx512F.MaskLoad(r + Lanes, mHi, Vector512<float>.Zero);
                }
                if (relu) { lo = Vector512.Max(lo, Vector512<float>.Zero); hi = Vector512.Max(hi, Vector512<float>.Zero); }
                Avx512F.MaskStore(dst, mLo, lo);
                Avx512F.MaskStore(dst + Lanes, mHi, hi);
                return;
            }
            Vector512.Store(lo, pair);
            Vector512.Store(hi, pair + Lanes);
            for (int i = 0; i < count; i++)
            {
                float val = pair[i];
                float* d = dst + i * y.W;
                if (beta != 0f) val += *d;
                if (r != null) val += r[i * res.W];
                *d = relu ? MathF.Max(val, 0f) : val;
            }
        }
    }

    /// <summary>
    /// h = d B for one patch row of 16 tiles: d0..d3 = row[2l], row[2l + 1], row[2l + 2], row[2l + 3];
    /// h0 = d0 − d2, h1 = d1 + d2, h2 = d2 − d1, h3 = d1 − d3.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowTransform(float* row, out Vector512<float> h0, out Vector512<float> h1, out Vector512<float> h2, out Vector512<float> h3)
    {
        var a = Vector512.Load(row);
        var b = Vector512.Load(row + Lanes);
        var a2 = Vector512.Load(row + 2);
        var b2 = Vector512.Load(row + 2 + Lanes);
        var d0 = Pick(a, Evens, b);
        var d1 = Pick(a, Odds, b);
        var d2 = Pick(a2, Evens, b2);
        var d3 = Pick(a2, Odds, b2);
        h0 = d0 - d2;
        h1 = d1 + d2;
        h2 = d2 - d1;
        h3 = d1 - d3;
    }

    private static readonly Vector512<int> Evens = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    private static readonly Vector512<int> Odds = Evens + Vector512<int>.One;
    private static readonly Vector512<int> InterleaveLo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    private static readonly Vector512<int> InterleaveHi = InterleaveLo + Vector512.Create(8);

    /// <summary>lane l = (a ++ b)[idx[l]] for indices below 32: one vpermt2ps, or lane by lane without AVX-512.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pick(Vector512<float> a, Vector512<int> idx, Vector512<float> b)
    {
        if (Avx512F.IsSupported) return Avx512F.PermuteVar16x32x2(a, idx, b);
        var r = Vector512<float>.Zero;
        for (int l = 0; l < Lanes; l++)
        {
            int i = idx.GetElement(l);
            r = r.WithElement(l, i < Lanes ? a.GetElement(i) : b.GetElement(i - Lanes));
        }
        return r;
    }
}

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
// The filter gradient is the adjoint of the same product (Lavin and Gray §4; a transposed role for each matrix): with
// dM = ∂L/∂M = A dy Aᵀ per tile and M = U ⊙ V, ∂L/∂U = Σ_t dM ⊙ V, and U = G g Gᵀ gives ∂L/∂g = Gᵀ (∂L/∂U) G:
//
//   Ṽdy_ξ[k, t] = (A dy[k, t] Aᵀ)_ab         A  (4×2) = [1 0; 1 1; 1 −1; 0 −1]    (the 2×2 dy tile, zero past OH, OW)
//   V_ξ[c, t]   = (Bᵀ d[c, t] B)_ab          the forward's input transform
//   Ṁ_ξ (K, C)  = Σ_t Ṽdy_ξ (K, t) · V_ξ (C, t)ᵀ   16 GEMMs over the tiles (CpuGemm: both operands packed by transposition)
//   dw[k, c]    = Gᵀ Ṁ[k, c] G  (3×3)         Gᵀ (3×4) = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]
//
// Its tiles are summed in a fixed order: the call's blocks (FixedBlocks: sized from the shape alone) fall into a fixed number of
// groups of consecutive blocks, each group sums its blocks into its own Ṁ in block order, and the groups' Ṁ are added in group
// order before the 4×4 → 3×3 transform. The threads only choose which groups (and output-channel chunks) they take, so the
// filter gradient, like the forward, does not depend on the thread count at all.
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
// A tile row of small images has fewer than 16 tiles, so there several tile rows share one vector (RowsPerVector): four
// where a row has at most 4 tiles (7×7 and 8×8: the CIFAR/Fashion-MNIST ResNets' 64-channel stage), two where it has 5 to 8
// (14×14 and 16×16: their 32-channel stage). Lane l = (tile row l / TW, tile l mod TW), so a vector's tiles lie where the
// one-row layout puts them (li·TW + j); its patch columns are picked from each pair of plane rows by one vpermt2ps (two
// pairs: a blend); the output transform stores such a vector as masked output-row segments. The lanes past the last whole
// row are overwritten by the next vector, as a one-row vector's overrun is. The arithmetic per tile is the same expression
// in the same order, so the bits do not change. A block's last tile rows take fewer rows per vector (four, two, one).
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

    /// <summary>
    /// Tests and measurements (<c>roofline winograd-quad</c>, <c>winograd-pair</c>): when set, every call transforms one tile row
    /// per vector even where two or four would fit (<see cref="Plan.RowsPerVector"/>). Process-wide, so the pool's workers see
    /// it; the bits are the same either way.
    /// </summary>
    internal static bool OneRowPerVector { get; set; }

    /// <summary>Floats of scratch one call of <see cref="Convolve"/> takes: per thread (V, M, padded rows, packing), and in all.</summary>
    public static (long PerThread, long Shared) WorkspaceFloats(int n, int cin, int h, int w, int kout, int padH, int padW)
    {
        var p = new Plan(n, cin, h, w, kout, padH, padW);
        long perThread = (long)Positions * (cin + p.KChunk) * p.Ld + (long)p.PlaneRows * p.RowLen + (long)CpuGemm.NR * Math.Min(cin, CpuGemm.KC);
        return (perThread, PackedSize(kout, cin) + (long)Positions * kout * cin);
    }

    /// <summary>
    /// Floats of scratch one call of <see cref="FilterGradient"/> takes: per thread (V, Ṽdy, padded rows, both GEMM packings),
    /// and in all (every group's Ṁ).
    /// </summary>
    public static (long PerThread, long Shared) FilterWorkspaceFloats(int n, int cin, int h, int w, int kout, int padH, int padW)
    {
        var p = new Plan(n, cin, h, w, kout, padH, padW, fixedBlocks: true);
        int depth = Math.Min(p.ImagesPerBlock * p.RowsPerBlock * p.TW, CpuGemm.KC);
        long perThread = (long)Positions * (cin + p.KChunk) * p.Ld + (long)(p.PlaneRows + 11) * p.RowLen
            + (long)(Math.Min(p.KChunk, CpuGemm.MC) + CpuGemm.MR + cin + CpuGemm.NR) * depth;
        return (perThread, (long)p.Groups * Positions * kout * cin);
    }

    /// <summary>The most groups (partial Ṁ) a filter-gradient call sums its tiles into.</summary>
    private const int MaxGroups = 16;

    /// <summary>Floats all of a filter-gradient call's partial Ṁ may take (16 MiB); wider layers take fewer groups.</summary>
    private const long GroupFloats = 4L << 20;

    /// <summary>
    /// dw (kout, cin, 3, 3), contiguous, = (or += when <paramref name="accumulate"/>) ∂L/∂w of the 3×3 stride-1 convolution
    /// y = conv(x, w) with padding (padH, padW): Σ over images and tiles of Gᵀ [(A dy Aᵀ) ⊙ (Bᵀ d B)] G (see the file header).
    /// x is (N, cin, H, W) and dy (N, kout, OH, OW), OH = H + 2·padH − 2, OW = W + 2·padW − 2, both read through their strides.
    /// </summary>
    public static void FilterGradient(Strided x, Strided dy, int n, int cin, int h, int w, int kout, int padH, int padW, float* dw, bool accumulate)
    {
        var plan = new Plan(n, cin, h, w, kout, padH, padW, fixedBlocks: true);
        long perGroup = (long)Positions * kout * cin;
        float* partials = CpuScratch.Current.Get(CpuScratch.Slot.PartialGrad, plan.Groups * perGroup);
        long tilesPerGroup = (long)n * plan.TH * plan.TW / plan.Groups;
        var body = new FilterBody(plan, x, dy, partials);
        if (plan.Inline) body.Run(0, plan.Items);
        else CpuParallel.For(plan.Items, 2L * Positions * cin * plan.KChunk * tilesPerGroup, body);
        // Ṁ = Σ_groups in group order, then dw = Gᵀ Ṁ G: per output channel, so any split over k gives the same bits.
        var reduce = new FilterReduce(plan, partials, dw, accumulate);
        if (plan.Inline) reduce.Run(0, kout);
        else CpuParallel.For(kout, (long)perGroup / kout * plan.Groups, reduce);
    }

    /// <summary>How one call's tiles split into blocks (whole tile rows of one image) and output channels into chunks.</summary>
    private readonly struct Plan
    {
        public readonly int N, C, H, W, K, PadH, PadW, OH, OW, TH, TW;
        public readonly int RowsPerBlock, BlocksPerImage, KChunk, KChunks, Ld, RowLen;
        public readonly int ImagesPerBlock;  // the filter gradient's blocks may hold several whole images (a deeper GEMM)
        public readonly int Blocks;
        public readonly int Groups;         // the filter gradient's partial sums: each a fixed run of consecutive blocks
        public readonly int Items;          // (block or group, output-channel chunk) pairs
        public readonly bool Inline;        // small enough to run on the calling thread alone
        /// <summary>
        /// Tile rows per transform vector: 4 where a tile row has at most 4 tiles, 2 where it has 5 to 8, else 1 (and 1 without
        /// AVX-512's two-source permute and masked stores, or under <see cref="OneRowPerVector"/>).
        /// </summary>
        public readonly int RowsPerVector;
        /// <summary>Lane l = (q, j) = (l / TW, l % TW): 2j + 16·(q mod 2), column 2j of the first or second of a pair of rows.</summary>
        public readonly Vector512<int> RowCols;
        /// <summary>The lanes of tile rows 2 and 3 (l ≥ 2·TW): taken from the second pair of rows.</summary>
        public readonly Vector512<float> UpperPair;

        /// <summary>
        /// <paramref name="fixedBlocks"/> (the filter gradient): blocks and groups are sized from the shape alone, never from
        /// the thread count, since they set the order in which tiles are summed; only the output-channel chunks follow the threads.
        /// </summary>
        public Plan(int n, int c, int h, int w, int k, int padH, int padW, bool fixedBlocks = false)
        {
            (N, C, H, W, K, PadH, PadW) = (n, c, h, w, k, padH, padW);
            OH = h + 2 * padH - 2; OW = w + 2 * padW - 2;
            TH = (OH + 1) / 2; TW = (OW + 1) / 2;
            int tilesTarget = Math.Max(Lanes, BlockFloats / (Positions * (c + k)));
            RowsPerBlock = Math.Clamp(tilesTarget / TW, 1, TH);
            // The filter gradient's GEMMs are as deep as a block has tiles: small images (7×7, 8×8: 16 tiles) are grouped
            // into blocks of whole images, up to the same L2 target. (Deeper blocks, 128 tiles at 64 channels, measured slower.)
            ImagesPerBlock = fixedBlocks ? Math.Clamp(tilesTarget / (TH * TW), 1, Math.Max(1, n)) : 1;
            // Fewer blocks than threads (a small batch): smaller blocks, then output-channel chunks.
            // Blocks keep at least one vector of tiles (16), so the GEMM's 16-column micro-tiles stay full.
            // Below SplitMinFlops the whole call stays on one thread: waking a worker costs more than it saves (and on a loaded
            // machine a descheduled worker stalls the call for a time slice).
            long flops = 2L * Positions * c * k * n * ((h + 2 * padH - 1) / 2) * ((w + 2 * padW - 1) / 2);
            int threads = t_partitionThreads > 0 ? t_partitionThreads : flops < SplitMinFlops ? 1 : CpuParallel.Threads;
            Inline = t_partitionThreads <= 0 && flops < SplitMinFlops;
            if (!fixedBlocks && (long)n * ((TH + RowsPerBlock - 1) / RowsPerBlock) < threads)
                RowsPerBlock = Math.Max(Math.Min(TH, (Lanes + TW - 1) / TW), TH / Math.Max(1, threads / n));
            BlocksPerImage = (TH + RowsPerBlock - 1) / RowsPerBlock;
            long blocks = ImagesPerBlock > 1 ? (n + ImagesPerBlock - 1) / ImagesPerBlock : (long)n * BlocksPerImage;
            Blocks = checked((int)blocks);
            Groups = fixedBlocks ? (int)Math.Min(blocks, Math.Clamp(GroupFloats / ((long)Positions * k * c), 1, MaxGroups)) : 0;
            long units = fixedBlocks ? Groups : blocks;
            int chunks = units >= threads ? 1 : (int)Math.Min((threads + units - 1) / units, (k + CpuGemm.MR - 1) / CpuGemm.MR);
            KChunk = (k + chunks - 1) / chunks;
            KChunk = (KChunk + CpuGemm.MR - 1) / CpuGemm.MR * CpuGemm.MR;
            KChunks = (k + KChunk - 1) / KChunk;
            // One tile row's vectors overrun its last tile by up to 15 lanes; Ld leaves room for them past the block's end.
            Ld = ImagesPerBlock * RowsPerBlock * TW + Lanes;
            // A padded input row: the loads of the last 16 tiles reach column 2·(tiles rounded up to 16) + 2 + 32.
            RowLen = 2 * ((TW + Lanes - 1) / Lanes * Lanes) + 2 + 2 * Lanes;
            Items = checked((int)units * KChunks);
            int tw = Math.Max(TW, 1);
            RowsPerVector = OneRowPerVector || !Avx512F.IsSupported ? 1 : tw <= 4 ? 4 : tw <= 8 ? 2 : 1;
            Span<int> cols = stackalloc int[Lanes];
            for (int l = 0; l < Lanes; l++) cols[l] = l / tw < 4 ? 2 * (l % tw) + Lanes * (l / tw % 2) : 0;
            RowCols = Vector512.Create<int>(cols);
            UpperPair = Vector512.GreaterThanOrEqual(Vector512<int>.Indices, Vector512.Create(2 * tw)).AsSingle();
        }

        /// <summary>
        /// Tile rows the vector at tile row <paramref name="li"/> of a block of <paramref name="rows"/> takes: <see cref="RowsPerVector"/>,
        /// halved until they fit.
        /// </summary>
        public int RowsAt(int li, int rows)
        {
            int step = RowsPerVector;
            while (li + step > rows) step /= 2;
            return step;
        }

        public int PlaneRows => 2 * RowsPerBlock + 2;

        /// <summary>The blocks [First, End) of filter-gradient group <paramref name="group"/>.</summary>
        public (int First, int End) GroupBlocks(int group) => ((int)((long)Blocks * group / Groups), (int)((long)Blocks * (group + 1) / Groups));

        /// <summary>Block <paramref name="block"/>'s images [N0, N0 + Images) and, of each, the tile rows [I0, I0 + Rows).</summary>
        public (int N0, int Images, int I0, int Rows) Block(int block)
        {
            if (ImagesPerBlock > 1) return (block * ImagesPerBlock, Math.Min(ImagesPerBlock, N - block * ImagesPerBlock), 0, TH);
            int i0 = block % BlocksPerImage * RowsPerBlock;
            return (block / BlocksPerImage, 1, i0, Math.Min(TH - i0, RowsPerBlock));
        }
    }

    /// <summary>Items [start, end) of one call: item = (block, output-channel chunk), block = (image, run of tile rows).</summary>
    private readonly struct Body(Plan p, Strided x, float* packedU, int* offs, Strided y, float* bias, bool relu, float beta, Strided res) : IRangeBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
                if (block != lastBlock) { InputTransform(p, x, n, i0, rows, plane, v); lastBlock = block; }
                int k0 = chunk * p.KChunk, kc = Math.Min(p.KChunk, p.K - k0);
                for (int xi = 0; xi < Positions; xi++)
                    CpuGemm.SgemmPackedA(kc, tiles, p.C, 1f, packedU + xi * perXi, p.K, k0,
                        v + (long)xi * p.C * p.Ld, 0, 1, offs, 0f, m + (long)xi * p.KChunk * p.Ld, p.Ld, 1);
                OutputTransform(n, i0, rows, k0, kc, m);
            }
        }

        /// <summary>
        /// y (tile rows [i0, i0 + rows) of image n, channels [k0, k0 + kc)) = Aᵀ m A (+ bias, ReLU), β·y added first.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void OutputTransform(int n, int i0, int rows, int k0, int kc, float* m)
        {
            nint mXi = (nint)p.KChunk * p.Ld;
            float* pair = stackalloc float[2 * Lanes];
            // StoreRows' masks, once per call: tile row q of a several-rows vector covers the interleaved positions
            // [2q·TW, 2q·TW + OW) of the two halves (mask 2q + half).
            float* rowMasks = stackalloc float[8 * Lanes];
            for (int q = 0; q < 4; q++)
                for (int half = 0; half < 2; half++)
                {
                    var lane = Vector512<int>.Indices + Vector512.Create(half * Lanes);
                    int first = 2 * q * p.TW;
                    Vector512.Store((Vector512.GreaterThanOrEqual(lane, Vector512.Create(first)) & Vector512.LessThan(lane, Vector512.Create(first + p.OW))).AsSingle(),
                        rowMasks + (2 * q + half) * Lanes);
                }
            for (int kk = 0; kk < kc; kk++)
            {
                int k = k0 + kk;
                var vb = Vector512.Create(bias == null ? 0f : bias[k]);
                float* yk = y.P + n * y.N + k * y.C;
                float* rk = res.P == null ? null : res.P + n * res.N + k * res.C;
                float* mk = m + (nint)kk * p.Ld;
                bool multiRows = p.RowsPerVector > 1 && y.W == 1 && (rk == null || res.W == 1);
                for (int li = 0; li < rows;)
                {
                    // Several tile rows in one vector where they fit (lane l = (li + l / TW, l % TW)), else 16 tiles of one row.
                    int step = multiRows ? p.RowsAt(li, rows) : 1;
                    int oy = 2 * (i0 + li);
                    for (int j0 = 0; j0 < (step > 1 ? 1 : p.TW); j0 += Lanes)
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
                        Vector512<float> even0 = t00 + t01 + t02 + vb, odd0 = t01 - t02 - t03 + vb;
                        Vector512<float> even1 = t10 + t11 + t12 + vb, odd1 = t11 - t12 - t13 + vb;
                        if (step > 1)
                        {
                            StoreRows(even0, odd0, yk, rk, oy, step, rowMasks);
                            StoreRows(even1, odd1, yk, rk, oy + 1, step, rowMasks);
                            continue;
                        }
                        int ox = 2 * j0, count = Math.Min(2 * Lanes, p.OW - ox);
                        StoreRow(even0, odd0, yk + oy * y.H + ox * y.W, count, pair, rk == null ? null : rk + oy * res.H + ox * res.W);
                        if (oy + 1 < p.OH)
                            StoreRow(even1, odd1, yk + (oy + 1) * y.H + ox * y.W, count, pair, rk == null ? null : rk + (oy + 1) * res.H + ox * res.W);
                    }
                    li += step;
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

        /// <summary>
        /// y rows oy, oy + 2, … (<paramref name="rows"/> of them, those below OH) of channel plane <paramref name="yk"/> (NCHW,
        /// y.W = 1) from the output columns 2j (<paramref name="even"/>) and 2j + 1 (<paramref name="odd"/>) of several tile rows,
        /// lane l = (l / TW, l % TW): interleaved, tile row q is the 2·TW consecutive positions from 2q·TW of the 32 (two vectors),
        /// stored by a masked store of its first OW positions from each vector it touches (β·y added first, then the residual
        /// plane <paramref name="rk"/>'s rows (null: none, else res.W = 1), then ReLU: <see cref="Body.StoreRow"/>'s arithmetic).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void StoreRows(Vector512<float> even, Vector512<float> odd, float* yk, float* rk, int oy, int rows, float* rowMasks)
        {
            var lo = Pick(even, InterleaveLo, odd);     // positions 0..15
            var hi = Pick(even, InterleaveHi, odd);     // positions 16..31
            for (int q = 0; q < rows; q++)
            {
                int row = oy + 2 * q;
                if (row >= p.OH) break;
                int first = 2 * q * p.TW;
                for (int half = 0; half < 2; half++)
                {
                    int at = half * Lanes;
                    if (first + p.OW <= at || first >= at + Lanes) continue;
                    var v = half == 0 ? lo : hi;
                    var mask = Vector512.Load(rowMasks + (2 * q + half) * Lanes);
                    // Position i belongs at column i − first: the store's base may sit before the row (masked-off lanes never touch memory).
                    int shift = at - first;
                    float* dst = yk + row * y.H + shift;
                    if (beta != 0f) v += Avx512F.MaskLoad(dst, mask, Vector512<float>.Zero);
                    if (rk != null) v += Avx512F.MaskLoad(rk + row * res.H + shift, mask, Vector512<float>.Zero);
                    if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
                    Avx512F.MaskStore(dst, mask, v);
                }
            }
        }
    }

    /// <summary>V_ξ[c, (li, j)] = (Bᵀ d B)_ξ for the tile rows [i0, i0 + rows) of image n, every channel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void InputTransform(in Plan p, Strided x, int n, int i0, int rows, float* plane, float* v)
    {
        int y0 = 2 * i0 - p.PadH, planeRows = 2 * rows + 2;
        nint vXi = (nint)p.C * p.Ld;
        var layout = new RowLayout(p);
        for (int c = 0; c < p.C; c++)
        {
            float* xc = x.P + n * x.N + c * x.C;
            for (int q = 0; q < planeRows; q++)
            {
                float* dst = plane + q * p.RowLen + p.PadW;
                int yy = y0 + q;
                if (yy < 0 || yy >= p.H) { new Span<float>(dst, p.W).Clear(); continue; }
                CopyRow(dst, xc + yy * x.H, x.W, p.W);
            }
            float* vc = v + (nint)c * p.Ld;
            for (int li = 0; li < rows;)
            {
                // Several tile rows in one vector where they fit (lane l = (li + l / TW, l % TW)), else 16 tiles of one row.
                int step = p.RowsAt(li, rows);
                for (int j0 = 0; j0 < (step > 1 ? 1 : p.TW); j0 += Lanes)
                {
                    // h[r][s'] = (d B)[r][s'] for the 4 patch rows r.
                    float* r0 = plane + 2 * li * p.RowLen + 2 * j0;
                    PatchRowTransform(layout, step, r0, out var h00, out var h01, out var h02, out var h03);
                    PatchRowTransform(layout, step, r0 + p.RowLen, out var h10, out var h11, out var h12, out var h13);
                    PatchRowTransform(layout, step, r0 + 2 * p.RowLen, out var h20, out var h21, out var h22, out var h23);
                    PatchRowTransform(layout, step, r0 + 3 * p.RowLen, out var h30, out var h31, out var h32, out var h33);
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
                li += step;
            }
        }
    }

    /// <summary>dst[i] = src[i·stride] for i in [0, count).</summary>
    private static void CopyRow(float* dst, float* src, nint stride, int count)
    {
        if (stride == 1) CpuIm2Col.Copy(dst, src, count);
        else for (int i = 0; i < count; i++) dst[i] = src[i * stride];
    }

    /// <summary>
    /// Filter-gradient items [start, end): item = (group, output-channel chunk). Each block of the group is transformed
    /// (V for every input channel, Ṽdy for the chunk's output channels) and its 16 products are summed into the group's Ṁ,
    /// the group's first block overwriting.
    /// </summary>
    private readonly struct FilterBody(Plan p, Strided x, Strided dy, float* partials) : IRangeBody
    {
        public void Run(int start, int end)
        {
            var scratch = CpuScratch.Current;
            float* v = scratch.Get(CpuScratch.Slot.Columns, (long)Positions * p.C * p.Ld);
            float* d = scratch.Get(CpuScratch.Slot.Output, (long)Positions * p.KChunk * p.Ld);
            // The input plane, then dy's two rows of one tile row and a row that stays zero (dy past OH).
            // (Several tile rows per vector: eight more rows, the dy rows of up to four tile rows.)
            float* plane = scratch.Get(CpuScratch.Slot.Rows, (long)(p.PlaneRows + 11) * p.RowLen);
            new Span<float>(plane, (p.PlaneRows + 11) * p.RowLen).Clear();
            float* dyRows = plane + p.PlaneRows * p.RowLen;
            long perGroup = (long)Positions * p.K * p.C;
            for (int item = start; item < end; item++)
            {
                int group = item / p.KChunks, chunk = item % p.KChunks;
                int k0 = chunk * p.KChunk, kc = Math.Min(p.KChunk, p.K - k0);
                float* mg = partials + group * perGroup;
                var (first, last) = p.GroupBlocks(group);
                for (int block = first; block < last; block++)
                {
                    var (n0, images, i0, rows) = p.Block(block);
                    int tiles = images * rows * p.TW;
                    // A block's images lie side by side along the tiles (each one's vector overrun is overwritten by the next).
                    for (int im = 0; im < images; im++)
                    {
                        InputTransform(p, x, n0 + im, i0, rows, plane, v + im * rows * p.TW);
                        GradientTransform(n0 + im, i0, rows, k0, kc, dyRows, d + im * rows * p.TW);
                    }
                    // Ṁ_ξ[k0.., :] (kc, C) (+)= Ṽdy_ξ (kc, tiles) · V_ξ (C, tiles)ᵀ: both operands are read along the tiles.
                    float beta = block == first ? 0f : 1f;
                    for (int xi = 0; xi < Positions; xi++)
                        CpuGemm.Sgemm(kc, p.C, tiles, 1f, d + (long)xi * p.KChunk * p.Ld, p.Ld, 1, v + (long)xi * p.C * p.Ld, 1, p.Ld,
                            beta, mg + (long)xi * p.K * p.C + (long)k0 * p.C, p.C, 1);
                }
            }
        }

        /// <summary>
        /// Ṽdy_ξ[kk, (li, j)] = (A dy A ᵀ)_ξ for the tile rows [i0, i0 + rows) of image n and the output channels [k0, k0 + kc).
        /// </summary>
        private void GradientTransform(int n, int i0, int rows, int k0, int kc, float* dyRows, float* d)
        {
            float* top = dyRows, bottom = dyRows + p.RowLen, zero = dyRows + 2 * p.RowLen, multi = dyRows + 3 * p.RowLen;
            nint dXi = (nint)p.KChunk * p.Ld;
            var layout = new RowLayout(p);
            for (int kk = 0; kk < kc; kk++)
            {
                float* dk = dy.P + n * dy.N + (k0 + kk) * dy.C;
                float* out0 = d + (nint)kk * p.Ld;
                int li = 0;
                for (int step; li < rows && (step = p.RowsAt(li, rows)) > 1; li += step)
                {
                    // Tile rows li .. li + step − 1 in one vector (lane l = (li + l / TW, l % TW)): the dy rows 2li .. 2li + 2·step − 1
                    // (zero past OH; columns past OW stay zero), then the same expressions as below.
                    for (int q = 0; q < 2 * step; q++)
                    {
                        int oy = 2 * (i0 + li) + q;
                        if (oy < p.OH) CopyRow(multi + q * p.RowLen, dk + oy * dy.H, dy.W, p.OW);
                        else new Span<float>(multi + q * p.RowLen, p.OW).Clear();
                    }
                    var e0 = RowsPick(layout, step, multi, 2 * p.RowLen, 0); var o0 = RowsPick(layout, step, multi, 2 * p.RowLen, 1);
                    var e1 = RowsPick(layout, step, multi + p.RowLen, 2 * p.RowLen, 0); var o1 = RowsPick(layout, step, multi + p.RowLen, 2 * p.RowLen, 1);
                    float* dst = out0 + li * p.TW;
                    StoreGradientRow(e0, o0, dst, dXi);
                    StoreGradientRow(e0 + e1, o0 + o1, dst + 4 * dXi, dXi);
                    StoreGradientRow(e0 - e1, o0 - o1, dst + 8 * dXi, dXi);
                    StoreGradientRow(-e1, -o1, dst + 12 * dXi, dXi);
                }
                for (; li < rows; li++)
                {
                    int oy = 2 * (i0 + li);
                    CopyRow(top, dk + oy * dy.H, dy.W, p.OW);
                    float* lower = zero;
                    if (oy + 1 < p.OH) { CopyRow(bottom, dk + (oy + 1) * dy.H, dy.W, p.OW); lower = bottom; }
                    for (int j0 = 0; j0 < p.TW; j0 += Lanes)
                    {
                        // The 2×2 tiles of 16 tiles: e = columns 2j, o = columns 2j + 1, of the top (0) and bottom (1) rows.
                        var a = Vector512.Load(top + 2 * j0); var b = Vector512.Load(top + 2 * j0 + Lanes);
                        var e0 = Pick(a, Evens, b); var o0 = Pick(a, Odds, b);
                        a = Vector512.Load(lower + 2 * j0); b = Vector512.Load(lower + 2 * j0 + Lanes);
                        var e1 = Pick(a, Evens, b); var o1 = Pick(a, Odds, b);
                        // A dy: rows (e0, o0), (e0 + e1, o0 + o1), (e0 − e1, o0 − o1), (−e1, −o1); then each row (p, q) · Aᵀ
                        // = (p, p + q, p − q, −q).
                        float* dst = out0 + li * p.TW + j0;
                        StoreGradientRow(e0, o0, dst, dXi);
                        StoreGradientRow(e0 + e1, o0 + o1, dst + 4 * dXi, dXi);
                        StoreGradientRow(e0 - e1, o0 - o1, dst + 8 * dXi, dXi);
                        StoreGradientRow(-e1, -o1, dst + 12 * dXi, dXi);
                    }
                }
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void StoreGradientRow(Vector512<float> p0, Vector512<float> q, float* dst, nint dXi)
        {
            Vector512.Store(p0, dst);
            Vector512.Store(p0 + q, dst + dXi);
            Vector512.Store(p0 - q, dst + 2 * dXi);
            Vector512.Store(-q, dst + 3 * dXi);
        }
    }

    /// <summary>
    /// dw[k, c] (+)= Gᵀ Ṁ[k, c] G for the output channels [start, end), Ṁ being the groups' partials added in group order:
    /// 16 input channels per vector.
    /// </summary>
    private readonly struct FilterReduce(Plan p, float* partials, float* dw, bool accumulate) : IRangeBody
    {
        public void Run(int start, int end)
        {
            float* m = stackalloc float[Positions * Lanes];
            float* g = stackalloc float[9 * Lanes];
            long perGroup = (long)Positions * p.K * p.C;
            var half = Vector512.Create(0.5f);
            for (int k = start; k < end; k++)
                for (int c0 = 0; c0 < p.C; c0 += Lanes)
                {
                    int lanes = Math.Min(Lanes, p.C - c0);
                    for (int xi = 0; xi < Positions; xi++)
                    {
                        float* src = partials + (long)xi * p.K * p.C + (long)k * p.C + c0;
                        float* sum = m + xi * Lanes;
                        if (lanes == Lanes)
                        {
                            var acc = Vector512.Load(src);
                            for (int gi = 1; gi < p.Groups; gi++) acc += Vector512.Load(src + gi * perGroup);
                            Vector512.Store(acc, sum);
                        }
                        else
                            for (int l = 0; l < Lanes; l++)
                            {
                                float acc = src[Math.Min(l, lanes - 1)];
                                for (int gi = 1; gi < p.Groups; gi++) acc += src[Math.Min(l, lanes - 1) + gi * perGroup];
                                sum[l] = acc;
                            }
                    }
                    // Z = Gᵀ Ṁ (3×4): rows Ṁ0 + ½(Ṁ1 + Ṁ2), ½(Ṁ1 − Ṁ2), ½(Ṁ1 + Ṁ2) + Ṁ3; then dw = Z G, the same along each row.
                    for (int b = 0; b < 4; b++)
                    {
                        var m0 = Vector512.Load(m + b * Lanes); var m1 = Vector512.Load(m + (4 + b) * Lanes);
                        var m2 = Vector512.Load(m + (8 + b) * Lanes); var m3 = Vector512.Load(m + (12 + b) * Lanes);
                        var plus = (m1 + m2) * half;
                        Vector512.Store(m0 + plus, m + b * Lanes);
                        Vector512.Store((m1 - m2) * half, m + (4 + b) * Lanes);
                        Vector512.Store(plus + m3, m + (8 + b) * Lanes);
                    }
                    for (int r = 0; r < 3; r++)
                    {
                        var z0 = Vector512.Load(m + 4 * r * Lanes); var z1 = Vector512.Load(m + (4 * r + 1) * Lanes);
                        var z2 = Vector512.Load(m + (4 * r + 2) * Lanes); var z3 = Vector512.Load(m + (4 * r + 3) * Lanes);
                        var plus = (z1 + z2) * half;
                        Vector512.Store(z0 + plus, g + 3 * r * Lanes);
                        Vector512.Store((z1 - z2) * half, g + (3 * r + 1) * Lanes);
                        Vector512.Store(plus + z3, g + (3 * r + 2) * Lanes);
                    }
                    for (int l = 0; l < lanes; l++)
                    {
                        float* dst = dw + ((long)k * p.C + c0 + l) * 9;
                        for (int e = 0; e < 9; e++) dst[e] = accumulate ? dst[e] + g[e * Lanes + l] : g[e * Lanes + l];
                    }
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

    /// <summary>
    /// <see cref="RowTransform"/> for 16 tiles of one tile row (<paramref name="rows"/> = 1), else for <paramref name="rows"/>
    /// (2 or 4) tile rows of p.TW tiles: lane l = (q, j) = (l / TW, l % TW) reads d0..d3 = row_q[2j .. 2j + 3], where row_q =
    /// <paramref name="row"/> + 2q·RowLen (the same patch row of tile row q).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PatchRowTransform(in RowLayout l, int rows, float* row, out Vector512<float> h0, out Vector512<float> h1, out Vector512<float> h2, out Vector512<float> h3)
    {
        if (rows == 1) { RowTransform(row, out h0, out h1, out h2, out h3); return; }
        var d0 = RowsPick(l, rows, row, 2 * l.RowLen, 0);
        var d1 = RowsPick(l, rows, row, 2 * l.RowLen, 1);
        var d2 = RowsPick(l, rows, row, 2 * l.RowLen, 2);
        var d3 = RowsPick(l, rows, row, 2 * l.RowLen, 3);
        h0 = d0 - d2;
        h1 = d1 + d2;
        h2 = d2 - d1;
        h3 = d1 - d3;
    }

    /// <summary>
    /// Lane l = (q, j) = (l / TW, l % TW), q &lt; <paramref name="rows"/> (2 or 4), holds row_q[2j + <paramref name="offset"/>],
    /// row_q = <paramref name="row"/> + q·<paramref name="rowStep"/> (rows of at least 18 floats; TW ≤ 8): rows 0 and 1
    /// picked by one vpermt2ps (<see cref="Plan.RowCols"/>), rows 2 and 3 by another, blended in (<see cref="Plan.UpperPair"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> RowsPick(in RowLayout l, int rows, float* row, int rowStep, int offset)
    {
        // Loads from the row starts (offsets 0 and 1 of 8 tiles, every offset of 4: index 2j + offset < 16), or 2 floats on
        // (offsets 2 and 3 of 5 to 8 tiles), so the picks of one patch row share their loads.
        int at = offset < 2 ? 0 : l.At2;
        var idx = offset switch { 0 => l.Cols0, 1 => l.Cols1, 2 => l.Cols2, _ => l.Cols3 };
        var low = Pick(Vector512.Load(row + at), idx, Vector512.Load(row + rowStep + at));
        if (rows == 2) return low;
        var high = Pick(Vector512.Load(row + 2 * rowStep + at), idx, Vector512.Load(row + 3 * rowStep + at));
        return Vector512.ConditionalSelect(l.Upper, high, low);
    }

    /// <summary>A plan's lane layout for several tile rows per vector, held apart from the plan so the hot loops keep it in registers.</summary>
    private readonly struct RowLayout(in Plan p)
    {
        /// <summary>The pick indices for offsets 0..3, each from loads at the row start or, for offsets 2 and 3, At2 floats on.</summary>
        public readonly Vector512<int> Cols0 = p.RowCols, Cols1 = p.RowCols + Vector512<int>.One,
            Cols2 = p.RowCols + Vector512.Create(p.TW > 4 ? 0 : 2), Cols3 = p.RowCols + Vector512.Create(p.TW > 4 ? 1 : 3);
        public readonly Vector512<float> Upper = p.UpperPair;
        public readonly int At2 = p.TW > 4 ? 2 : 0;
        public readonly int RowLen = p.RowLen;
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

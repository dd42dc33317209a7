using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using System.Runtime.Intrinsics;

namespace DeepTrain.Backends.Cpu;

/// <summary>
/// Single-precision GEMM with arbitrary element strides, BLIS style (Van Zee &amp; van de Geijn,
/// "BLIS: A Framework for Rapidly Instantiating BLAS Functionality", 2015):
/// <code>
/// C[i, j] = α·Σ_p A[i, p]·B[p, j] + β·C[i, j]      A (M, K), B (K, N), C (M, N)
/// X[i, j] lives at x[i·rsX + j·csX]
/// </code>
/// Loops, outermost first: N by <see cref="NC"/>; K by <see cref="KC"/> (pack a KC×NC panel of B into
/// NR-wide column slivers); M by <see cref="MC"/> (pack an MC×KC block of A into MR-tall row slivers,
/// sized for L2); then the MR×NR micro-kernel walks one A sliver and one B sliver (L1) keeping the
/// whole C tile in 16 vector registers. Packing also zero-pads the ragged edges, so the kernel
/// always runs full tiles; edge tiles are written through a small stack tile. β = 0 never reads C
/// (a NaN already in C does not survive, as in BLAS and cuDNN).
/// One call is single-threaded; callers parallelise outside (over images, or over column blocks).
/// </summary>
internal static unsafe class CpuGemm
{
    /// <summary>Rows of the micro-tile (one broadcast each).</summary>
    public const int MR = 8;
    /// <summary>Columns of the micro-tile (two 8-float vectors).</summary>
    public const int NR = 16;
    /// <summary>Depth of a packed panel: one B sliver (KC·NR floats = 16 KiB) stays in L1.</summary>
    public const int KC = 256;
    /// <summary>Rows of a packed A block: MC·KC floats = 128 KiB stays in L2.</summary>
    public const int MC = 128;
    /// <summary>Columns of a packed B panel (KC·NC floats = 4 MiB, in L3).</summary>
    public const int NC = 4096;

    /// <summary>True where the vector kernel runs (AVX2 + FMA); otherwise a scalar kernel does.</summary>
    public static bool Vectorised => Fma.IsSupported && Vector256.IsHardwareAccelerated;

    /// <summary>
    /// C = α·A·B + β·C for the strided matrices described in the class summary, on this thread,
    /// using this thread's packing buffers.
    /// </summary>
    public static void Sgemm(int m, int n, int k, float alpha,
        float* a, nint rsA, nint csA, float* b, nint rsB, nint csB,
        float beta, float* c, nint rsC, nint csC)
        => Sgemm(m, n, k, alpha, a, rsA, csA, null, b, rsB, csB, beta, c, rsC, csC);

    /// <summary>
    /// <see cref="Sgemm(int, int, int, float, float*, nint, nint, float*, nint, nint, float, float*, nint, nint)"/>
    /// with indirect rows of A when <paramref name="aRowOff"/> is given: A[i, p] = a[aRowOff[i] + p·csA]
    /// (the rows of an implicit im2col matrix, each a shifted window of a padded image).
    /// </summary>
    public static void Sgemm(int m, int n, int k, float alpha,
        float* a, nint rsA, nint csA, int* aRowOff, float* b, nint rsB, nint csB,
        float beta, float* c, nint rsC, nint csC)
    {
        if (m <= 0 || n <= 0) return;
        if (csC != 1 && rsC == 1 && aRowOff == null)
        {
            // Cᵀ = Bᵀ·Aᵀ: solve the transposed problem so that the kernel stores contiguous rows.
            (m, n) = (n, m);
            float* t = a; a = b; b = t;
            (rsA, csA, rsB, csB) = (csB, rsB, csA, rsA);
            (rsC, csC) = (csC, rsC);
        }
        if (k <= 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, rsC, csC);
            return;
        }

        var scratch = CpuScratch.Current;
        int kcMax = Math.Min(k, KC);
        float* pa = scratch.Get(CpuScratch.Slot.PackA, (long)RoundUp(Math.Min(m, MC), MR) * kcMax);
        float* pb = scratch.Get(CpuScratch.Slot.PackB, (long)RoundUp(Math.Min(n, NC), NR) * kcMax);

        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                float betaPass = pc == 0 ? beta : 1f;   // later K panels add onto the first's result
                PackB(kc, nc, b + pc * rsB + jc * csB, rsB, csB, null, pb);
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    PackA(mc, kc, a + pc * csA + (aRowOff == null ? ic * rsA : 0), rsA, csA, aRowOff == null ? null : aRowOff + ic, pa);
                    Macro(mc, nc, kc, alpha, pa, pb, betaPass, c + ic * rsC + jc * csC, rsC, csC);
                }
            }
        }
    }

    /// <summary>
    /// C = α·A·B + β·C where A (M, K) was already packed by <see cref="PackAll"/> (shared read-only
    /// between threads, e.g. a convolution's weights). K must not exceed the packing's K.
    /// </summary>
    public static void SgemmPackedA(int m, int n, int k, float alpha, float* packedA,
        float* b, nint rsB, nint csB, float beta, float* c, nint rsC, nint csC)
        => SgemmPackedA(m, n, k, alpha, packedA, b, rsB, csB, null, beta, c, rsC, csC);

    /// <summary>
    /// <see cref="SgemmPackedA(int, int, int, float, float*, float*, nint, nint, float, float*, nint, nint)"/>
    /// with indirect rows of B when <paramref name="bRowOff"/> is given: B[p, j] = b[bRowOff[p] + j·csB].
    /// This is im2col without the copy: row (c, r, s) of the column matrix of a stride-1 convolution
    /// is a contiguous window of the padded image, so packing reads the image directly.
    /// </summary>
    public static void SgemmPackedA(int m, int n, int k, float alpha, float* packedA,
        float* b, nint rsB, nint csB, int* bRowOff, float beta, float* c, nint rsC, nint csC)
        => SgemmPackedA(m, n, k, alpha, packedA, m, 0, b, rsB, csB, bRowOff, beta, c, rsC, csC);

    /// <summary>
    /// <see cref="SgemmPackedA(int, int, int, float, float*, float*, nint, nint, int*, float, float*, nint, nint)"/> over the
    /// rows [<paramref name="rowStart"/>, <paramref name="rowStart"/> + m) of a matrix of <paramref name="packedRows"/> rows
    /// packed by <see cref="PackAll"/> (rowStart a multiple of <see cref="MR"/>): threads may split one packed A by rows.
    /// </summary>
    public static void SgemmPackedA(int m, int n, int k, float alpha, float* packedA, int packedRows, int rowStart,
        float* b, nint rsB, nint csB, int* bRowOff, float beta, float* c, nint rsC, nint csC)
    {
        System.Diagnostics.Debug.Assert(rowStart % MR == 0 && rowStart + m <= packedRows);
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || alpha == 0f)
        {
            ScaleC(m, n, beta, c, rsC, csC);
            return;
        }
        var scratch = CpuScratch.Current;
        int kcMax = Math.Min(k, KC);
        float* pb = scratch.Get(CpuScratch.Slot.PackB, (long)RoundUp(Math.Min(n, NC), NR) * kcMax);
        int mPad = RoundUp(packedRows, MR);
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                // PackAll stores each K panel as mPad×kc slivers back to back; row r's sliver starts at r·kc in its panel.
                float* pa = packedA + (long)pc * mPad + (long)rowStart * kc;
                if (bRowOff != null && csB == 1 && Vector512.IsHardwareAccelerated)
                {
                    // Indirect rows are already contiguous 16-float runs: the kernel reads them in place and
                    // only the ragged last sliver is packed (saves a copy of B as large as the image's col).
                    int full = nc / NR * NR;
                    MacroRows(m, full, kc, alpha, pa, b + jc, bRowOff + pc, pc == 0 ? beta : 1f, c + jc * csC, rsC, csC);
                    if (full < nc)
                    {
                        PackB(kc, nc - full, b + jc + full, rsB, 1, bRowOff + pc, pb);
                        Macro(m, nc - full, kc, alpha, pa, pb, pc == 0 ? beta : 1f, c + (jc + full) * csC, rsC, csC);
                    }
                    continue;
                }
                PackB(kc, nc, b + jc * csB + (bRowOff == null ? pc * rsB : 0), rsB, csB, bRowOff == null ? null : bRowOff + pc, pb);
                Macro(m, nc, kc, alpha, pa, pb, pc == 0 ? beta : 1f, c + jc * csC, rsC, csC);
            }
        }
    }

    /// <summary>Floats <see cref="PackAll"/> writes for an (M, K) matrix.</summary>
    public static long PackedASize(int m, int k) => (long)RoundUp(m, MR) * k;

    /// <summary>
    /// Packs all of A (M, K) for SgemmPackedA: K panel by K panel, each panel's MR-row
    /// slivers contiguous, so a later call reads it exactly as Sgemm would have packed it.
    /// </summary>
    public static void PackAll(int m, int k, float* a, nint rsA, nint csA, float* dst)
    {
        int mPad = RoundUp(m, MR);
        for (int pc = 0; pc < k; pc += KC)
        {
            int kc = Math.Min(KC, k - pc);
            PackA(m, kc, a + pc * csA, rsA, csA, null, dst + (long)pc * mPad);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int RoundUp(int x, int q) => (x + q - 1) / q * q;

    private static void ScaleC(int m, int n, float beta, float* c, nint rsC, nint csC)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float* p = c + i * rsC + j * csC;
                *p = beta == 0f ? 0f : beta * *p;
            }
    }

    /// <summary>
    /// Packs A (mc, kc) into MR-row slivers: sliver s holds A[s·MR + i, p] at [s·MR·kc + p·MR + i],
    /// rows past mc are zero. Row i starts at a + i·rsA, or at a + rowOff[i] when rowOff is given.
    /// </summary>
    private static void PackA(int mc, int kc, float* a, nint rsA, nint csA, int* rowOff, float* dst)
    {
        float** rows = stackalloc float*[MR];
        for (int i0 = 0; i0 < mc; i0 += MR)
        {
            int mr = Math.Min(MR, mc - i0);
            float* d = dst + (long)i0 * kc;
            for (int i = 0; i < MR; i++)
                rows[i] = i < mr ? (rowOff == null ? a + (i0 + i) * rsA : a + rowOff[i0 + i]) : null;
            if (mr == MR && rowOff == null && rsA == 1 && Vector256.IsHardwareAccelerated)
            {
                // Column-major A (a transposed operand): each column's 8 rows are contiguous.
                float* src = rows[0];
                for (int p = 0; p < kc; p++)
                    Vector256.Store(Vector256.Load(src + p * csA), d + p * MR);
            }
            else if (mr == MR && csA == 1)
            {
                // Row-major A: 8 rows of contiguous values become 8-float columns, 8×8 at a time.
                int p = 0;
                if (Avx.IsSupported)
                    for (; p <= kc - 8; p += 8)
                        Transpose8x8(rows, p, d + p * MR);
                for (; p < kc; p++)
                    for (int i = 0; i < MR; i++) d[p * MR + i] = rows[i][p];
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    int i = 0;
                    for (; i < mr; i++) d[p * MR + i] = rows[i][p * csA];
                    for (; i < MR; i++) d[p * MR + i] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// Packs B (kc, nc) into NR-column slivers: sliver s holds B[p, s·NR + j] at [s·NR·kc + p·NR + j],
    /// columns past nc are zero. Row p starts at b + p·rsB, or at b + rowOff[p] when rowOff is given.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(int kc, int nc, float* b, nint rsB, nint csB, int* rowOff, float* dst)
    {
        float** cols = stackalloc float*[8];
        for (int j0 = 0; j0 < nc; j0 += NR)
        {
            int nr = Math.Min(NR, nc - j0);
            float* src = b + j0 * csB;
            float* d = dst + (long)j0 * kc;
            if (nr == NR && csB == 1 && Vector256.IsHardwareAccelerated)
            {
                // Row-major B: each row's 16 columns are contiguous.
                if (Vector512.IsHardwareAccelerated)
                    for (int p = 0; p < kc; p++)
                        Vector512.Store(Vector512.Load(rowOff == null ? src + p * rsB : src + rowOff[p]), d + p * NR);
                else
                    for (int p = 0; p < kc; p++)
                    {
                        float* s = rowOff == null ? src + p * rsB : src + rowOff[p];
                        Vector256.Store(Vector256.Load(s), d + p * NR);
                        Vector256.Store(Vector256.Load(s + 8), d + p * NR + 8);
                    }
            }
            else if (nr == NR && rsB == 1 && rowOff == null)
            {
                // Column-major B (a transposed operand): columns are contiguous; transpose 8×8 blocks
                // into the two halves of each packed row.
                int p = 0;
                if (Avx.IsSupported)
                    for (; p <= kc - 8; p += 8)
                        for (int h = 0; h < 2; h++)
                        {
                            for (int j = 0; j < 8; j++) cols[j] = src + (h * 8 + j) * csB;
                            Transpose8x8(cols, p, d + p * NR + h * 8, NR);
                        }
                for (; p < kc; p++)
                    for (int j = 0; j < NR; j++) d[p * NR + j] = src[p + j * csB];
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* s = rowOff == null ? src + p * rsB : src + rowOff[p];
                    int j = 0;
                    for (; j < nr; j++) d[p * NR + j] = s[j * csB];
                    for (; j < NR; j++) d[p * NR + j] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// dst[q·ld + i] = src[i][p + q] for i, q in [0, 8): eight 8-float row segments become eight
    /// 8-float columns (unpack pairs, shuffle quads, swap 128-bit halves; the classic AVX 8×8 transpose).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float** src, int p, float* dst, int ld = 8)
    {
        var r0 = Avx.LoadVector256(src[0] + p); var r1 = Avx.LoadVector256(src[1] + p);
        var r2 = Avx.LoadVector256(src[2] + p); var r3 = Avx.LoadVector256(src[3] + p);
        var r4 = Avx.LoadVector256(src[4] + p); var r5 = Avx.LoadVector256(src[5] + p);
        var r6 = Avx.LoadVector256(src[6] + p); var r7 = Avx.LoadVector256(src[7] + p);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst + 0 * ld, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + 1 * ld, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ld, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ld, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ld, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ld, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ld, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ld, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>The two inner loops over micro-tiles of one packed A block and one packed B panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Macro(int mc, int nc, int kc, float alpha, float* pa, float* pb, float beta, float* c, nint rsC, nint csC)
    {
        float* tile = stackalloc float[MR * NR];
        for (int j0 = 0; j0 < nc; j0 += NR)
        {
            int nr = Math.Min(NR, nc - j0);
            float* bs = pb + (long)j0 * kc;
            for (int i0 = 0; i0 < mc; i0 += MR)
            {
                int mr = Math.Min(MR, mc - i0);
                float* asl = pa + (long)i0 * kc;
                float* ct = c + i0 * rsC + j0 * csC;
                if (mr == MR && nr == NR && csC == 1)
                {
                    Kernel(kc, asl, bs, ct, rsC, alpha, beta);
                }
                else
                {
                    // Edge tile: full-size product into the stack tile, then only the valid part.
                    Kernel(kc, asl, bs, tile, NR, 1f, 0f);
                    for (int i = 0; i < mr; i++)
                        for (int j = 0; j < nr; j++)
                        {
                            float* p = ct + i * rsC + j * csC;
                            float v = alpha * tile[i * NR + j];
                            *p = beta == 0f ? v : v + beta * *p;
                        }
                }
            }
        }
    }

    /// <summary>
    /// <see cref="Macro"/> over full NR-column slivers whose B rows are read in place:
    /// B[p, j0 + j] = b[rowOff[p] + j0 + j] (nc a multiple of NR).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroRows(int mc, int nc, int kc, float alpha, float* pa, float* b, int* rowOff, float beta, float* c, nint rsC, nint csC)
    {
        float* tile = stackalloc float[MR * NR];
        for (int j0 = 0; j0 < nc; j0 += NR)
            for (int i0 = 0; i0 < mc; i0 += MR)
            {
                int mr = Math.Min(MR, mc - i0);
                float* asl = pa + (long)i0 * kc;
                float* ct = c + i0 * rsC + j0 * csC;
                if (mr == MR && csC == 1)
                {
                    KernelRows512(kc, asl, b + j0, rowOff, ct, rsC, alpha, beta);
                    continue;
                }
                KernelRows512(kc, asl, b + j0, rowOff, tile, NR, 1f, 0f);
                for (int i = 0; i < mr; i++)
                    for (int j = 0; j < NR; j++)
                    {
                        float* p = ct + i * rsC + j * csC;
                        float v = alpha * tile[i * NR + j];
                        *p = beta == 0f ? v : v + beta * *p;
                    }
            }
    }

    /// <summary><see cref="Kernel512"/> with B's rows read in place at b + rowOff[p] instead of from a packed sliver.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelRows512(int kc, float* a, float* b, int* rowOff, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default,
            c4 = default, c5 = default, c6 = default, c7 = default;
        for (int p = 0; p < kc; p++)
        {
            var bv = Vector512.Load(b + rowOff[p]);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), bv, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), bv, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), bv, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), bv, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), bv, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), bv, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), bv, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), bv, c7);
            a += MR;
        }
        Store512(c, alpha, beta, c0);
        Store512(c + ldc, alpha, beta, c1);
        Store512(c + 2 * ldc, alpha, beta, c2);
        Store512(c + 3 * ldc, alpha, beta, c3);
        Store512(c + 4 * ldc, alpha, beta, c4);
        Store512(c + 5 * ldc, alpha, beta, c5);
        Store512(c + 6 * ldc, alpha, beta, c6);
        Store512(c + 7 * ldc, alpha, beta, c7);
    }

    /// <summary>
    /// The MR×NR micro-kernel: C[0..8, 0..16] = α·Σ_p a[p, 0..8] ⊗ b[p, 0..16] + β·C, with the 8×16
    /// accumulator in sixteen 256-bit registers (16 FMAs per 2 loads and 8 broadcasts per step of p).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Kernel512(kc, a, b, c, ldc, alpha, beta);
            return;
        }
        if (!Vectorised)
        {
            KernelScalar(kc, a, b, c, ldc, alpha, beta);
            return;
        }
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default,
            c20 = default, c21 = default, c30 = default, c31 = default,
            c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c00 = Fma.MultiplyAdd(a0, b0, c00); c01 = Fma.MultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]);
            c10 = Fma.MultiplyAdd(a1, b0, c10); c11 = Fma.MultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]);
            c20 = Fma.MultiplyAdd(a2, b0, c20); c21 = Fma.MultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]);
            c30 = Fma.MultiplyAdd(a3, b0, c30); c31 = Fma.MultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(a[4]);
            c40 = Fma.MultiplyAdd(a4, b0, c40); c41 = Fma.MultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(a[5]);
            c50 = Fma.MultiplyAdd(a5, b0, c50); c51 = Fma.MultiplyAdd(a5, b1, c51);
            var a6 = Vector256.Create(a[6]);
            c60 = Fma.MultiplyAdd(a6, b0, c60); c61 = Fma.MultiplyAdd(a6, b1, c61);
            var a7 = Vector256.Create(a[7]);
            c70 = Fma.MultiplyAdd(a7, b0, c70); c71 = Fma.MultiplyAdd(a7, b1, c71);
            a += MR;
            b += NR;
        }
        Store(c, alpha, beta, c00, c01);
        Store(c + ldc, alpha, beta, c10, c11);
        Store(c + 2 * ldc, alpha, beta, c20, c21);
        Store(c + 3 * ldc, alpha, beta, c30, c31);
        Store(c + 4 * ldc, alpha, beta, c40, c41);
        Store(c + 5 * ldc, alpha, beta, c50, c51);
        Store(c + 6 * ldc, alpha, beta, c60, c61);
        Store(c + 7 * ldc, alpha, beta, c70, c71);
    }

    /// <summary>
    /// The same 8×16 tile with one 512-bit register per row: 8 FMAs per load and 8 broadcasts, a third
    /// fewer instructions than the 256-bit kernel for the same flops (Zen 4 splits each 512-bit FMA
    /// into two 256-bit halves, so the gain is decode and issue bandwidth, not peak).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default,
            c4 = default, c5 = default, c6 = default, c7 = default;
        for (int p = 0; p < kc; p++)
        {
            var bv = Vector512.Load(b);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), bv, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[1]), bv, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2]), bv, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3]), bv, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4]), bv, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5]), bv, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6]), bv, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7]), bv, c7);
            a += MR;
            b += NR;
        }
        Store512(c, alpha, beta, c0);
        Store512(c + ldc, alpha, beta, c1);
        Store512(c + 2 * ldc, alpha, beta, c2);
        Store512(c + 3 * ldc, alpha, beta, c3);
        Store512(c + 4 * ldc, alpha, beta, c4);
        Store512(c + 5 * ldc, alpha, beta, c5);
        Store512(c + 6 * ldc, alpha, beta, c6);
        Store512(c + 7 * ldc, alpha, beta, c7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, float alpha, float beta, Vector512<float> v)
    {
        v *= Vector512.Create(alpha);
        if (beta != 0f) v = Vector512.FusedMultiplyAdd(Vector512.Create(beta), Vector512.Load(c), v);
        Vector512.Store(v, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, float alpha, float beta, Vector256<float> v0, Vector256<float> v1)
    {
        var va = Vector256.Create(alpha);
        v0 *= va;
        v1 *= va;
        if (beta != 0f)
        {
            var vb = Vector256.Create(beta);
            v0 = Fma.MultiplyAdd(vb, Vector256.Load(c), v0);
            v1 = Fma.MultiplyAdd(vb, Vector256.Load(c + 8), v1);
        }
        Vector256.Store(v0, c);
        Vector256.Store(v1, c + 8);
    }

    private static void KernelScalar(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        float* acc = stackalloc float[MR * NR];
        new Span<float>(acc, MR * NR).Clear();
        for (int p = 0; p < kc; p++, a += MR, b += NR)
            for (int i = 0; i < MR; i++)
                for (int j = 0; j < NR; j++)
                    acc[i * NR + j] += a[i] * b[j];
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++)
            {
                float v = alpha * acc[i * NR + j];
                c[i * ldc + j] = beta == 0f ? v : v + beta * c[i * ldc + j];
            }
    }
}

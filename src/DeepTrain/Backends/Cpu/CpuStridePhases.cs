using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepTrain.Backends.Cpu;

// The data gradient of a strided convolution (dilation 1) by stride phases, without col2im. For stride (sh, sw) and padding
// (ph, pw), one image and one group,
//
//   dx[c, ih, iw] = Σ_k Σ_{r, s : ih = oh·sh − ph + r, iw = ow·sw − pw + s} w[k, c, r, s] · dy[k, oh, ow]
//
// Split dx into its sh·sw phases, dx_(a, b)[c, i, j] = dx[c, i·sh + a, j·sw + b]. Row ih = i·sh + a is reached only by the taps
// r ≡ a + ph (mod sh), from dy row oh = i + (a + ph − r)/sh: so each phase is a stride-1 correlation of dy with a sub-filter of
// the taps that reach it, shifted by whole rows and columns (dh = (a + ph − r)/sh, consecutive for consecutive such r):
//
//   dx_(a, b)[c, i, j] = Σ_k Σ_{r ∈ R_a, s ∈ S_b} w[k, c, r, s] · dy[k, i + dh(r), j + dw(s)]      (dy zero outside)
//
// For 3×3, stride 2, pad 1: R_0 = {1} (dh 0), R_1 = {2, 0} (dh 0, 1), so the four phases take 1×1, 1×2, 2×1 and 2×2 taps: 9 in
// all, the same multiplications as the dense product, none spent on the zeros col2im scatters. A 1×1 stride-2 unpadded
// convolution has one phase of one tap (dx's even pixels = wᵀ·dy) and three phases of none (zeros).
//
// Each phase is one implicit-im2col GEMM (CpuGemm's row-offset B operand), as the stride-1 paths: dy is copied once per image
// into a zero-bordered (Kg, Hd, Wd) plane stack with room for every phase's shifts, row (k, r, s) of the phase's column matrix is
// the window of that plane at row dh(r) and column dw(s), and the product
//
//   t_(a, b) (Cg, ext_a·Wd) = A_(a, b) (Cg, Kg·|R_a|·|S_b|) · col_(a, b)          A[c, (k, r, s)] = w[k, c, r, s]
//
// runs over the plane's whole width (columns j ≥ ext_b are dropped, as in CpuIm2Col's padded-width products). Its valid
// columns are then stored straight into the phase's pixels of dx, every dx element written once: no zeroing pass, no
// scatter-add. With stride 2 along W and NCHW, the row phases b = 0 and 1 are interleaved into dx's row eight pairs at a time.
//
// Each dx element is one GEMM dot product over (k, r, s) in a fixed order, whichever thread computes its image: the result
// does not depend on the thread count. It differs from col2im's in the last bits (col2im adds the taps' products one tap at a
// time into dx; here one dot product sums them), so DEEPTRAIN_CPU_CONV=im2col keeps col2im and the older bits.
internal static unsafe class CpuStridePhases
{
    /// <summary>Whether the data gradient of this geometry can go by stride phases: a stride above 1 and dilation 1.</summary>
    public static bool Fits(in ConvGeometry g)
        => (g.Spec.StrideH > 1 || g.Spec.StrideW > 1) && g.Spec.DilationH == 1 && g.Spec.DilationW == 1;

    /// <summary>
    /// The taps of one axis: for each phase a in [0, stride), how many taps reach it (<see cref="Count"/>), the smallest dy shift
    /// among them (<see cref="First"/>; the taps' shifts are First, First + 1, …) and the phase's length in dx (<see cref="Extent"/>);
    /// and the zero-bordered dy plane's leading border (<see cref="Lead"/>) and length (<see cref="Length"/>) that hold every
    /// phase's windows. Three ints per phase live at <see cref="Data"/>.
    /// </summary>
    public readonly struct Axis
    {
        public readonly int* Data;
        public readonly int Stride, Pad, Lead, Length;

        /// <summary>Fills 3·stride ints at <paramref name="data"/> for an axis of <paramref name="size"/> inputs, <paramref name="outSize"/> outputs, <paramref name="taps"/> filter taps.</summary>
        public Axis(int* data, int size, int outSize, int taps, int stride, int pad)
        {
            Data = data; Stride = stride; Pad = pad;
            int lead = 0, end = outSize;
            for (int a = 0; a < stride; a++)
            {
                int count = 0, first = 0;
                // Taps r ≡ a + pad (mod stride), largest first: shifts (a + pad − r)/stride ascending (exact division).
                for (int r = taps - 1; r >= 0; r--)
                {
                    if ((a + pad - r) % stride != 0) continue;
                    if (count++ == 0) first = (a + pad - r) / stride;
                }
                int extent = a < size ? (size - a + stride - 1) / stride : 0;
                data[3 * a] = count; data[3 * a + 1] = first; data[3 * a + 2] = extent;
                if (count == 0 || extent == 0) continue;
                lead = Math.Max(lead, -first);
                end = Math.Max(end, extent - 1 + first + count);     // one past the last dy index a window reads
            }
            Lead = lead;
            Length = lead + end;
        }

        public int Count(int a) => Data[3 * a];
        public int First(int a) => Data[3 * a + 1];
        public int Extent(int a) => Data[3 * a + 2];

        /// <summary>Filter tap of the phase's t-th shift (t = 0 is <see cref="First"/>).</summary>
        public int Tap(int a, int t) => a + Pad - Stride * (First(a) + t);

        /// <summary>The longest phase.</summary>
        public int MaxExtent => Extent(0);
    }

    /// <summary>Ints <see cref="Plan"/> writes to its int buffer: both axes' tables and every phase's row offsets.</summary>
    public static long PlanInts(in ConvGeometry g) => 3L * (g.Spec.StrideH + g.Spec.StrideW) + (long)g.Kg * g.R * g.S;

    /// <summary>
    /// Floats <see cref="Plan"/> writes to its float buffer: every phase's packed weights per group (each tap reaches exactly one
    /// phase, so the phases' depths sum to Kg·R·S) and one unpacked sub-filter.
    /// </summary>
    public static long PlanFloats(in ConvGeometry g) => g.G * CpuGemm.PackedASize(g.Cg, g.Kg * g.R * g.S) + (long)g.Cg * g.Kg * g.R * g.S;

    /// <summary>Per-thread floats: the bordered dy planes (and the tail the last windows read past) and one row phase's products.</summary>
    public static (long Planes, long Products) ThreadFloats(in ConvGeometry g, in Axis ah, in Axis aw)
        => ((long)g.Kg * ah.Length * aw.Length + aw.Length + 16, (long)g.Spec.StrideW * g.Cg * ah.MaxExtent * aw.Length);

    /// <summary>
    /// Everything a call shares between its threads, made once on the calling thread: the axes' tables and, phase by phase
    /// ((a, b) in row-major order, skipping phases no tap reaches), the row offsets of its column matrix in the dy planes
    /// (Kg·|R_a|·|S_b| ints) and its weights A_(a, b) packed for the GEMM, group after group.
    /// </summary>
    public static (Axis H, Axis W) Plan(in ConvGeometry g, float* w, int* ints, float* floats)
    {
        var ah = new Axis(ints, g.H, g.OH, g.R, g.Spec.StrideH, g.Spec.PadH);
        var aw = new Axis(ints + 3 * g.Spec.StrideH, g.W, g.OW, g.S, g.Spec.StrideW, g.Spec.PadW);
        int* offs = ints + 3 * (g.Spec.StrideH + g.Spec.StrideW);
        float* packed = floats;
        float* sub = floats + PlanFloats(g) - (long)g.Cg * g.Kg * g.R * g.S;     // the unpacked A of one phase and group
        int plane = ah.Length * aw.Length;
        for (int a = 0; a < ah.Stride; a++)
            for (int b = 0; b < aw.Stride; b++)
            {
                int nr = ah.Count(a), ns = aw.Count(b), depth = g.Kg * nr * ns;
                if (depth == 0) continue;
                for (int k = 0; k < g.Kg; k++)
                    for (int tr = 0; tr < nr; tr++)
                        for (int ts = 0; ts < ns; ts++)
                            *offs++ = k * plane + (ah.Lead + ah.First(a) + tr) * aw.Length + aw.Lead + aw.First(b) + ts;
                for (int gi = 0; gi < g.G; gi++)
                {
                    float* wg = w + (nint)gi * g.Kg * g.Crs;     // w (K, Cg, R, S), this group's Kg filters
                    for (int c = 0; c < g.Cg; c++)
                        for (int k = 0; k < g.Kg; k++)
                            for (int tr = 0; tr < nr; tr++)
                                for (int ts = 0; ts < ns; ts++)
                                    sub[(nint)c * depth + (k * nr + tr) * ns + ts] = wg[((nint)k * g.Cg + c) * g.R * g.S + ah.Tap(a, tr) * g.S + aw.Tap(b, ts)];
                    CpuGemm.PackAll(g.Cg, depth, sub, depth, 1, packed);
                    packed += CpuGemm.PackedASize(g.Cg, depth);
                }
            }
        return (ah, aw);
    }

    /// <summary>
    /// dx_g (Cg, H, W) = (or += when <paramref name="accumulate"/>) the data gradient of one image and group from dy_g (Kg, OH, OW),
    /// with the tables, offsets and packed weights <see cref="Plan"/> made (<paramref name="group"/> picks this group's weights).
    /// </summary>
    public static void Image(in ConvGeometry g, in Axis ah, in Axis aw, int* offs, float* packed, int group,
        float* dy, nint dyC, nint dyH, nint dyW, float* dx, nint dxC, nint dxH, nint dxW, bool accumulate)
    {
        var scratch = CpuScratch.Current;
        var (planeFloats, productFloats) = ThreadFloats(g, ah, aw);
        float* planes = scratch.Get(CpuScratch.Slot.Columns, planeFloats);
        float* t = scratch.Get(CpuScratch.Slot.Output, productFloats);
        Border(g, ah, aw, dy, dyC, dyH, dyW, planes);
        int wd = aw.Length;
        for (int a = 0; a < ah.Stride; a++)
        {
            int ext = ah.Extent(a);
            long ld = (long)ext * wd;     // one phase's product (Cg, ext·Wd)
            for (int b = 0; b < aw.Stride; b++)
            {
                int depth = g.Kg * ah.Count(a) * aw.Count(b);
                if (depth == 0) continue;
                float* pa = packed + (long)group * CpuGemm.PackedASize(g.Cg, depth);
                if (ext > 0)
                    CpuGemm.SgemmPackedA(g.Cg, checked((int)ld), depth, 1f, pa, planes, 0, 1, offs, 0f, t + b * g.Cg * ld, (nint)ld, 1);
                offs += depth;
                packed += (long)g.G * CpuGemm.PackedASize(g.Cg, depth);
            }
            if (ext == 0) continue;
            Store(g, ah, aw, a, t, ld, dx, dxC, dxH, dxW, accumulate);
        }
    }

    /// <summary>planes (Kg, Hd, Wd) = dy_g placed at (Lead_h, Lead_w), zero elsewhere, plus a zero tail of Wd + 16.</summary>
    private static void Border(in ConvGeometry g, in Axis ah, in Axis aw, float* dy, nint dyC, nint dyH, nint dyW, float* planes)
    {
        int wd = aw.Length, lead = aw.Lead, ow = g.OW;
        float* d = planes;
        for (int k = 0; k < g.Kg; k++)
            for (int y = 0; y < ah.Length; y++, d += wd)
            {
                int oh = y - ah.Lead;
                if ((uint)oh >= (uint)g.OH) { CpuIm2Col.Zero(d, wd); continue; }
                CpuIm2Col.Zero(d, lead);
                float* src = dy + k * dyC + oh * dyH;
                if (dyW == 1) CpuIm2Col.Copy(d + lead, src, ow);
                else for (int x = 0; x < ow; x++) d[lead + x] = src[x * dyW];
                CpuIm2Col.Zero(d + lead + ow, wd - lead - ow);
            }
        CpuIm2Col.Zero(d, wd + 16);
    }

    /// <summary>Writes the products of row phase <paramref name="a"/> (one per column phase b, <paramref name="ld"/> apart) into dx's pixels (a + sh·i, b + sw·j).</summary>
    private static void Store(in ConvGeometry g, in Axis ah, in Axis aw, int a, float* t, long ld, float* dx, nint dxC, nint dxH, nint dxW, bool accumulate)
    {
        int ext = ah.Extent(a), wd = aw.Length;
        bool rowReached = ah.Count(a) > 0;
        if (!rowReached && accumulate) return;      // adds nothing
        // Stride 2 along contiguous rows: both column phases interleaved eight pairs at a time (an unreached one as zeros).
        bool pairs = aw.Stride == 2 && dxW == 1 && Avx.IsSupported && (!accumulate || aw.Count(0) > 0 && aw.Count(1) > 0);
        for (int c = 0; c < g.Cg; c++)
            for (int i = 0; i < ext; i++)
            {
                float* row = dx + c * dxC + (a + ah.Stride * i) * dxH;
                if (!rowReached)
                {
                    // No tap reaches this row of dx at all: zero it whole.
                    if (dxW == 1) CpuIm2Col.Zero(row, g.W);
                    else for (int x = 0; x < g.W; x++) row[x * dxW] = 0f;
                    continue;
                }
                float* src = t + (long)c * ld + (long)i * wd;
                int j0 = 0;
                if (pairs) j0 = Interleave(aw.Count(0) > 0 ? src : null, aw.Count(1) > 0 ? src + g.Cg * ld : null, row, aw.Extent(1), accumulate);
                for (int b = 0; b < aw.Stride; b++)
                {
                    bool reached = aw.Count(b) > 0;     // a phase no tap reaches is zero
                    if (!reached && accumulate) continue;
                    float* s = src + b * g.Cg * ld;
                    for (int j = j0; j < aw.Extent(b); j++)
                    {
                        float v = reached ? s[j] : 0f;
                        float* d = row + (b + aw.Stride * (nint)j) * dxW;
                        *d = accumulate ? *d + v : v;
                    }
                }
            }
    }

    /// <summary>
    /// row[2j] = (row[2j] +) even[j], row[2j + 1] = (row[2j + 1] +) odd[j] (null: zeros) for j below a multiple of 8 not past
    /// <paramref name="pairs"/>; returns that bound (the caller stores the rest).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Interleave(float* even, float* odd, float* row, int pairs, bool accumulate)
    {
        int j = 0;
        for (; j <= pairs - 8; j += 8)
        {
            // A null phase (no tap reaches it; only without accumulation) stores zeros.
            var e = even == null ? Vector256<float>.Zero : Avx.LoadVector256(even + j);
            var o = odd == null ? Vector256<float>.Zero : Avx.LoadVector256(odd + j);
            var lo = Avx.UnpackLow(e, o);       // e0 o0 e1 o1 | e4 o4 e5 o5
            var hi = Avx.UnpackHigh(e, o);      // e2 o2 e3 o3 | e6 o6 e7 o7
            var v0 = Avx.Permute2x128(lo, hi, 0x20);
            var v1 = Avx.Permute2x128(lo, hi, 0x31);
            float* d = row + 2 * j;
            if (accumulate)
            {
                v0 = Avx.LoadVector256(d) + v0;
                v1 = Avx.LoadVector256(d + 8) + v1;
            }
            Avx.Store(d, v0);
            Avx.Store(d + 8, v1);
        }
        return j;
    }
}

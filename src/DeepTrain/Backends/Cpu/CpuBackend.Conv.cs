using System.Runtime.Intrinsics;
using ConvGeom = DeepTrain.Backends.ConvGeometry;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cpu;

// Convolution and dense products (PyTorch: torch.nn.functional.conv2d, torch.matmul).
//
// Every convolution is lowered per image and per group to one GEMM over im2col columns
// (CpuIm2Col): with Cg = C/groups, Kg = K/groups, P = OH·OW,
//   forward          y_g (Kg, P)      = w_g (Kg, Cg·R·S) · col (Cg·R·S, P)
//   backward data    dcol (Cg·R·S, P) = w_gᵀ · dy_g (Kg, P),      then dx += col2im(dcol)
//   backward filter  dw_g (Kg, Cg·R·S) += dy_g (Kg, P) · colᵀ     summed over the batch
// A 1×1 stride-1 unpadded convolution needs no im2col: x itself is col (C, H·W) read with strides.
// Every other forward and filter gradient uses implicit im2col (CpuIm2Col.Phases): the GEMM reads its
// operand straight from a zero-padded (for stride > 1, phase-split) copy of the image, which is ~R·S× smaller
// than col and takes one cheap pass to make. Backward data of a stride-1 convolution is itself a stride-1
// convolution of dy with the flipped, transposed filter w′[c, k, r, s] = w[k, c, R−1−r, S−1−s] and padding
// dil·(R−1) − pad, so it takes the same path; only strided backward data builds dcol and runs col2im.
// Tensors are addressed through their element strides, so NCHW and NHWC run the same code (the GEMM
// takes any strides, and turns a channels-last output into the transposed product itself).
// Threads split the batch into contiguous runs of images; each thread owns its im2col buffer and,
// for the filter gradient, a private dw that is added into the result at the end, run after run in image order. A
// forward pass with fewer images than threads (batch-1 inference) splits each large image's GEMM over blocks of output
// columns (pixels) instead; each output element is computed the same way either way.
// Inference fuses ReLU into the forward epilogue (y = max(conv + bias, 0), Conv2dForward's relu overload), and a session passes
// its weights already packed for the GEMM (CpuGemmWeights) and Winograd-transformed (CpuWinogradWeights), made once at load.
// 3×3 stride-1 ungrouped forwards, data gradients and filter gradients may take Winograd F(2×2, 3×3) instead (CpuWinograd; the
// rule is UseWinograd, per call kind, documented in docs/architecture.md, "Convolution algorithms on the CPU";
// DEEPTRAIN_CPU_CONV=im2col turns it off).
public sealed partial class CpuBackend
{
    /// <summary>The smallest per-image, per-group forward product (flops) that a batch smaller than the thread count splits over columns.</summary>
    /// <remarks>Settable for measurements (InferenceBench's <c>--split-min-flops</c>); the library never changes it.</remarks>
    internal static long SplitColumnsMinFlops { get; set; } = 16L << 20;

    /// <summary>A tensor's base pointer and (N, C, H, W) element strides.</summary>
    private readonly unsafe struct View4(float* p, nint n, nint c, nint h, nint w)
    {
        public readonly float* P = p;
        public readonly nint N = n, C = c, H = h, W = w;

        public static View4 Of(Tensor t)
        {
            var (n, c, h, w) = t.Strides4;
            return new View4((float*)t.Pointer, (nint)n, (nint)c, (nint)h, (nint)w);
        }

        public CpuWinograd.Strided Winograd => new(P, N, C, H, W);
    }

    /// <summary>
    /// Whether a convolution call (forward, or the data gradient as the convolution of dy with the rotated filter) takes the
    /// Winograd path: by <see cref="ConvAlgorithm"/>, and under <see cref="CpuConvAlgorithm.Auto"/> only for the shapes where it
    /// measured faster on the development machine (docs/architecture.md, "Convolution algorithms on the CPU"): 3×3 stride 1
    /// ungrouped, AVX-512, both tensors NCHW, at least <see cref="WinogradMinChannelsOf"/>(<paramref name="pass"/>) input and
    /// output channels (and for the filter gradient at most <see cref="WinogradMaxChannelsFilter"/>, or <see cref="WinogradMaxChannelsFilterFourTiles"/> on outputs four tiles wide) and
    /// <see cref="WinogradMinTiles"/> output tiles, or <see cref="WinogradMinTilesPrepared"/> when the weights were transformed
    /// before the call (<paramref name="prepared"/>: an inference session's).
    /// </summary>
    private static bool UseWinograd(in ConvGeom g, View4 src, View4 dst, ConvPass pass, bool prepared = false)
    {
        if (!CpuWinograd.Fits(g)) return false;
        return (t_convAlgorithm ?? ConvAlgorithm) switch
        {
            CpuConvAlgorithm.Im2Col => false,
            CpuConvAlgorithm.Winograd => true,
            _ => Vector512.IsHardwareAccelerated && src.W == 1 && dst.W == 1
                && Math.Min(g.C, g.K) >= WinogradMinChannelsOf(pass) && (pass != ConvPass.Filter || Math.Max(g.C, g.K) <= WinogradMaxChannelsFilterOf(g))
                && (long)g.N * ((g.OH + 1) / 2) * ((g.OW + 1) / 2) >= (prepared ? WinogradMinTilesPrepared : WinogradMinTiles),
        };
    }

    /// <summary>The three convolution calls of a training step, which the Winograd rule weighs separately.</summary>
    internal enum ConvPass { Forward, Data, Filter }

    /// <summary>The fewest input and output channels for which <see cref="CpuConvAlgorithm.Auto"/> picks Winograd in <paramref name="pass"/>.</summary>
    internal static int WinogradMinChannelsOf(ConvPass pass) => pass switch
    {
        ConvPass.Data => WinogradMinChannelsData,
        ConvPass.Filter => WinogradMinChannelsFilter,
        _ => WinogradMinChannels,
    };

    /// <summary>
    /// The fewest input and output channels for which <see cref="CpuConvAlgorithm.Auto"/> picks Winograd: below 16 the 16
    /// GEMMs of depth C are too shallow to pay for the transforms (measured 0.3–0.8× im2col at 4 and 8 channels).
    /// </summary>
    internal const int WinogradMinChannels = 16;

    /// <summary>
    /// <see cref="WinogradMinChannels"/> for the data gradient: at 16 channels and batch 128 it measured 0.98× im2col (median of
    /// 15 alternating rounds under load, 1 and 2 threads; slower idle too), so ResNet training's 16-channel stage keeps im2col
    /// there (benchmarks/README.md, "Winograd per call kind").
    /// </summary>
    internal const int WinogradMinChannelsData = 32;

    /// <summary><see cref="WinogradMinChannels"/> for the filter gradient (1.1–1.6× im2col at 16 and 32 channels).</summary>
    internal const int WinogradMinChannelsFilter = 16;

    /// <summary>
    /// The most input and output channels for which <see cref="CpuConvAlgorithm.Auto"/> takes Winograd in the filter gradient,
    /// outside <see cref="WinogradMaxChannelsFilterFourTiles"/>'s images: wider layers were not measured there.
    /// </summary>
    internal const int WinogradMaxChannelsFilter = 32;

    /// <summary>
    /// <see cref="WinogradMaxChannelsFilter"/> where the output is four 2×2 tiles wide (7 or 8 pixels: the 64-channel stage of
    /// the CIFAR and Fashion-MNIST ResNets), whose transforms run four tile rows per vector (CpuWinograd's RowsPerVector): at 64
    /// channels Winograd measured 1.0–1.1× im2col at 7×7 and 1.2–1.4× at 8×8 (one row per vector, 0.6–0.9×); wider layers there
    /// (ResNet-50's 7×7 stage) were not measured (benchmarks/README.md, "Four tile rows per vector").
    /// </summary>
    internal const int WinogradMaxChannelsFilterFourTiles = 64;

    /// <summary>The most channels for which the filter gradient takes Winograd in this geometry (see the two constants).</summary>
    private static int WinogradMaxChannelsFilterOf(in ConvGeom g)
        => (g.OW + 1) / 2 == 4 ? WinogradMaxChannelsFilterFourTiles : WinogradMaxChannelsFilter;

    /// <summary>
    /// The fewest 2×2 output tiles (over the batch) for which <see cref="CpuConvAlgorithm.Auto"/> picks Winograd: the weight
    /// transform (K·C work per call) and the per-block overheads need that many tiles to amortise (measured at one image of
    /// 7×7 to 14×14, 16 to 49 tiles: 0.5–0.85× im2col; at 256 tiles and more: 1.0–1.5×).
    /// </summary>
    internal const int WinogradMinTiles = 256;

    /// <summary>
    /// <see cref="WinogradMinTiles"/> for weights transformed once before the call (<see cref="CpuWinogradWeights"/>, an inference
    /// session's): without the per-call transform, one image of a batch-1 CIFAR ResNet took 0.75–0.81× im2col's time at 16
    /// (7×7), 49 (14×14) and 196 (28×28) tiles (benchmarks/README.md, "Batch-1 inference"); 16 is the smallest call measured.
    /// </summary>
    internal const int WinogradMinTilesPrepared = 16;

    /// <summary>The environment variable that sets <see cref="ConvAlgorithm"/>: <c>auto</c> (or unset), <c>im2col</c>, <c>winograd</c>.</summary>
    internal const string ConvAlgorithmVariable = "DEEPTRAIN_CPU_CONV";

    private static CpuConvAlgorithm? s_convAlgorithm;

    /// <summary>
    /// Which algorithm the 3×3 stride-1 convolutions take (forward, data and filter gradient; <see cref="ConvAlgorithmVariable"/> sets
    /// it for the process): <c>im2col</c> reproduces the bits of releases before the Winograd path.
    /// </summary>
    /// <exception cref="ArgumentException">The environment variable holds another value.</exception>
    internal static CpuConvAlgorithm ConvAlgorithm
    {
        get => s_convAlgorithm ??= ParseConvAlgorithm(Environment.GetEnvironmentVariable(ConvAlgorithmVariable));
        set => s_convAlgorithm = value;
    }

    [ThreadStatic] private static CpuConvAlgorithm? t_convAlgorithm;

    /// <summary>
    /// Tests: this thread's convolution calls take <paramref name="algorithm"/> (over <see cref="ConvAlgorithm"/>) until the
    /// returned scope is disposed, without touching other threads' calls.
    /// </summary>
    internal static ConvAlgorithmScope UseConvAlgorithm(CpuConvAlgorithm algorithm)
    {
        var previous = t_convAlgorithm;
        t_convAlgorithm = algorithm;
        return new ConvAlgorithmScope(previous);
    }

    /// <summary>Restores the thread's previous choice (<see cref="UseConvAlgorithm"/>).</summary>
    internal readonly struct ConvAlgorithmScope(CpuConvAlgorithm? previous) : IDisposable
    {
        public void Dispose() => t_convAlgorithm = previous;
    }

    /// <summary>
    /// The Winograd transform of a call's weights, made in this thread's scratch (the packed U in the shared slot, the
    /// unpacked transform it is made from in the output slot): a (k, c) view of <paramref name="w"/> with the given strides,
    /// rotated 180° for the data gradient.
    /// </summary>
    private static unsafe float* WinogradWeightsInScratch(float* w, int k, int c, nint kStride, nint cStride, bool rotate)
    {
        float* pu = CpuScratch.Current.Get(CpuScratch.Slot.Shared, CpuWinograd.PackedSize(k, c));
        CpuWinograd.TransformWeights(w, k, c, kStride, cStride, rotate,
            CpuScratch.Current.Get(CpuScratch.Slot.Output, (long)CpuWinograd.Positions * k * c), pu);
        return pu;
    }

    internal static CpuConvAlgorithm ParseConvAlgorithm(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => CpuConvAlgorithm.Auto,
        "im2col" => CpuConvAlgorithm.Im2Col,
        "winograd" => CpuConvAlgorithm.Winograd,
        _ => throw new ArgumentException($"environment variable {ConvAlgorithmVariable}='{value}': expected auto, im2col or winograd"),
    };

    private static void CheckConvTensors(string op, Tensor a, string an, Tensor b, string bn, Tensor c, string cn)
    {
        ThrowHelper.CheckFloat32(op, an, a);
        ThrowHelper.CheckFloat32(op, bn, b);
        ThrowHelper.CheckFloat32(op, cn, c);
        if (a.Device.Kind != DeviceKind.Cpu || b.Device.Kind != DeviceKind.Cpu || c.Device.Kind != DeviceKind.Cpu)
            ThrowHelper.Invalid(op, "every tensor must be in host memory");
    }

    /// <inheritdoc />
    public void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, ConvSpec spec) => Conv2dForward(x, w, bias, y, spec, relu: false);

    /// <summary>
    /// <see cref="Conv2dForward(Tensor, Tensor, Tensor?, Tensor, ConvSpec)"/>, then y += <paramref name="residual"/> when one is
    /// given, then y = max(y, 0) when <paramref name="relu"/> is set, all in the same pass over the output (the fused epilogue of
    /// an inference plan's Conv2d → [Add →] ReLU; the sum rounds as the separate Add would: (conv + bias) + residual). When the
    /// Winograd path runs and <paramref name="prepared"/> (made from <paramref name="w"/>) is given, its transformed weights are
    /// read instead of transforming <paramref name="w"/>: the same result bit for bit, without the transform (16-bit operands are
    /// widened and transformed as given: prepared weights are fp32). Likewise <paramref name="packedWeights"/> (made from
    /// <paramref name="w"/>) replaces the im2col path's per-call packing of the weights, and <paramref name="direct"/> (made from
    /// <paramref name="w"/>) lets a small call take the direct kernel (<see cref="UseDirect"/>).
    /// </summary>
    internal unsafe void Conv2dForward(Tensor x, Tensor w, Tensor? bias, Tensor y, ConvSpec spec, bool relu, CpuWinogradWeights? prepared = null,
        CpuGemmWeights? packedWeights = null, CpuDirectWeights? direct = null, Tensor? residual = null)
    {
        if (Reduced(x, w, bias, y) || (residual is not null && residual.DType != DType.Float32))
        {
            using var h = new Widened();
            Conv2dForward(h.In(x), h.In(w), h.In(bias), h.Out(y), spec, relu, residual: h.In(residual));
            return;
        }
        const string op = "Conv2dForward";
        CheckConvTensors(op, x, "x", w, "w", y, "y");
        var g = new ConvGeom(op, x.Shape, w.Shape, y.Shape, spec);
        OperandChecks.Bias(op, "bias", bias, g.K);
        if (residual is not null)
        {
            if (residual.Device.Kind != DeviceKind.Cpu) ThrowHelper.Invalid(op, "every tensor must be in host memory");
            if (residual.Shape != y.Shape) ThrowHelper.ShapeMismatch(op, "residual", y.Shape, residual.Shape);
            if (residual.Layout != y.Layout) ThrowHelper.Invalid(op, $"residual is {residual.Layout}, y is {y.Layout}; expected the same layout");
        }
        var xv = View4.Of(x);
        var yv = View4.Of(y);
        var rv = residual is null ? default : View4.Of(residual);
        float* wp = (float*)w.Pointer;
        float* bp = bias is null ? null : (float*)bias.Pointer;
        bool transformed = prepared is not null && prepared.K == g.K && prepared.C == g.C;
        bool winograd = UseWinograd(g, xv, yv, ConvPass.Forward, transformed);
        if (direct is not null && direct.Fits(g.K, g.Crs) && UseDirect(g, yv, rv, winograd))
        {
            CpuDirectConv.Convolve(xv.Winograd, g, direct.Packed, bp, rv.P, yv.P, relu);
            return;
        }
        if (winograd)
        {
            float* pu = transformed ? prepared!.Packed : WinogradWeightsInScratch(wp, g.K, g.C, (nint)g.Crs, 9, rotate: false);
            CpuWinograd.Convolve(xv.Winograd, g.N, g.C, g.H, g.W, spec.PadH, spec.PadW, pu, bp, yv.Winograd, g.K, relu, 0f, rv.Winograd);
            return;
        }

        // Channels-first output rows (Kg, P) are contiguous: pack each group's weights once and share
        // the packing between threads. A channels-last output goes through the transposing GEMM instead,
        // unless the implicit path (which writes through its own buffer) runs.
        bool implicitIm2Col = g.UseImplicit;
        bool packed = implicitIm2Col || yv.W == 1;
        var ph = new CpuIm2Col.Phases(g.Cg, g.H, g.W, g.R, g.S, spec.PadH, spec.PadW, spec.StrideH, spec.StrideW, spec.DilationH, spec.DilationW);
        float* pw = null;
        int* offs = null;
        long perGroup = CpuGemm.PackedASize(g.Kg, g.Crs);
        if (packed && packedWeights is not null && packedWeights.Fits(g.K, g.Crs, g.G)) pw = packedWeights.Packed;
        else if (packed)
        {
            pw = CpuScratch.Current.Get(CpuScratch.Slot.Shared, perGroup * g.G);
            for (int gi = 0; gi < g.G; gi++)
                CpuGemm.PackAll(g.Kg, g.Crs, wp + (nint)gi * g.Kg * g.Crs, g.Crs, 1, pw + gi * perGroup);
        }
        if (implicitIm2Col)
        {
            offs = (int*)CpuScratch.Current.Get(CpuScratch.Slot.Offsets, g.Crs);
            ph.RowOffsets(offs);
        }

        // Fewer images than threads: split each image's product over output columns instead (packed weights only), when the
        // product is large enough that waking the workers pays (measured: the 3.9 MFLOP convolutions of a batch-1 CIFAR ResNet
        // ran slower split than on one thread on a loaded two-core machine; ResNet-50's at 224×224 are 100+ MFLOP).
        bool splitColumns = packed && g.N < CpuParallel.Threads && g.FlopsPerImage / g.G >= SplitColumnsMinFlops;
        CpuParallel.For(g.N, g.FlopsPerImage, new ForwardBody(g, xv, yv, rv, ph, wp, pw, offs, bp, perGroup, implicitIm2Col, packed, splitColumns, relu));
    }

    /// <summary>
    /// Whether a forward call whose weights were laid out for the direct kernel (an inference session's) takes it: under
    /// <see cref="CpuConvAlgorithm.Auto"/> only, for the shapes it fits (<see cref="CpuDirectConv.Fits"/>), dense NCHW output and
    /// residual, and at most <see cref="DirectMaxPixels"/> output pixels in the call (<see cref="DirectMaxPixelsOverWinograd"/>
    /// where Winograd would run instead), where it measured faster than Winograd and im2col (docs/architecture.md,
    /// "Convolution algorithms on the CPU").
    /// </summary>
    private static unsafe bool UseDirect(in ConvGeom g, View4 y, View4 residual, bool winograd)
        => (t_convAlgorithm ?? ConvAlgorithm) == CpuConvAlgorithm.Auto && CpuDirectConv.Fits(g) && Dense(g, y)
            && (residual.P == null || Dense(g, residual)) && (long)g.N * g.P <= (winograd ? DirectMaxPixelsOverWinograd : DirectMaxPixels);

    private static bool Dense(in ConvGeom g, View4 v) => v.W == 1 && v.H == g.OW && v.C == g.P && v.N == (long)g.K * g.P;

    /// <summary>
    /// The most output pixels (over the batch) a call may have to take the direct kernel rather than im2col: one 16×16 image
    /// (measured at batch 1, one thread: ResNet-56's 16→32 stride-2 convolution 19.9 µs against 29.7, the 32→64 one at 8×8
    /// 16.4 against 33.9; ResNet-20's at 14×14 and 7×7 15.8 against 27.4 and 14.2 against 29.6).
    /// </summary>
    internal const int DirectMaxPixels = 256;

    /// <summary>
    /// <see cref="DirectMaxPixels"/> where Winograd (weights transformed at load) would take the call: one 14×14 image. Measured
    /// at batch 1, one thread: 32→32 at 14×14 (49 tiles, whose last 16-column GEMM block holds one) 24.5 µs direct against 27.3
    /// Winograd, 64→64 at 7×7 24.1 against 34.4 and at 8×8 27.7 against 36.8; but 32→32 at 16×16 (64 tiles, every block full)
    /// 31.0 against 23.5.
    /// </summary>
    internal const int DirectMaxPixelsOverWinograd = 196;

    /// <summary>Forward over the images [start, end): see <see cref="Conv2dForward(Tensor, Tensor, Tensor?, Tensor, ConvSpec, bool, CpuWinogradWeights?, CpuGemmWeights?, CpuDirectWeights?, Tensor?)"/>.</summary>
    private readonly unsafe struct ForwardBody(ConvGeom g, View4 xv, View4 yv, View4 rv, CpuIm2Col.Phases ph, float* wp, float* pw, int* offs, float* bp,
        long perGroup, bool implicitIm2Col, bool packed, bool splitColumns, bool relu) : IRangeBody
    {
        public void Run(int start, int end)
        {
            float* col = g.Pointwise || implicitIm2Col ? null : CpuScratch.Current.Get(CpuScratch.Slot.Columns, (long)g.Crs * g.P);
            for (int n = start; n < end; n++)
            {
                float* xn = xv.P + n * xv.N, yn = yv.P + n * yv.N;
                float* rn = rv.P == null ? null : rv.P + n * rv.N;
                for (int gi = 0; gi < g.G; gi++)
                {
                    float* xg = xn + (nint)gi * g.Cg * xv.C;
                    float* yg = yn + (nint)gi * g.Kg * yv.C;
                    if (implicitIm2Col)
                    {
                        ImplicitConvImage(xg, xv, ph, g.Kg, pw + gi * perGroup, offs, yg, yv, 0f, bp == null ? null : bp + gi * g.Kg, splitColumns, relu,
                            rn == null ? null : rn + (nint)gi * g.Kg * rv.C, rv);
                        continue;
                    }
                    // col (Crs, P): x itself for a pointwise conv (p = h·W + w sits at p·sW in both layouts).
                    float* bmat = xg;
                    nint rsB = xv.C, csB = xv.W;
                    if (!g.Pointwise)
                    {
                        CpuIm2Col.Im2Col(xg, xv.C, xv.H, xv.W, g.Cg, g.H, g.W, g.R, g.S, g.Spec, g.OH, g.OW, col);
                        bmat = col; rsB = g.P; csB = 1;
                    }
                    if (packed)
                        PackedProduct(g.Kg, g.P, g.Crs, pw + gi * perGroup, bmat, rsB, csB, null, 0f, yg, yv.C, yv.W, splitColumns);
                    else
                        CpuGemm.Sgemm(g.Kg, g.P, g.Crs, 1f, wp + (nint)gi * g.Kg * g.Crs, g.Crs, 1, bmat, rsB, csB, 0f, yg, yv.C, yv.W);
                }
                if ((bp != null || relu || rn != null) && !implicitIm2Col) AddChannelBias(yn, yv, g.K, g.P, bp, relu, rn, rv);
            }
        }
    }

    /// <summary>
    /// One image (one group) of a convolution by implicit im2col:
    /// dst (kout, OH, OW) = β·dst + packedW (kout, cin·R·S) · col(src) + bias, where src is (cin, h, w).
    /// The product is formed over the phase-plane width Wq into a per-thread buffer, then its valid columns are stored.
    /// </summary>
    private static unsafe void ImplicitConvImage(float* src, View4 sv, in CpuIm2Col.Phases ph,
        int kout, float* packedW, int* offs, float* dst, View4 dv, float beta, float* bias, bool splitColumns = false, bool relu = false,
        float* res = null, View4 rv = default)
    {
        int oh = ph.OH, ow = ph.OW, wp = ph.Wq, pp = ph.Columns;
        var scratch = CpuScratch.Current;
        float* xp = scratch.Get(CpuScratch.Slot.Columns, ph.Size);
        ph.Pad(src, sv.C, sv.H, sv.W, xp);
        float* t = scratch.Get(CpuScratch.Slot.Output, (long)kout * pp);
        // t (kout, OH·Wq) = W · col, col row i = xp[offs[i] ..]
        PackedProduct(kout, pp, ph.C * ph.R * ph.S, packedW, xp, 0, 1, offs, 0f, t, pp, 1, splitColumns);
        for (int k = 0; k < kout; k++)
        {
            float b = bias == null ? 0f : bias[k];
            for (int y = 0; y < oh; y++)
            {
                float* row = t + (nint)k * pp + y * wp;
                float* d = dst + k * dv.C + y * dv.H;
                float* r = res == null ? null : res + k * rv.C + y * rv.H;
                if (dv.W == 1 && beta == 0f && b == 0f && !relu && r == null) CpuIm2Col.Copy(d, row, ow);
                else if (dv.W == 1 && beta == 1f && b == 0f && !relu && r == null) CpuIm2Col.AddInto(d, row, ow);
                else if (dv.W == 1 && beta == 0f && (r == null || rv.W == 1)) BiasStore(d, row, ow, b, relu, r);
                else
                    for (int x = 0; x < ow; x++)
                    {
                        float v = row[x] + b;
                        v = beta == 0f ? v : v + beta * d[x * dv.W];
                        if (r != null) v += r[x * rv.W];
                        d[x * dv.W] = relu ? MathF.Max(v, 0f) : v;
                    }
            }
        }
    }

    /// <summary>
    /// y[k, p] += bias[k] (bias null: 0) for one image, then += residual[k, p] when <paramref name="res"/> (the image's residual,
    /// strides <paramref name="rv"/>) is given, then y = max(y, 0) when <paramref name="relu"/> is set.
    /// </summary>
    private static unsafe void AddChannelBias(float* yn, View4 yv, int k, int p, float* bias, bool relu = false, float* res = null, View4 rv = default)
    {
        for (int ki = 0; ki < k; ki++)
        {
            float b = bias == null ? 0f : bias[ki];
            float* row = yn + ki * yv.C;
            float* r = res == null ? null : res + ki * rv.C;
            if (yv.W == 1 && (r == null || rv.W == 1)) { BiasStore(row, row, p, b, relu, r); continue; }
            for (int i = 0; i < p; i++)
            {
                float v = row[i * yv.W] + b;
                if (r != null) v += r[i * rv.W];
                row[i * yv.W] = relu ? MathF.Max(v, 0f) : v;
            }
        }
    }

    /// <summary>
    /// dst[i] = src[i] + b, then + res[i] when <paramref name="res"/> is given, then max(·, 0) when <paramref name="relu"/> is
    /// set (dst may equal src).
    /// </summary>
    private static unsafe void BiasStore(float* dst, float* src, int n, float b, bool relu, float* res = null)
    {
        int i = 0;
        var vb = Vector256.Create(b);
        if (res != null)
        {
            if (relu)
                for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Max(Vector256.Load(src + i) + vb + Vector256.Load(res + i), Vector256<float>.Zero), dst + i);
            else
                for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i) + vb + Vector256.Load(res + i), dst + i);
            for (; i < n; i++) { float v = src[i] + b + res[i]; dst[i] = relu ? MathF.Max(v, 0f) : v; }
            return;
        }
        if (relu)
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Max(Vector256.Load(src + i) + vb, Vector256<float>.Zero), dst + i);
        else
            for (; i <= n - 8; i += 8) Vector256.Store(Vector256.Load(src + i) + vb, dst + i);
        for (; i < n; i++) dst[i] = relu ? MathF.Max(src[i] + b, 0f) : src[i] + b;
    }

    /// <summary>
    /// C (m, n) = packedA · B + β·C (<see cref="CpuGemm.SgemmPackedA(int, int, int, float, float*, float*, nint, nint, int*, float, float*, nint, nint)"/>),
    /// on this thread or, when <paramref name="splitColumns"/> is set, over blocks of NR columns on the pool's threads.
    /// </summary>
    private static unsafe void PackedProduct(int m, int n, int k, float* packedA, float* b, nint rsB, nint csB, int* offs,
        float beta, float* c, nint rsC, nint csC, bool splitColumns)
    {
        if (!splitColumns) { CpuGemm.SgemmPackedA(m, n, k, 1f, packedA, b, rsB, csB, offs, beta, c, rsC, csC); return; }
        int blocks = (n + CpuGemm.NR - 1) / CpuGemm.NR;
        CpuParallel.For(blocks, 2L * m * k * CpuGemm.NR, new ColumnBody(m, n, k, packedA, b, rsB, csB, offs, beta, c, rsC, csC));
    }

    /// <summary>Columns [start·NR, end·NR) of <see cref="PackedProduct"/>: B and C shifted by the first column.</summary>
    private readonly unsafe struct ColumnBody(int m, int n, int k, float* packedA, float* b, nint rsB, nint csB, int* offs,
        float beta, float* c, nint rsC, nint csC) : IRangeBody
    {
        public void Run(int start, int end)
        {
            int j0 = start * CpuGemm.NR, j1 = Math.Min(n, end * CpuGemm.NR);
            CpuGemm.SgemmPackedA(m, j1 - j0, k, 1f, packedA, b + j0 * csB, rsB, csB, offs, beta, c + j0 * csC, rsC, csC);
        }
    }

    /// <inheritdoc />
    public unsafe void Conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvSpec spec, bool accumulate)
    {
        if (Reduced(dy, w, dx)) { using var h = new Widened(); Conv2dBackwardData(h.In(dy), h.In(w), h.Out(dx), spec, accumulate); return; }
        const string op = "Conv2dBackwardData";
        CheckConvTensors(op, dy, "dy", w, "w", dx, "dx");
        var g = new ConvGeom(op, dx.Shape, w.Shape, dy.Shape, spec);
        var dyv = View4.Of(dy);
        var dxv = View4.Of(dx);
        float* wp = (float*)w.Pointer;
        long imageElems = (long)g.C * g.H * g.W;

        // Stride 1 with padding ≤ dil·(R − 1): dx = conv(dy, w′) with w′[c, k, r, s] = w[k, c, R−1−r, S−1−s]
        // and padding dil·(R − 1) − pad, by implicit im2col (see the file header).
        int padBH = spec.DilationH * (g.R - 1) - spec.PadH, padBW = spec.DilationW * (g.S - 1) - spec.PadW;
        // Its GEMM has only Cg rows, though: below half a micro-tile (e.g. the 1-channel stem) the explicit
        // Cg·R·S-row product plus col2im wastes less.
        bool implicitIm2Col = spec.StrideH == 1 && spec.StrideW == 1 && !g.Pointwise && padBH >= 0 && padBW >= 0
            && 2 * g.Cg >= CpuGemm.MR;
        if (padBH >= 0 && padBW >= 0 && UseWinograd(g, dyv, dxv, ConvPass.Data))
        {
            // dx (N, C, H, W) (+)= conv(dy (N, K, OH, OW), w′) with w′[c, k] = w[k, c] rotated 180°, padding 2 − pad.
            float* pu = WinogradWeightsInScratch(wp, g.C, g.K, 9, (nint)g.Crs, rotate: true);
            CpuWinograd.Convolve(dyv.Winograd, g.N, g.K, g.OH, g.OW, padBH, padBW, pu, null, dxv.Winograd, g.C, relu: false, accumulate ? 1f : 0f);
            return;
        }
        if (UseStridePhases(g, dyv, dxv))
        {
            // Strided, dilation 1: each of dx's stride phases is a stride-1 correlation of dy with the taps that reach it, one
            // GEMM each, stored straight into its pixels (CpuStridePhases): no dcol, no zeroing pass, no col2im.
            int* ints = (int*)CpuScratch.Current.Get(CpuScratch.Slot.Offsets, CpuStridePhases.PlanInts(g));
            float* packedPhases = CpuScratch.Current.Get(CpuScratch.Slot.Shared, CpuStridePhases.PlanFloats(g));
            var (ah, aw) = CpuStridePhases.Plan(g, wp, ints, packedPhases);
            CpuParallel.For(g.N, g.FlopsPerImage, new StridePhasesBody(g, dyv, dxv, ah, aw, ints + 3 * (spec.StrideH + spec.StrideW),
                packedPhases, accumulate));
            return;
        }
        int rs = g.R * g.S, krs = g.Kg * rs;
        var phB = new CpuIm2Col.Phases(g.Kg, g.OH, g.OW, g.R, g.S, padBH, padBW, 1, 1, spec.DilationH, spec.DilationW);

        // Otherwise w_gᵀ (Crs, Kg): element (crs, k) at w[k·Crs + crs]. Packed once, shared by the threads,
        // except for a pointwise channels-last dx, which the transposing GEMM writes directly.
        bool packed = !(g.Pointwise && dxv.W != 1);
        float* pw = null;
        int* offs = null;
        long perGroup = implicitIm2Col ? CpuGemm.PackedASize(g.Cg, krs) : CpuGemm.PackedASize(g.Crs, g.Kg);
        if (implicitIm2Col)
        {
            pw = CpuScratch.Current.Get(CpuScratch.Slot.Shared, perGroup * g.G + (long)g.Cg * krs);
            float* flip = pw + perGroup * g.G;          // w′_g (Cg, Kg·R·S), one group at a time
            for (int gi = 0; gi < g.G; gi++)
            {
                float* wg = wp + (nint)gi * g.Kg * g.Crs;
                for (int c = 0; c < g.Cg; c++)
                    for (int k = 0; k < g.Kg; k++)
                        for (int i = 0; i < rs; i++)
                            flip[(nint)c * krs + k * rs + i] = wg[(nint)k * g.Crs + c * rs + rs - 1 - i];
                CpuGemm.PackAll(g.Cg, krs, flip, krs, 1, pw + gi * perGroup);
            }
            offs = (int*)CpuScratch.Current.Get(CpuScratch.Slot.Offsets, krs);
            phB.RowOffsets(offs);
        }
        else if (packed)
        {
            pw = CpuScratch.Current.Get(CpuScratch.Slot.Shared, perGroup * g.G);
            for (int gi = 0; gi < g.G; gi++)
                CpuGemm.PackAll(g.Crs, g.Kg, wp + (nint)gi * g.Kg * g.Crs, 1, g.Crs, pw + gi * perGroup);
        }

        CpuParallel.For(g.N, g.FlopsPerImage, new BackwardDataBody(g, dyv, dxv, phB, wp, pw, offs, perGroup, imageElems, implicitIm2Col, packed, accumulate));
    }

    /// <summary>
    /// Whether a strided data gradient goes by stride phases (<see cref="CpuStridePhases"/>) rather than dcol and col2im: under
    /// <see cref="CpuConvAlgorithm.Auto"/> only where it measured faster (benchmarks/README.md, "Strided data gradient"):
    /// dilation 1, a filter larger than 1×1, both tensors NCHW and at most <see cref="StridePhasesMaxChannels"/> dx channels per
    /// group; always where the geometry allows under <see cref="CpuConvAlgorithm.Winograd"/> (tests, measurements); never under
    /// <see cref="CpuConvAlgorithm.Im2Col"/>, which keeps col2im and its older bits.
    /// </summary>
    private static bool UseStridePhases(in ConvGeom g, View4 dyv, View4 dxv)
    {
        if (!CpuStridePhases.Fits(g)) return false;
        return (t_convAlgorithm ?? ConvAlgorithm) switch
        {
            CpuConvAlgorithm.Im2Col => false,
            CpuConvAlgorithm.Winograd => true,
            _ => g.R * g.S > 1 && g.Cg <= StridePhasesMaxChannels && dyv.W == 1 && dxv.W == 1,
        };
    }

    /// <summary>
    /// The most dx channels per group for which <see cref="CpuConvAlgorithm.Auto"/> takes stride phases: at 16 (ResNet 16→32,
    /// 3×3 s2, batch 128) they measured 1.2–1.6× col2im, at 32 (32→64) 0.83–0.97×, where col2im's one GEMM of Cg·9 rows
    /// outruns four of Cg rows; 1×1 projections measured 0.4–0.8× (the phases' border copy and strided stores cost more than
    /// col2im's scatter of one tap).
    /// </summary>
    internal const int StridePhasesMaxChannels = 16;

    /// <summary>The stride-phase data gradient over the images [start, end): see <see cref="CpuStridePhases"/>.</summary>
    private readonly unsafe struct StridePhasesBody(ConvGeom g, View4 dyv, View4 dxv, CpuStridePhases.Axis ah, CpuStridePhases.Axis aw,
        int* offs, float* packed, bool accumulate) : IRangeBody
    {
        public void Run(int start, int end)
        {
            for (int n = start; n < end; n++)
                for (int gi = 0; gi < g.G; gi++)
                    CpuStridePhases.Image(g, ah, aw, offs, packed, gi,
                        dyv.P + n * dyv.N + (nint)gi * g.Kg * dyv.C, dyv.C, dyv.H, dyv.W,
                        dxv.P + n * dxv.N + (nint)gi * g.Cg * dxv.C, dxv.C, dxv.H, dxv.W, accumulate);
        }
    }

    /// <summary>Backward data over the images [start, end): see <see cref="Conv2dBackwardData"/>.</summary>
    private readonly unsafe struct BackwardDataBody(ConvGeom g, View4 dyv, View4 dxv, CpuIm2Col.Phases phB, float* wp, float* pw, int* offs,
        long perGroup, long imageElems, bool implicitIm2Col, bool packed, bool accumulate) : IRangeBody
    {
        public void Run(int start, int end)
        {
            float* dcol = g.Pointwise || implicitIm2Col ? null : CpuScratch.Current.Get(CpuScratch.Slot.Columns, (long)g.Crs * g.P);
            for (int n = start; n < end; n++)
            {
                float* dyn = dyv.P + n * dyv.N, dxn = dxv.P + n * dxv.N;
                // Every layout stores one image as one contiguous run of C·H·W elements.
                if (!accumulate && !g.Pointwise && !implicitIm2Col) new Span<float>(dxn, checked((int)imageElems)).Clear();
                for (int gi = 0; gi < g.G; gi++)
                {
                    float* dyg = dyn + (nint)gi * g.Kg * dyv.C;
                    float* dxg = dxn + (nint)gi * g.Cg * dxv.C;
                    float* wg = wp + (nint)gi * g.Kg * g.Crs;
                    if (implicitIm2Col)
                    {
                        ImplicitConvImage(dyg, dyv, phB, g.Cg, pw + gi * perGroup, offs, dxg, dxv, accumulate ? 1f : 0f, null);
                    }
                    else if (g.Pointwise)
                    {
                        // dx_g (Cg, H·W) (+)= w_gᵀ · dy_g, straight into dx.
                        float beta = accumulate ? 1f : 0f;
                        if (packed)
                            CpuGemm.SgemmPackedA(g.Cg, g.P, g.Kg, 1f, pw + gi * perGroup, dyg, dyv.C, dyv.W, beta, dxg, dxv.C, dxv.W);
                        else
                            CpuGemm.Sgemm(g.Cg, g.P, g.Kg, 1f, wg, 1, g.Crs, dyg, dyv.C, dyv.W, beta, dxg, dxv.C, dxv.W);
                    }
                    else
                    {
                        CpuGemm.SgemmPackedA(g.Crs, g.P, g.Kg, 1f, pw + gi * perGroup, dyg, dyv.C, dyv.W, 0f, dcol, g.P, 1);
                        CpuIm2Col.Col2ImAdd(dcol, g.Cg, g.H, g.W, g.R, g.S, g.Spec, g.OH, g.OW, dxg, dxv.C, dxv.H, dxv.W);
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public unsafe void Conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias, ConvSpec spec, bool accumulate)
    {
        if (Reduced(x, dy, dw, dbias)) { using var h = new Widened(); Conv2dBackwardFilter(h.In(x), h.In(dy), h.Out(dw), h.Out(dbias), spec, accumulate); return; }
        const string op = "Conv2dBackwardFilter";
        CheckConvTensors(op, x, "x", dy, "dy", dw, "dw");
        var g = new ConvGeom(op, x.Shape, dw.Shape, dy.Shape, spec);
        OperandChecks.Bias(op, "dbias", dbias, g.K);
        var xv = View4.Of(x);
        var dyv = View4.Of(dy);
        float* dwp = (float*)dw.Pointer;
        int wElems = g.K * g.Crs;
        if (g.N == 0)
        {
            if (!accumulate) new Span<float>(dwp, wElems).Clear();
        }
        else if (UseWinograd(g, xv, dyv, ConvPass.Filter))
        {
            CpuWinograd.FilterGradient(xv.Winograd, dyv.Winograd, g.N, g.C, g.H, g.W, g.K, spec.PadH, spec.PadW, dwp, accumulate);
        }
        else
        {
            // Implicit im2col: part_gᵀ (Crs, Kg) (+)= col (Crs, P′) · dy′ᵀ (P′, Kg), with col's rows read from the
            // padded image and dy′ᵀ dy transposed onto the plane width Wq (zero in the dropped columns, so they
            // add nothing). The private partial is then transposed into dw.
            bool implicitIm2Col = g.UseImplicit;
            var ph = new CpuIm2Col.Phases(g.Cg, g.H, g.W, g.R, g.S, spec.PadH, spec.PadW, spec.StrideH, spec.StrideW, spec.DilationH, spec.DilationW);
            int wp = ph.Wq, pp = ph.Columns;
            int* offs = null;
            if (implicitIm2Col)
            {
                offs = (int*)CpuScratch.Current.Get(CpuScratch.Slot.Offsets, g.Crs);
                ph.RowOffsets(offs);
            }
            int turn = 0;      // the first image of the run whose turn it is to reduce into dw
            CpuParallel.For(g.N, g.FlopsPerImage, new BackwardFilterBody(g, xv, dyv, ph, dwp, offs, wElems, implicitIm2Col, accumulate, &turn));
        }
        if (dbias is not null) BiasGradient(dyv, g, (float*)dbias.Pointer, accumulate);
    }

    /// <summary>
    /// Backward filter over the images [start, end) into this thread's private partial, then reduced into dw:
    /// see <see cref="Conv2dBackwardFilter"/>. The runs reduce in the order of their images (<paramref name="turn"/> holds
    /// the first image of the run whose turn it is), so dw = ((dw +) p₀ + p₁) + … rounds the same way however the runs
    /// finish: a CPU run repeats bit for bit for a given thread count, with or without accumulation. Runs are claimed in
    /// that order too (CpuParallel), so a run waits only for one already running on another thread, or done inline.
    /// </summary>
    private readonly unsafe struct BackwardFilterBody(ConvGeom g, View4 xv, View4 dyv, CpuIm2Col.Phases ph, float* dwp, int* offs,
        int wElems, bool implicitIm2Col, bool accumulate, int* turn) : IRangeBody
    {
        public void Run(int start, int end)
        {
            bool computed = false;
            float* part = null;
            try
            {
                part = Compute(start, end);
                computed = true;
            }
            finally
            {
                // A run that threw still passes the turn on, so the others finish and For rethrows its exception.
                var spin = new SpinWait();
                while (Volatile.Read(ref *turn) != start) spin.SpinOnce();
                try { if (computed) Reduce(part, set: start == 0 && !accumulate); }
                finally { Volatile.Write(ref *turn, end); }
            }
        }

        private float* Compute(int start, int end)
        {
            int wp = ph.Wq, pp = ph.Columns;
            var scratch = CpuScratch.Current;
            float* col = g.Pointwise ? null : implicitIm2Col
                ? scratch.Get(CpuScratch.Slot.Columns, ph.Size)
                : scratch.Get(CpuScratch.Slot.Columns, (long)g.Crs * g.P);
            float* dyT = implicitIm2Col ? scratch.Get(CpuScratch.Slot.Output, (long)pp * g.Kg) : null;
            float* part = scratch.Get(CpuScratch.Slot.PartialGrad, wElems);
            for (int n = start; n < end; n++)
            {
                float* xn = xv.P + n * xv.N, dyn = dyv.P + n * dyv.N;
                for (int gi = 0; gi < g.G; gi++)
                {
                    float* xg = xn + (nint)gi * g.Cg * xv.C;
                    float* dyg = dyn + (nint)gi * g.Kg * dyv.C;
                    float beta = n == start ? 0f : 1f;      // the first image of the run overwrites
                    if (implicitIm2Col)
                    {
                        ph.Pad(xg, xv.C, xv.H, xv.W, col);
                        for (int y = 0; y < g.OH; y++)
                            for (int x = 0; x < wp; x++)
                            {
                                float* d = dyT + ((nint)y * wp + x) * g.Kg;
                                if (x >= g.OW) { for (int k = 0; k < g.Kg; k++) d[k] = 0f; continue; }
                                float* sp = dyg + y * dyv.H + x * dyv.W;
                                for (int k = 0; k < g.Kg; k++) d[k] = sp[k * dyv.C];
                            }
                        CpuGemm.Sgemm(g.Crs, g.Kg, pp, 1f, col, 0, 1, offs, dyT, g.Kg, 1, beta, part + (nint)gi * g.Kg * g.Crs, g.Kg, 1);
                        continue;
                    }
                    // colᵀ (P, Crs): element (p, crs) at col[crs·P + p], or x itself when pointwise.
                    float* bmat = xg;
                    nint rsB = xv.W, csB = xv.C;
                    if (!g.Pointwise)
                    {
                        CpuIm2Col.Im2Col(xg, xv.C, xv.H, xv.W, g.Cg, g.H, g.W, g.R, g.S, g.Spec, g.OH, g.OW, col);
                        bmat = col; rsB = 1; csB = g.P;
                    }
                    // part_g (Kg, Crs) (+)= dy_g (Kg, P) · colᵀ
                    CpuGemm.Sgemm(g.Kg, g.Crs, g.P, 1f, dyg, dyv.C, dyv.W, bmat, rsB, csB, beta, part + (nint)gi * g.Kg * g.Crs, g.Crs, 1);
                }
            }
            return part;
        }

        /// <summary>dw = part (<paramref name="set"/>) or dw += part, transposing the implicit path's (Crs, Kg) partial.</summary>
        private void Reduce(float* part, bool set)
        {
            if (implicitIm2Col)
            {
                for (int gi = 0; gi < g.G; gi++)
                {
                    float* pg = part + (nint)gi * g.Kg * g.Crs, dg = dwp + (nint)gi * g.Kg * g.Crs;
                    for (int k = 0; k < g.Kg; k++)
                        for (int i = 0; i < g.Crs; i++)
                            dg[k * g.Crs + i] = set ? pg[i * g.Kg + k] : dg[k * g.Crs + i] + pg[i * g.Kg + k];
                }
            }
            else if (set) new ReadOnlySpan<float>(part, wElems).CopyTo(new Span<float>(dwp, wElems));
            else CpuIm2Col.AddInto(dwp, part, wElems);
        }
    }

    /// <summary>dbias[k] (+)= Σ over n, p of dy[n, k, p], summed in double per channel.</summary>
    private static unsafe void BiasGradient(View4 dyv, ConvGeom g, float* dbias, bool accumulate)
    {
        for (int k = 0; k < g.K; k++)
        {
            double sum = 0;
            for (int n = 0; n < g.N; n++)
            {
                float* row = dyv.P + n * dyv.N + k * dyv.C;
                for (int p = 0; p < g.P; p++) sum += row[p * dyv.W];
            }
            dbias[k] = accumulate ? dbias[k] + (float)sum : (float)sum;
        }
    }

    /// <inheritdoc />
    /// <remarks>The same figure for every layout and dtype: the CPU computes in fp32 and widens 16-bit operands first.</remarks>
    public unsafe long Conv2dWorkspaceBytes(Shape x, Shape w, ConvSpec spec, Layout layout, DType dtype)
    {
        var g = new ConvGeom("Conv2dWorkspaceBytes", x, w, Shape.Of(x.N, w.N, spec.OutH(x.H, w.H), spec.OutW(x.W, w.W)), spec);
        // Per thread: the im2col buffer, the GEMM packing panels and a private filter gradient;
        // once: the packed weights. All of it is per-thread scratch kept between calls, not arena memory.
        long packing = CpuGemm.PackedASize(Math.Max(g.Kg, g.Crs), Math.Min(Math.Max(g.P, g.Kg), CpuGemm.KC))
            + (long)Math.Min(Math.Max(g.P, g.Crs), CpuGemm.NC) * CpuGemm.KC
            + (long)g.K * g.Crs;
        long perThread = (g.Pointwise ? 0 : (long)g.Crs * g.P) + packing;
        long shared = CpuGemm.PackedASize(Math.Max(g.Kg, g.Crs), Math.Max(g.Kg, g.Crs)) * g.G;
        if (CpuStridePhases.Fits(g))
        {
            // The stride-phase data gradient: per thread the bordered dy planes, one row phase's products and the packing (its
            // products run over the planes' width, up to a sliver of B more than P columns); once every phase's packed weights.
            int* ints = stackalloc int[checked((int)CpuStridePhases.PlanInts(g))];
            var ah = new CpuStridePhases.Axis(ints, g.H, g.OH, g.R, spec.StrideH, spec.PadH);
            var aw = new CpuStridePhases.Axis(ints + 3 * spec.StrideH, g.W, g.OW, g.S, spec.StrideW, spec.PadW);
            var (planes, products) = CpuStridePhases.ThreadFloats(g, ah, aw);
            perThread = Math.Max(perThread, planes + products + packing + (long)CpuGemm.NR * CpuGemm.KC);
            shared = Math.Max(shared, CpuStridePhases.PlanFloats(g));
        }
        if (CpuWinograd.Fits(g))
        {
            // The Winograd path (forward, and the data gradient with C and K swapped): per thread a block's V, M and padded
            // rows; once the packed U and the unpacked transform it is made from.
            var (fwd, _) = CpuWinograd.WorkspaceFloats(g.N, g.C, g.H, g.W, g.K, spec.PadH, spec.PadW);
            var (bwd, _) = CpuWinograd.WorkspaceFloats(g.N, g.K, g.OH, g.OW, g.C, Math.Max(0, 2 - spec.PadH), Math.Max(0, 2 - spec.PadW));
            var (filter, partials) = CpuWinograd.FilterWorkspaceFloats(g.N, g.C, g.H, g.W, g.K, spec.PadH, spec.PadW);
            perThread = Math.Max(perThread, Math.Max(Math.Max(fwd, bwd), filter));
            shared = Math.Max(shared, CpuWinograd.PackedSize(Math.Max(g.K, g.C), Math.Max(g.K, g.C)) + (long)CpuWinograd.Positions * g.K * g.C);
            shared = Math.Max(shared, partials);
        }
        return (perThread * CpuParallel.Threads + shared) * sizeof(float);
    }
}

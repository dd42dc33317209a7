using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Backends;

// The geometry of a convolution call, shared by CpuBackend and CudaBackend so both validate the same
// shapes with the same messages before any memory is touched.
/// <summary>The geometry of one convolution call, validated once.</summary>
internal readonly struct ConvGeometry
{
    public readonly int N, C, H, W, K, R, S, OH, OW, G, Cg, Kg, Crs, P;
    public readonly ConvSpec Spec;
    public readonly bool Pointwise;     // 1×1, stride 1, no padding: col is x itself

    public ConvGeometry(string op, Shape x, Shape w, Shape y, ConvSpec spec)
    {
        if (x.Rank != 4 || w.Rank != 4 || y.Rank != 4)
            ThrowHelper.Invalid(op, $"x {x}, w {w} and y {y} must all be rank 4 (N, C, H, W)");
        if (spec.StrideH < 1 || spec.StrideW < 1 || spec.DilationH < 1 || spec.DilationW < 1 || spec.PadH < 0 || spec.PadW < 0 || spec.Groups < 1)
            ThrowHelper.Invalid(op, $"invalid geometry {spec}");
        N = x.N; C = x.C; H = x.H; W = x.W; K = w.N; R = w.H; S = w.W; G = spec.Groups;
        if (C % G != 0 || K % G != 0)
            ThrowHelper.Invalid(op, $"x {x} has {C} channels and w {w} has {K} filters; both must divide into {G} groups");
        Cg = C / G; Kg = K / G;
        if (w.C != Cg) ThrowHelper.ShapeMismatch(op, "w", Shape.Of(K, Cg, R, S), w);
        OH = spec.OutH(H, R); OW = spec.OutW(W, S);
        if (OH < 1 || OW < 1)
            ThrowHelper.Invalid(op, $"kernel {R}x{S} with {spec} does not fit input {x}");
        // Compared dimension by dimension: a Shape owns an array, and this runs on every call.
        if (y.N != N || y.C != K || y.H != OH || y.W != OW) ThrowHelper.ShapeMismatch(op, "y", Shape.Of(N, K, OH, OW), y);
        Crs = Cg * R * S; P = OH * OW;
        Spec = spec;
        Pointwise = R == 1 && S == 1 && spec.StrideH == 1 && spec.StrideW == 1 && spec.PadH == 0 && spec.PadW == 0;
    }

    /// <summary>
    /// Whether forward and filter gradient use implicit im2col. A strided 1×1 convolution (the
    /// projection shortcut) is a plain subsampling: its explicit col is 1/stride² of x, cheaper
    /// than the stride² phase planes the implicit path would write.
    /// </summary>
    public bool UseImplicit => !Pointwise && R * S > 1;

    /// <summary>GEMM cost of one image, for the parallel split.</summary>
    public long FlopsPerImage => 2L * K * Crs * P;
}

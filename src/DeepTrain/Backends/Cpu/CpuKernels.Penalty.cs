using System.Runtime.Intrinsics;

namespace DeepTrain.Backends.Cpu;

// The gradient of the elastic-net penalty (Zou and Hastie 2005) that WeightPenalty adds before an
// optimizer step:
//   P(w) = λ1·‖w‖₁ + (λ2/2)·‖w‖²       ∂P/∂w = λ1·sign(w) + λ2·w
//   g ← (g + λ1·sign(w)) + λ2·w          in this order, in fp32, as the kernel dt_penalty_grad_f32
// sign(0) = 0 as torch.sign, so an exact zero weight gets no L1 push (the subgradient PyTorch's autograd
// uses for |w|); a NaN weight also gets sign 0, and its λ2·w term keeps the NaN visible when λ2 > 0.
public static partial class CpuKernels
{
    /// <summary>g[i] ← g[i] + λ1·sign(w[i]) + λ2·w[i] (see the file header).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void PenaltyGradient(ReadOnlySpan<float> w, Span<float> g, float l1, float l2)
        => VectorLoops.Zip(new PenaltyOp(l1, l2), w, g, g, accumulate: false);

    /// <summary>(w, g) ↦ (g + λ1·sign(w)) + λ2·w; sign is built from two comparisons so 0 and NaN give 0.</summary>
    private readonly struct PenaltyOp(float l1, float l2) : IBinaryOp
    {
        public float Invoke(float w, float g) => (g + l1 * ((w > 0f ? 1f : 0f) - (w < 0f ? 1f : 0f))) + l2 * w;

        public Vector256<float> Invoke(Vector256<float> w, Vector256<float> g)
        {
            var sign = (Vector256.GreaterThan(w, Vector256<float>.Zero) & Vector256<float>.One)
                     - (Vector256.LessThan(w, Vector256<float>.Zero) & Vector256<float>.One);
            return (g + sign * l1) + w * l2;
        }

        public Vector512<float> Invoke(Vector512<float> w, Vector512<float> g)
        {
            var sign = (Vector512.GreaterThan(w, Vector512<float>.Zero) & Vector512<float>.One)
                     - (Vector512.LessThan(w, Vector512<float>.Zero) & Vector512<float>.One);
            return (g + sign * l1) + w * l2;
        }
    }
}

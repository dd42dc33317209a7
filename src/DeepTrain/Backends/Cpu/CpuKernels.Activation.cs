using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DeepTrain.Utils;

namespace DeepTrain.Backends.Cpu;

// Activation span kernels: f(x) and dy·f′ from the forward output, Vector256 bodies with scalar tails through VectorLoops.
internal static partial class CpuKernels
{
    /// <summary>y = f(x) for <paramref name="kind"/>; <paramref name="alpha"/> is LeakyReLU's negative slope.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is unknown.</exception>
    public static void Activation(ActivationKind kind, float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        switch (kind)
        {
            case ActivationKind.Relu: VectorLoops.Map(default(ReluOp), x, y); break;
            case ActivationKind.LeakyRelu: VectorLoops.Map(new LeakyReluOp(alpha), x, y); break;
            case ActivationKind.Sigmoid: VectorLoops.Map(default(SigmoidOp), x, y); break;
            case ActivationKind.Tanh: VectorLoops.Map(default(TanhOp), x, y); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown activation");
        }
    }

    /// <summary>dx (+)= dy·f′, where f′ is computed from the forward output y alone (see <see cref="ActivationKind"/>).</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is unknown.</exception>
    public static void ActivationBackward(ActivationKind kind, float alpha, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
    {
        switch (kind)
        {
            case ActivationKind.Relu: VectorLoops.Zip(new LeakyReluGrad(0f), y, dy, dx, accumulate); break;
            case ActivationKind.LeakyRelu: VectorLoops.Zip(new LeakyReluGrad(alpha), y, dy, dx, accumulate); break;
            case ActivationKind.Sigmoid: VectorLoops.Zip(default(SigmoidGrad), y, dy, dx, accumulate); break;
            case ActivationKind.Tanh: VectorLoops.Zip(default(TanhGrad), y, dy, dx, accumulate); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown activation");
        }
    }

    /// <summary>max(x, 0); NaN propagates (IEEE maximum, as torch.relu).</summary>
    private readonly struct ReluOp : IUnaryOp
    {
        public float Invoke(float x) => MathF.Max(x, 0f);
        public Vector256<float> Invoke(Vector256<float> x) => Vector256.Max(x, Vector256<float>.Zero);
        public Vector512<float> Invoke(Vector512<float> x) => Vector512.Max(x, Vector512<float>.Zero);
    }

    /// <summary>x if x &gt; 0 else α·x.</summary>
    private readonly struct LeakyReluOp(float alpha) : IUnaryOp
    {
        public float Invoke(float x) => x > 0f ? x : alpha * x;
        public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, x * alpha);
        public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, x * alpha);
    }

    /// <summary>dy·(y &gt; 0 ? 1 : α); α = 0 is ReLU's gradient (PyTorch's threshold_backward: 0 at y = 0).</summary>
    private readonly struct LeakyReluGrad(float alpha) : IBinaryOp
    {
        public float Invoke(float y, float dy) => y > 0f ? dy : alpha * dy;
        public Vector256<float> Invoke(Vector256<float> y, Vector256<float> dy) => Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), dy, dy * alpha);
        public Vector512<float> Invoke(Vector512<float> y, Vector512<float> dy) => Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), dy, dy * alpha);
    }

    /// <summary>σ(x) = 1/(1 + e^−x); e^−x overflows to +∞ for x &lt; −88.7, giving exactly 0.</summary>
    private readonly struct SigmoidOp : IUnaryOp
    {
        public float Invoke(float x) => 1f / (1f + MathF.Exp(-x));
        public Vector256<float> Invoke(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Vector256.Exp(-x));
        public Vector512<float> Invoke(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Vector512.Exp(-x));
    }

    /// <summary>dy·y·(1 − y).</summary>
    private readonly struct SigmoidGrad : IBinaryOp
    {
        public float Invoke(float y, float dy) => dy * y * (1f - y);
        public Vector256<float> Invoke(Vector256<float> y, Vector256<float> dy) => dy * y * (Vector256<float>.One - y);
        public Vector512<float> Invoke(Vector512<float> y, Vector512<float> dy) => dy * y * (Vector512<float>.One - y);
    }

    /// <summary>
    /// tanh x as the odd 13/6 rational minimax p(x)/q(x) of Eigen's generic_fast_tanh_float (also XLA's
    /// and ONNX Runtime MLAS's), clamped at ±7.9053 where tanh rounds to ±1 in fp32, and x itself for
    /// |x| &lt; 4e-4 (where tanh x = x − x³/3 rounds to x). Unlike 1 − 2/(e^2x + 1) it keeps full relative
    /// accuracy near 0. The scalar tail evaluates the same rational, so every lane rounds alike.
    /// </summary>
    private readonly struct TanhOp : IUnaryOp
    {
        private const float Clamp = 7.90531110763549805f, Tiny = 0.0004f;
        private const float A1 = 4.89352455891786e-03f, A3 = 6.37261928875436e-04f, A5 = 1.48572235717979e-05f, A7 = 5.12229709037114e-08f;
        private const float A9 = -8.60467152213735e-11f, A11 = 2.00018790482477e-13f, A13 = -2.76076847742355e-16f;
        private const float B0 = 4.89352518554385e-03f, B2 = 2.26843463243900e-03f, B4 = 1.18534705686654e-04f, B6 = 1.19825839466702e-06f;

        public float Invoke(float x)
        {
            if (MathF.Abs(x) < Tiny) return x;
            float c = Math.Clamp(x, -Clamp, Clamp), c2 = c * c;
            float p = c * (((((((A13 * c2 + A11) * c2 + A9) * c2 + A7) * c2 + A5) * c2 + A3) * c2) + A1);
            float q = ((B6 * c2 + B4) * c2 + B2) * c2 + B0;
            return float.IsNaN(x) ? x : p / q;
        }

        public Vector256<float> Invoke(Vector256<float> x)
        {
            var c = Vector256.Min(Vector256.Max(x, Vector256.Create(-Clamp)), Vector256.Create(Clamp));
            var c2 = c * c;
            var p = c * (((((((Vector256.Create(A13) * c2 + Vector256.Create(A11)) * c2 + Vector256.Create(A9)) * c2 + Vector256.Create(A7)) * c2
                + Vector256.Create(A5)) * c2 + Vector256.Create(A3)) * c2) + Vector256.Create(A1));
            var q = ((Vector256.Create(B6) * c2 + Vector256.Create(B4)) * c2 + Vector256.Create(B2)) * c2 + Vector256.Create(B0);
            return Vector256.ConditionalSelect(Vector256.LessThan(Vector256.Abs(x), Vector256.Create(Tiny)), x, p / q);
        }

        public Vector512<float> Invoke(Vector512<float> x)
        {
            var c = Vector512.Min(Vector512.Max(x, Vector512.Create(-Clamp)), Vector512.Create(Clamp));
            var c2 = c * c;
            var p = c * (((((((Vector512.Create(A13) * c2 + Vector512.Create(A11)) * c2 + Vector512.Create(A9)) * c2 + Vector512.Create(A7)) * c2
                + Vector512.Create(A5)) * c2 + Vector512.Create(A3)) * c2) + Vector512.Create(A1));
            var q = ((Vector512.Create(B6) * c2 + Vector512.Create(B4)) * c2 + Vector512.Create(B2)) * c2 + Vector512.Create(B0);
            return Vector512.ConditionalSelect(Vector512.LessThan(Vector512.Abs(x), Vector512.Create(Tiny)), x, p / q);
        }
    }

    /// <summary>dy·(1 − y²).</summary>
    private readonly struct TanhGrad : IBinaryOp
    {
        public float Invoke(float y, float dy) => dy * (1f - y * y);
        public Vector256<float> Invoke(Vector256<float> y, Vector256<float> dy) => dy * (Vector256<float>.One - y * y);
        public Vector512<float> Invoke(Vector512<float> y, Vector512<float> dy) => dy * (Vector512<float>.One - y * y);
    }
}

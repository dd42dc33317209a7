using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace DeepTrain.Backends.Cpu;

// SGD with momentum (PyTorch's torch.optim.SGD, foreach=False; Sutskever et al. 2013 for Nesterov).
// Per element, in this order (the CUDA kernel applies the same equations in the same order):
//   d = g + λ·w                       L2 weight decay: the λ/2·‖w‖² term of the loss (DESIGN.md)
//   b = d                   on step 1 (PyTorch clones the gradient into a fresh buffer)
//   b = μ·b + (1 − τ)·d     afterwards
//   d = d + μ·b if Nesterov else b    (only when μ ≠ 0; with μ = 0 there is no buffer)
//   w = w − lr·d
// g itself is not modified.
internal static partial class CpuKernels
{
    /// <summary>One SGD step over flat spans; see the file header for the update. <paramref name="momentum"/> is unused when μ = 0.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void SgdStep(Span<float> w, ReadOnlySpan<float> g, Span<float> momentum, SgdArgs args, bool firstStep)
    {
        CheckLength(w.Length, g.Length, nameof(g));
        bool useMomentum = args.Momentum != 0f;
        if (useMomentum) CheckLength(w.Length, momentum.Length, nameof(momentum));
        if (useMomentum && args.Form == SgdMomentumForm.Caffe)
        {
            SgdStepCaffe(w, g, momentum, args, firstStep);
            return;
        }
        float lr = args.LearningRate, wd = args.WeightDecay, mu = args.Momentum, damp = 1f - args.Dampening;
        // On step 1 the buffer is d: the same update with μ·b replaced by 0 and (1 − τ) by 1.
        float keep = firstStep ? 0f : mu, add = firstStep ? 1f : damp;
        bool nesterov = args.Nesterov;
        ref float ws = ref MemoryMarshal.GetReference(w);
        ref float gs = ref MemoryMarshal.GetReference(g);
        ref float bs = ref useMomentum ? ref MemoryMarshal.GetReference(momentum) : ref Unsafe.NullRef<float>();
        nuint n = (nuint)w.Length, i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
            {
                var wv = Vector256.LoadUnsafe(ref ws, i);
                var d = Vector256.LoadUnsafe(ref gs, i) + wv * wd;
                if (useMomentum)
                {
                    var b = (firstStep ? Vector256<float>.Zero : Vector256.LoadUnsafe(ref bs, i) * keep) + d * add;
                    b.StoreUnsafe(ref bs, i);
                    d = nesterov ? d + b * mu : b;
                }
                (wv - d * lr).StoreUnsafe(ref ws, i);
            }
        for (; i < n; i++)
        {
            float wv = Unsafe.Add(ref ws, i);
            float d = Unsafe.Add(ref gs, i) + wv * wd;
            if (useMomentum)
            {
                ref float b = ref Unsafe.Add(ref bs, i);
                b = (firstStep ? 0f : b * keep) + d * add;
                d = nesterov ? d + b * mu : b;
            }
            Unsafe.Add(ref ws, i) = wv - d * lr;
        }
    }

    /// <summary>
    /// The Caffe / Sutskever form (μ ≠ 0): d = g + λ·w; v_prev = v (0 on step 1); v = μ·v_prev + lr·d;
    /// w = w − v, or with Nesterov w = w − ((1 + μ)·v − μ·v_prev) as Caffe's NesterovSolver.
    /// </summary>
    private static void SgdStepCaffe(Span<float> w, ReadOnlySpan<float> g, Span<float> v, SgdArgs a, bool firstStep)
    {
        float lr = a.LearningRate, wd = a.WeightDecay, mu = a.Momentum;
        for (int i = 0; i < w.Length; i++)
        {
            float d = g[i] + wd * w[i];
            float prev = firstStep ? 0f : v[i];
            float vi = mu * prev + lr * d;
            v[i] = vi;
            w[i] -= a.Nesterov ? (1f + mu) * vi - mu * prev : vi;
        }
    }

    /// <summary>
    /// w, m, v ← one Adam/AdamW step from g (see <see cref="AdamArgs"/>); <paramref name="step"/> is t ≥ 1.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void AdamStep(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v, AdamArgs a, long step)
    {
        if (g.Length != w.Length || m.Length != w.Length || v.Length != w.Length)
            throw new ArgumentException($"AdamStep: w ({w.Length}), g ({g.Length}), m ({m.Length}) and v ({v.Length}) must have equal lengths");
        float bc1 = (float)(1.0 - Math.Pow(a.Beta1, step));
        float sqrtBc2 = (float)Math.Sqrt(1.0 - Math.Pow(a.Beta2, step));
        float stepSize = a.LearningRate / bc1, decay = a.LearningRate * a.WeightDecay;
        float b1 = a.Beta1, b2 = a.Beta2, c1 = 1f - a.Beta1, c2 = 1f - a.Beta2, eps = a.Eps, wd = a.WeightDecay;
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vb1 = Vector256.Create(b1); var vb2 = Vector256.Create(b2);
            var vc1 = Vector256.Create(c1); var vc2 = Vector256.Create(c2);
            var vstep = Vector256.Create(stepSize); var vbc2 = Vector256.Create(sqrtBc2); var veps = Vector256.Create(eps);
            var vdecay = Vector256.Create(decay); var vwd = Vector256.Create(wd);
            for (; i <= w.Length - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var wi = Vector256.Create((ReadOnlySpan<float>)w[i..]);
                var gi = Vector256.Create(g[i..]);
                if (a.Decoupled) wi -= vdecay * wi;
                else gi += vwd * wi;
                var mi = vb1 * Vector256.Create((ReadOnlySpan<float>)m[i..]) + vc1 * gi;
                var vi = vb2 * Vector256.Create((ReadOnlySpan<float>)v[i..]) + vc2 * gi * gi;
                mi.CopyTo(m[i..]);
                vi.CopyTo(v[i..]);
                wi -= vstep * mi / (Vector256.Sqrt(vi) / vbc2 + veps);
                wi.CopyTo(w[i..]);
            }
        }
        for (; i < w.Length; i++)
        {
            float wi = w[i], gi = g[i];
            if (a.Decoupled) wi -= decay * wi;
            else gi += wd * wi;
            float mi = b1 * m[i] + c1 * gi;
            float vi = b2 * v[i] + c2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            w[i] = wi - stepSize * mi / (MathF.Sqrt(vi) / sqrtBc2 + eps);
        }
    }

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

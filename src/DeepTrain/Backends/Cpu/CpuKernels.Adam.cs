using System.Runtime.Intrinsics;

namespace DeepTrain.Backends.Cpu;

// Adam and AdamW, the CPU twin of native/src/adamw.cu: the same equations in the same order, in fp32,
// with the bias corrections computed once per step in double.
public static partial class CpuKernels
{
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
}

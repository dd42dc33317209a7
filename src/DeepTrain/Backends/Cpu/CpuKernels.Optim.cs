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
public static partial class CpuKernels
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
}

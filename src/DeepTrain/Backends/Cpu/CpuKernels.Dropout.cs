using System.Runtime.CompilerServices;

namespace DeepTrain.Backends.Cpu;

internal static partial class CpuKernels
{
    /// <summary>The SplitMix64 golden-ratio increment, ⌊2^64/φ⌋.</summary>
    public const ulong DropoutGamma = 0x9E3779B97F4A7C15UL;

    /// <summary>
    /// The counter-based dropout mask shared by every backend (a GPU kernel reproduces it bit for bit):
    /// <code>
    /// z = seed + (ulong)i · 0x9E3779B97F4A7C15          (mod 2^64; i = the element's memory index)
    /// z = (z ^ (z &gt;&gt; 30)) · 0xBF58476D1CE4E5B9
    /// z = (z ^ (z &gt;&gt; 27)) · 0x94D049BB133111EB
    /// z =  z ^ (z &gt;&gt; 31)                                (the SplitMix64 finaliser)
    /// u = (float)(z &gt;&gt; 40) · 2^−24                      (top 24 bits: exact in fp32, u ∈ [0, 1))
    /// keep(i) = u ≥ p
    /// </code>
    /// so P(keep) = 1 − p up to 2^−24, p = 0 keeps everything and p = 1 drops everything. The mask
    /// depends on memory order, so an NCHW and an NHWC tensor of the same values get different masks.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool DropoutKeep(ulong seed, long i, float p)
    {
        ulong z = unchecked(seed + (ulong)i * DropoutGamma);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (float)(z >> 40) * (1f / 16777216f) >= p;
    }

    /// <summary>
    /// Inverted dropout (PyTorch's F.dropout in training): y[i] = keep(first + i) ? x[i]·1/(1 − p) : 0,
    /// where <paramref name="first"/> is the memory index of x[0] in the whole tensor.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void DropoutForward(ReadOnlySpan<float> x, Span<float> y, float p, ulong seed, long first)
    {
        CheckLength(x.Length, y.Length, nameof(y));
        float scale = 1f / (1f - p);
        for (int i = 0; i < x.Length; i++) y[i] = DropoutKeep(seed, first + i, p) ? x[i] * scale : 0f;
    }

    /// <summary>dx[i] (+)= keep(first + i) ? dy[i]·1/(1 − p) : 0, the mask of <see cref="DropoutForward"/>.</summary>
    /// <exception cref="ArgumentException">The spans differ in length.</exception>
    public static void DropoutBackward(ReadOnlySpan<float> dy, Span<float> dx, float p, ulong seed, long first, bool accumulate)
    {
        CheckLength(dy.Length, dx.Length, nameof(dx));
        float scale = 1f / (1f - p);
        for (int i = 0; i < dy.Length; i++)
        {
            float g = DropoutKeep(seed, first + i, p) ? dy[i] * scale : 0f;
            dx[i] = accumulate ? dx[i] + g : g;
        }
    }
}

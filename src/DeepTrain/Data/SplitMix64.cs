namespace DeepTrain.Data;

/// <summary>
/// SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference <c>splitmix64.c</c>): a tiny
/// counter-based generator. The data pipeline never shares one generator between threads:
/// every random decision is drawn from a generator seeded by a hash of (seed, stream, a, b),
/// e.g. (seed, augmentation, epoch, position), so the result does not depend on which worker
/// thread runs first.
/// </summary>
internal struct SplitMix64
{
    private const ulong Gamma = 0x9E3779B97F4A7C15;
    private ulong _state;

    /// <summary>Starts at <paramref name="state"/>.</summary>
    public SplitMix64(ulong state) => _state = state;

    /// <summary>Streams keep independent uses of one seed apart.</summary>
    public const ulong ShuffleStream = 1, AugmentStream = 2, SplitStream = 3;

    /// <summary>The generator for (seed, stream, a, b): each input goes through the finaliser in turn.</summary>
    public static SplitMix64 For(ulong seed, ulong stream, ulong a = 0, ulong b = 0)
        => new(Mix(Mix(Mix(seed ^ Mix(stream * Gamma)) ^ (a * Gamma + 1)) ^ (b * Gamma + 2)));

    /// <summary>SplitMix64's output function (a bijective 64-bit mixer).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    /// <summary>Next 64 random bits.</summary>
    public ulong Next() => Mix(_state += Gamma);

    /// <summary>
    /// Uniform integer in [0, <paramref name="bound"/>) by Lemire's multiply-shift on the top 32 bits;
    /// the bias is below bound/2^32, far under anything a training run can see.
    /// </summary>
    public int NextInt(int bound) => (int)(((Next() >> 32) * (ulong)(uint)bound) >> 32);

    /// <summary>A fair coin.</summary>
    public bool NextBool() => (Next() >> 63) != 0;

    /// <summary>Seeded Fisher–Yates (Durstenfeld) over <paramref name="items"/>.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}

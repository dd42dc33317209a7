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
    public const ulong ShuffleStream = 1, AugmentStream = 2, SplitStream = 3, CutMixStream = 4;

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

    /// <summary>Uniform double in [0, 1): the top 53 bits times 2^−53.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform double in [<paramref name="low"/>, <paramref name="high"/>) (torch's <c>uniform_(low, high)</c>).</summary>
    public double NextUniform(double low, double high) => low + (high - low) * NextDouble();

    /// <summary>Standard normal by Box–Muller: √(−2 ln u₁)·cos(2π u₂) with u₁ in (0, 1].</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>
    /// Gamma(<paramref name="shape"/>, 1) by Marsaglia and Tsang (2000), "A simple method for generating gamma
    /// variables": for k ≥ 1, d = k − 1/3, c = 1/√(9d); draw x ~ N(0, 1), v = (1 + c·x)³, u ~ U(0, 1) until
    /// v &gt; 0 and (u &lt; 1 − 0.0331·x⁴ or ln u &lt; x²/2 + d·(1 − v + ln v)); return d·v. For k &lt; 1 the same
    /// paper's boost: Gamma(k) = Gamma(k + 1)·u^(1/k).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="shape"/> is not positive and finite.</exception>
    public double NextGamma(double shape)
    {
        if (!(shape > 0) || double.IsInfinity(shape))
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "the gamma shape must be positive and finite");
        if (shape < 1)
        {
            double g = NextGamma(shape + 1);
            return g * Math.Pow(1.0 - NextDouble(), 1.0 / shape);
        }
        double d = shape - 1.0 / 3.0, c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x = NextNormal(), v = 1.0 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = 1.0 - NextDouble();
            if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1.0 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>
    /// Beta(<paramref name="a"/>, <paramref name="b"/>) as X/(X + Y) with X ~ Gamma(a, 1), Y ~ Gamma(b, 1)
    /// (the textbook construction numpy's <c>random.beta</c> also uses for these parameters).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is not positive and finite.</exception>
    public double NextBeta(double a, double b)
    {
        double x = NextGamma(a), y = NextGamma(b);
        // Both underflow to 0 only for tiny shapes; the limit then puts the mass at 0 or 1 equally often.
        return x + y > 0 ? x / (x + y) : (NextBool() ? 1.0 : 0.0);
    }

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

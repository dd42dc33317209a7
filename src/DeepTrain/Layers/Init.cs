using DeepTrain.Utils;

namespace DeepTrain.Layers;

/// <summary>How a parameter is initialised. Fan-in/fan-out follow PyTorch's <c>_calculate_fan_in_and_fan_out</c>:
/// fan_in = in_channels/groups · KH · KW, fan_out = out_channels · KH · KW.</summary>
public abstract record Init
{
    /// <summary>Fills <paramref name="w"/>.</summary>
    public abstract void Fill(Span<float> w, int fanIn, int fanOut, Rng rng);

    /// <summary>Every element equal to <paramref name="Value"/>.</summary>
    public sealed record Constant(float Value) : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng) => w.Fill(Value);
    }

    /// <summary>Normal(μ, σ).</summary>
    public sealed record Normal(float Mean, float Std) : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng)
        {
            for (int i = 0; i < w.Length; i++) w[i] = (float)(Mean + Std * rng.NextNormal());
        }
    }

    /// <summary>Uniform(lo, hi).</summary>
    public sealed record Uniform(float Low, float High) : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng)
        {
            for (int i = 0; i < w.Length; i++) w[i] = (float)(Low + (High - Low) * rng.NextDouble());
        }
    }

    /// <summary>
    /// He et al. 2015 (torch.nn.init.kaiming_normal_): N(0, gain²/fan) with gain = √(2/(1 + a²)),
    /// a = 0 for ReLU; fan is fan_in (preserves forward variance) or fan_out (backward).
    /// </summary>
    public sealed record KaimingNormal(bool FanOut = false, float NegativeSlope = 0f) : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng)
        {
            double std = Math.Sqrt(2.0 / (1 + NegativeSlope * NegativeSlope)) / Math.Sqrt(FanOut ? fanOut : fanIn);
            for (int i = 0; i < w.Length; i++) w[i] = (float)(std * rng.NextNormal());
        }
    }

    /// <summary>
    /// torch.nn.init.kaiming_uniform_: U(−b, b), b = gain·√(3/fan). PyTorch's default for Conv2d and
    /// Linear weights is this with a = √5, i.e. b = 1/√fan_in.
    /// </summary>
    public sealed record KaimingUniform(bool FanOut = false, float NegativeSlope = 0f) : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng)
        {
            double b = Math.Sqrt(2.0 / (1 + NegativeSlope * NegativeSlope)) * Math.Sqrt(3.0 / (FanOut ? fanOut : fanIn));
            for (int i = 0; i < w.Length; i++) w[i] = (float)(b * (2 * rng.NextDouble() - 1));
        }
    }

    /// <summary>Glorot and Bengio 2010 (torch.nn.init.xavier_uniform_): U(−b, b), b = gain·√(6/(fan_in + fan_out)).</summary>
    public sealed record XavierUniform(float Gain = 1f) : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng)
        {
            double b = Gain * Math.Sqrt(6.0 / (fanIn + fanOut));
            for (int i = 0; i < w.Length; i++) w[i] = (float)(b * (2 * rng.NextDouble() - 1));
        }
    }

    /// <summary>torch.nn.init.xavier_normal_: N(0, gain²·2/(fan_in + fan_out)).</summary>
    public sealed record XavierNormal(float Gain = 1f) : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng)
        {
            double std = Gain * Math.Sqrt(2.0 / (fanIn + fanOut));
            for (int i = 0; i < w.Length; i++) w[i] = (float)(std * rng.NextNormal());
        }
    }

    /// <summary>PyTorch's default for Conv2d/Linear weights: kaiming_uniform_(a = √5) = U(±1/√fan_in).</summary>
    public static Init PyTorchDefaultWeight => new KaimingUniform(NegativeSlope: MathF.Sqrt(5f));

    /// <summary>PyTorch's default for Conv2d/Linear biases: U(±1/√fan_in).</summary>
    public sealed record FanInUniform : Init
    {
        /// <inheritdoc />
        public override void Fill(Span<float> w, int fanIn, int fanOut, Rng rng)
        {
            double b = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0;
            for (int i = 0; i < w.Length; i++) w[i] = (float)(b * (2 * rng.NextDouble() - 1));
        }
    }
}

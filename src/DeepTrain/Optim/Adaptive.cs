using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Optim;

/// <summary>
/// Adagrad (Duchi et al. 2011), torch.optim.Adagrad's rule: g ← g + λ·w (L2 decay); s ← s + g²;
/// w ← w − lr/(1 + (t − 1)·lr_decay) · g/(√s + ε). Decay applies to the decay group only.
/// </summary>
public sealed class Adagrad : Optimizer
{
    private readonly DeviceBuffer _state;
    private readonly (Tensor W, Tensor G, Tensor S, bool Decay)[] _groups;

    /// <summary>Creates the optimizer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside its valid range.</exception>
    public Adagrad(ParameterSet parameters, float lr = 0.01f, float lrDecay = 0f, float weightDecay = 0f, float eps = 1e-10f) : base(parameters, lr)
    {
        if (!(lrDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(lrDecay), lrDecay, "Adagrad: lr_decay must be ≥ 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Adagrad: weight decay must be ≥ 0");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Adagrad: eps must be > 0");
        (LrDecay, WeightDecay, Eps) = (lrDecay, weightDecay, eps);
        _state = parameters.Backend.Allocate(parameters.TotalFloats * 4);
        _groups = Groups.Split(parameters, _state, 1).Select(g => (g.W, g.G, g.State[0], g.Decay)).ToArray();
    }

    /// <summary>lr_decay.</summary>
    public float LrDecay { get; }
    /// <summary>λ.</summary>
    public float WeightDecay { get; }
    /// <summary>ε.</summary>
    public float Eps { get; }
    /// <inheritdoc />
    public override long StateBytes => _state.Bytes;
    /// <inheritdoc />
    public override IReadOnlyList<(string Name, Tensor Value)> State => [("sum", Groups.Whole(Parameters, _state, 0))];

    /// <inheritdoc />
    public override void Step()
    {
        Steps++;
        var args = new AdagradArgs(LearningRate, LrDecay, WeightDecay, Eps);
        foreach (var (w, g, s, decay) in _groups) Parameters.Backend.AdagradStep(w, g, s, decay ? args : args with { WeightDecay = 0f }, Steps);
    }

    /// <inheritdoc />
    public override void Dispose() => _state.Dispose();
}

/// <summary>
/// RMSProp (Hinton, lecture 6e), torch.optim.RMSprop's rule: g ← g + λ·w; v ← α·v + (1 − α)·g²;
/// centered: ḡ ← α·ḡ + (1 − α)·g, d = √(v − ḡ²) + ε, else d = √v + ε; with momentum μ: b ← μ·b + g/d,
/// w ← w − lr·b, else w ← w − lr·g/d. Note ε is added outside the square root, as PyTorch does
/// (TensorFlow adds it inside). Decay applies to the decay group only.
/// </summary>
public sealed class RMSprop : Optimizer
{
    private readonly DeviceBuffer _state;
    private readonly (Tensor W, Tensor G, Tensor[] S, bool Decay)[] _groups;

    /// <summary>Creates the optimizer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside its valid range.</exception>
    public RMSprop(ParameterSet parameters, float lr = 0.01f, float alpha = 0.99f, float eps = 1e-8f, float weightDecay = 0f, float momentum = 0f, bool centered = false)
        : base(parameters, lr)
    {
        if (!(alpha >= 0 && alpha < 1)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "RMSprop: alpha must be in [0, 1)");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "RMSprop: eps must be > 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "RMSprop: weight decay must be ≥ 0");
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "RMSprop: momentum must be in [0, 1)");
        (Alpha, Eps, WeightDecay, Momentum, Centered) = (alpha, eps, weightDecay, momentum, centered);
        _state = parameters.Backend.Allocate(3 * parameters.TotalFloats * 4);   // square average, momentum, gradient average
        _groups = Groups.Split(parameters, _state, 3).ToArray();
    }

    /// <summary>α, the square-average decay.</summary>
    public float Alpha { get; }
    /// <summary>ε.</summary>
    public float Eps { get; }
    /// <summary>λ.</summary>
    public float WeightDecay { get; }
    /// <summary>Centered variant.</summary>
    public bool Centered { get; }
    /// <inheritdoc />
    public override long StateBytes => _state.Bytes;
    /// <inheritdoc />
    public override IReadOnlyList<(string Name, Tensor Value)> State =>
        [("square_avg", Groups.Whole(Parameters, _state, 0)), ("momentum_buffer", Groups.Whole(Parameters, _state, 1)), ("grad_avg", Groups.Whole(Parameters, _state, 2))];

    /// <inheritdoc />
    public override void Step()
    {
        Steps++;
        var args = new RmsPropArgs(LearningRate, Alpha, Eps, WeightDecay, Momentum, Centered);
        foreach (var (w, g, s, decay) in _groups)
            Parameters.Backend.RmsPropStep(w, g, s[0], s[1], s[2], decay ? args : args with { WeightDecay = 0f });
    }

    /// <inheritdoc />
    public override void Dispose() => _state.Dispose();
}

/// <summary>The decay and no-decay ranges of a model's flat buffers, with matching views of k parameter-sized state buffers.</summary>
internal static class Groups
{
    public static IEnumerable<(Tensor W, Tensor G, Tensor[] State, bool Decay)> Split(ParameterSet p, DeviceBuffer state, int copies)
    {
        long n = p.TotalFloats;
        foreach (var (start, count, decay) in new[] { (0L, p.DecayFloats, true), (p.DecayFloats, n - p.DecayFloats, false) })
        {
            if (count <= 0) continue;
            var s = Shape.Of(checked((int)count));
            yield return (new Tensor(p.AllValues.Buffer, start * 4, s), new Tensor(p.AllGrads.Buffer, start * 4, s),
                Enumerable.Range(0, copies).Select(k => new Tensor(state, (k * n + start) * 4, s)).ToArray(), decay);
        }
    }

    public static Tensor Whole(ParameterSet p, DeviceBuffer state, int copy) => new(state, copy * p.TotalFloats * 4, Shape.Of(checked((int)p.TotalFloats)));
}

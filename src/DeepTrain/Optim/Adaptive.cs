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
    private readonly GroupView[] _groups;

    /// <summary>Creates the optimizer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside its valid range.</exception>
    public Adagrad(ParameterSet parameters, float lr = 0.01f, float lrDecay = 0f, float weightDecay = 0f, float eps = 1e-10f) : base(parameters, lr)
    {
        if (!(lrDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(lrDecay), lrDecay, "Adagrad: lr_decay must be ≥ 0");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Adagrad: weight decay must be ≥ 0");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Adagrad: eps must be > 0");
        (LrDecay, WeightDecay, Eps) = (lrDecay, weightDecay, eps);
        _state = parameters.Backend.Allocate(parameters.TotalFloats * 4);
        _groups = GroupViews.Build(parameters, _state, 1);
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
    public override IReadOnlyList<(string Name, Tensor Value)> State => [("sum", GroupViews.Whole(Parameters, _state, 0))];

    /// <inheritdoc />
    protected override void Update()
    {
        var args = new AdagradArgs(LearningRate, LrDecay, WeightDecay, Eps);
        foreach (var v in _groups)
            if (!v.Group.Frozen)
                Parameters.Backend.AdagradStep(v.W, v.G, v.State[0], args with { LearningRate = LearningRate * v.Group.LrScale, WeightDecay = v.Group.DecayFor(WeightDecay) }, Steps);
        Parameters.SyncWorkingCopy();   // no fused 16-bit write here: round the masters afterwards (a no-op in fp32)
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
    private readonly GroupView[] _groups;

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
        _groups = GroupViews.Build(parameters, _state, 3);
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
        [("square_avg", GroupViews.Whole(Parameters, _state, 0)), ("momentum_buffer", GroupViews.Whole(Parameters, _state, 1)), ("grad_avg", GroupViews.Whole(Parameters, _state, 2))];

    /// <inheritdoc />
    protected override void Update()
    {
        var args = new RmsPropArgs(LearningRate, Alpha, Eps, WeightDecay, Momentum, Centered);
        foreach (var v in _groups)
            if (!v.Group.Frozen)
                Parameters.Backend.RmsPropStep(v.W, v.G, v.State[0], v.State[1], v.State[2],
                    args with { LearningRate = LearningRate * v.Group.LrScale, WeightDecay = v.Group.DecayFor(WeightDecay) });
        Parameters.SyncWorkingCopy();   // no fused 16-bit write here: round the masters afterwards (a no-op in fp32)
    }

    /// <inheritdoc />
    public override void Dispose() => _state.Dispose();
}

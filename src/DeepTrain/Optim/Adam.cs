using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Optim;

/// <summary>
/// Adam (Kingma and Ba 2015), torch.optim.Adam's rule, and with <c>decoupled</c> AdamW (Loshchilov and
/// Hutter 2019), torch.optim.AdamW's:
/// <code>
///   Adam:  g ← g + λ·w                  (L2: the loss gains λ/2·‖w‖², then adapted like any gradient)
///   AdamW: w ← w − lr·λ·w               (decoupled: applied outside the adaptive step)
///   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
///   w ← w − lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + ε)     bias correction with β1^t and β2^t respectively
/// </code>
/// Decay applies to the decay group only (conv and linear weights) unless <c>decayAll</c> is set.
/// </summary>
public class Adam : Optimizer
{
    private readonly DeviceBuffer _state;
    private readonly Tensor _m, _v;
    private readonly GroupView[] _groups;

    /// <summary>Creates Adam (or AdamW with <paramref name="decoupled"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside its valid range (the message gives it).</exception>
    public Adam(ParameterSet parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
        float weightDecay = 0f, bool decoupled = false, bool decayAll = false) : base(parameters, lr)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "Adam: beta1 must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "Adam: beta2 must be in [0, 1)");
        if (!(eps > 0) || float.IsInfinity(eps)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "Adam: eps must be finite and > 0");
        if (!(weightDecay >= 0) || float.IsInfinity(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Adam: weight decay must be finite and ≥ 0");
        Momentum = beta1; Beta2 = beta2; Eps = eps; WeightDecay = weightDecay; Decoupled = decoupled; DecayAll = decayAll;
        long n = parameters.TotalFloats;
        _state = parameters.Backend.Allocate(2 * n * sizeof(float));
        _m = new Tensor(_state, 0, Shape.Of(checked((int)n)));
        _v = new Tensor(_state, n * sizeof(float), Shape.Of(checked((int)n)));
        _groups = GroupViews.Build(parameters, _state, 2);   // state: m for every parameter, then v
    }

    /// <summary>β1 (the first-moment decay); a schedule may cycle it as <see cref="Optimizer.Momentum"/>.</summary>
    public float Beta1 => Momentum;
    /// <summary>β2.</summary>
    public float Beta2 { get; }
    /// <summary>ε.</summary>
    public float Eps { get; }
    /// <summary>λ.</summary>
    public float WeightDecay { get; }
    /// <summary>True for AdamW's decoupled decay.</summary>
    public bool Decoupled { get; }
    /// <summary>Whether biases and batch-norm parameters decay too.</summary>
    public bool DecayAll { get; }

    /// <inheritdoc />
    public override long StateBytes => _state.Bytes;

    /// <inheritdoc />
    public override IReadOnlyList<(string Name, Tensor Value)> State => [("exp_avg", _m), ("exp_avg_sq", _v)];

    /// <inheritdoc />
    protected override void Update()
    {
        var backend = Parameters.Backend;
        var args = new AdamArgs(LearningRate, Momentum, Beta2, Eps, WeightDecay, Decoupled);
        foreach (var v in _groups)
        {
            if (v.Group.Frozen) continue;
            var a = args with { LearningRate = LearningRate * v.Group.LrScale, WeightDecay = v.Group.DecayFor(WeightDecay, DecayAll) };
            // Mixed precision: the fused step also writes the 16-bit working copy and honours the scaler's flag and step count.
            var half = Parameters.WorkingView(v.Group);
            backend.AdamStep(v.W, v.G, v.State[0], v.State[1], a, Steps, half, Scaler?.State);
        }
    }

    /// <inheritdoc />
    public override bool HonoursLossScaler => true;

    /// <inheritdoc />
    public override void Dispose() => _state.Dispose();
}

/// <summary>AdamW (Loshchilov and Hutter 2019): <see cref="Adam"/> with decoupled weight decay, PyTorch's default λ = 0.01.</summary>
public sealed class AdamW(ParameterSet parameters, float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
    float weightDecay = 0.01f, bool decayAll = false)
    : Adam(parameters, lr, beta1, beta2, eps, weightDecay, decoupled: true, decayAll);

using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Optim;

/// <summary>
/// Stochastic gradient descent with momentum, torch.optim.SGD's rule:
/// <code>
///   g ← g + λ·w                     (L2 weight decay: the loss gains λ/2·‖w‖², Caffe's and PyTorch's weight_decay)
///   b ← μ·b + (1 − τ)·g             (b ← g on the first step)
///   g ← g + μ·b if Nesterov, else b
///   w ← w − lr·g
/// </code>
/// Decay applies to the decay group only (conv and linear weights); biases and batch-norm parameters
/// are excluded unless <c>decayAll</c> is set.
/// </summary>
public sealed class SGD : Optimizer
{
    private readonly DeviceBuffer? _momentumBuffer;
    private readonly Tensor? _momentum;
    // The two parameter groups and their momentum slices, made once: a step allocates no views.
    private readonly Tensor _all, _allGrads, _decayW, _decayG, _decayM, _otherW, _otherG, _otherM;

    /// <summary>Creates the optimizer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside its valid range (the message gives it).</exception>
    public SGD(ParameterSet parameters, float lr, float momentum = 0f, float weightDecay = 0f, float dampening = 0f, bool nesterov = false, bool decayAll = false)
        : base(parameters, lr)
    {
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "SGD: momentum must be in [0, 1)");
        if (!(weightDecay >= 0) || float.IsInfinity(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "SGD: weight decay must be finite and ≥ 0");
        if (!(dampening >= 0 && dampening <= 1)) throw new ArgumentOutOfRangeException(nameof(dampening), dampening, "SGD: dampening must be in [0, 1]");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("SGD: Nesterov momentum requires momentum > 0 and dampening 0", nameof(nesterov));
        Momentum = momentum; WeightDecay = weightDecay; Dampening = dampening; Nesterov = nesterov; DecayAll = decayAll;
        // The momentum buffer exists even at μ = 0, so a schedule may raise μ later (one-cycle's momentum cycling).
        _momentumBuffer = parameters.Backend.Allocate(parameters.TotalFloats * sizeof(float));
        _momentum = new Tensor(_momentumBuffer, 0, Shape.Of(checked((int)parameters.TotalFloats)));
        long split = parameters.DecayFloats, total = parameters.TotalFloats;
        (_all, _allGrads) = (parameters.AllValues, parameters.AllGrads);
        (_decayW, _decayG) = parameters.Group(decay: true);
        (_otherW, _otherG) = parameters.Group(decay: false);
        _decayM = Slice(0, split);
        _otherM = Slice(split, total - split);
    }

    /// <summary>λ.</summary>
    public float WeightDecay { get; }
    /// <summary>τ.</summary>
    public float Dampening { get; }
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }
    /// <summary>Whether biases and batch-norm parameters decay too.</summary>
    public bool DecayAll { get; }

    /// <inheritdoc />
    public override long StateBytes => _momentumBuffer?.Bytes ?? 0;

    /// <inheritdoc />
    public override IReadOnlyList<(string Name, Tensor Value)> State => _momentum is null ? [] : [("momentum_buffer", _momentum)];

    /// <inheritdoc />
    public override void Step()
    {
        Steps++;
        var backend = Parameters.Backend;
        long split = Parameters.DecayFloats, total = Parameters.TotalFloats;
        var all = new SgdArgs(LearningRate, Momentum, Dampening, WeightDecay, Nesterov);
        if (DecayAll || split == total)
        {
            backend.SgdStep(_all, _allGrads, _momentum!, all, Steps);
            return;
        }
        if (split > 0) backend.SgdStep(_decayW, _decayG, _decayM, all, Steps);
        backend.SgdStep(_otherW, _otherG, _otherM, all with { WeightDecay = 0f }, Steps);
    }

    private Tensor Slice(long start, long count) => new(_momentumBuffer!, start * sizeof(float), Shape.Of(checked((int)count)));

    /// <inheritdoc />
    public override void Dispose() => _momentumBuffer?.Dispose();
}

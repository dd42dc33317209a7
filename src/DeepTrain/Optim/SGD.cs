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
/// With <see cref="SgdMomentumForm.Caffe"/> the velocity carries the rate instead (v ← μ·v + lr·g; w ← w − v),
/// as Caffe's solver and Sutskever et al. 2013 write it; the two agree until a schedule changes lr.
/// Decay applies to the decay group only (conv and linear weights); biases and batch-norm parameters
/// are excluded unless <c>decayAll</c> is set.
/// </summary>
public sealed class SGD : Optimizer
{
    private readonly DeviceBuffer _momentumBuffer;
    private readonly Tensor _momentum;
    private readonly GroupView[] _groups;   // made once: a step allocates no views

    /// <summary>Creates the optimizer.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is outside its valid range (the message gives it).</exception>
    public SGD(ParameterSet parameters, float lr, float momentum = 0f, float weightDecay = 0f, float dampening = 0f, bool nesterov = false, bool decayAll = false,
        SgdMomentumForm form = SgdMomentumForm.PyTorch)
        : base(parameters, lr)
    {
        if (form == SgdMomentumForm.Caffe && dampening != 0) throw new ArgumentException("SGD: the Caffe momentum form has no dampening", nameof(dampening));
        Form = form;
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "SGD: momentum must be in [0, 1)");
        if (!(weightDecay >= 0) || float.IsInfinity(weightDecay)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "SGD: weight decay must be finite and ≥ 0");
        if (!(dampening >= 0 && dampening <= 1)) throw new ArgumentOutOfRangeException(nameof(dampening), dampening, "SGD: dampening must be in [0, 1]");
        if (nesterov && (momentum <= 0 || dampening != 0)) throw new ArgumentException("SGD: Nesterov momentum requires momentum > 0 and dampening 0", nameof(nesterov));
        Momentum = momentum; WeightDecay = weightDecay; Dampening = dampening; Nesterov = nesterov; DecayAll = decayAll;
        // The momentum buffer exists even at μ = 0, so a schedule may raise μ later (one-cycle's momentum cycling).
        _momentumBuffer = parameters.Backend.Allocate(parameters.TotalFloats * sizeof(float));
        _momentum = GroupViews.Whole(parameters, _momentumBuffer, 0);
        _groups = GroupViews.Build(parameters, _momentumBuffer, 1);
    }

    /// <summary>λ.</summary>
    public float WeightDecay { get; }
    /// <summary>τ.</summary>
    public float Dampening { get; }
    /// <summary>Which textbook form of momentum (they differ only when the learning rate changes).</summary>
    public SgdMomentumForm Form { get; }
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }
    /// <summary>Whether biases and batch-norm parameters decay too.</summary>
    public bool DecayAll { get; }

    /// <inheritdoc />
    public override long StateBytes => _momentumBuffer.Bytes;

    /// <inheritdoc />
    public override IReadOnlyList<(string Name, Tensor Value)> State => [("momentum_buffer", _momentum)];

    /// <inheritdoc />
    protected override void Update()
    {
        var backend = Parameters.Backend;
        foreach (var v in _groups)
        {
            if (v.Group.Frozen) continue;
            var args = new SgdArgs(LearningRate * v.Group.LrScale, Momentum, Dampening, v.Group.DecayFor(WeightDecay, DecayAll), Nesterov, Form);
            // Mixed precision: the fused step also writes the 16-bit working copy and honours the scaler's flag.
            var half = Parameters.WorkingView(v.Group);
            backend.SgdStep(v.W, v.G, v.State[0], args, Steps, half, Scaler?.State);
        }
    }

    /// <inheritdoc />
    public override bool HonoursLossScaler => true;

    /// <inheritdoc />
    public override void Dispose() => _momentumBuffer.Dispose();
}

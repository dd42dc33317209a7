namespace DeepTrain.Optim;

/// <summary>A learning rate (and optionally momentum) as a function of the step index, counted from 0.</summary>
public abstract class LrSchedule
{
    /// <summary>The learning rate for step <paramref name="step"/>.</summary>
    public abstract float LearningRate(long step);
    /// <summary>The momentum for step <paramref name="step"/>, or null to leave the optimizer's.</summary>
    public virtual float? Momentum(long step) => null;
    /// <summary>A one-line description for logs.</summary>
    public abstract override string ToString();
}

/// <summary>A constant learning rate.</summary>
public sealed class ConstantLr(float lr) : LrSchedule
{
    /// <inheritdoc />
    public override float LearningRate(long step) => lr;
    /// <inheritdoc />
    public override string ToString() => $"constant lr={lr:G4}";
}

/// <summary>
/// torch.optim.lr_scheduler.MultiStepLR: lr = base·γ^k where k is the number of milestones ≤ step.
/// He et al. 2015 train CIFAR ResNets at 0.1, divided by 10 at 32k and 48k iterations.
/// </summary>
public sealed class MultiStepLr : LrSchedule
{
    private readonly float _base, _gamma;
    private readonly long[] _milestones;

    /// <summary>Creates the schedule; milestones are step indices.</summary>
    /// <exception cref="ArgumentOutOfRangeException">γ is not in (0, 1] or a milestone is negative.</exception>
    public MultiStepLr(float baseLr, IEnumerable<long> milestones, float gamma = 0.1f)
    {
        if (!(gamma > 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "MultiStepLR: gamma must be in (0, 1]");
        _milestones = milestones.Order().ToArray();
        if (_milestones.Any(m => m < 0)) throw new ArgumentOutOfRangeException(nameof(milestones), "MultiStepLR: milestones must be ≥ 0");
        (_base, _gamma) = (baseLr, gamma);
    }

    /// <inheritdoc />
    public override float LearningRate(long step)
    {
        int k = 0;
        while (k < _milestones.Length && _milestones[k] <= step) k++;
        return (float)(_base * Math.Pow(_gamma, k));
    }

    /// <inheritdoc />
    public override string ToString() => $"multi-step lr={_base:G4} ×{_gamma:G3} at steps [{string.Join(", ", _milestones)}]";
}

/// <summary>
/// torch.optim.lr_scheduler.OneCycleLR (Smith and Topin 2017) with its defaults: the rate rises from
/// max/div to max over the first pct_start of the steps and anneals (cosine) to max/(div·final_div);
/// momentum cycles inversely between max_momentum and base_momentum. PyTorch's phase ends are
/// pct_start·T − 1 and T − 1.
/// </summary>
public sealed class OneCycleLr : LrSchedule
{
    private readonly double _max, _initial, _final, _baseMom, _maxMom, _end1, _end2;
    private readonly bool _cycleMomentum;

    /// <summary>Creates the schedule over <paramref name="totalSteps"/> steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range (the message says which).</exception>
    public OneCycleLr(float maxLr, long totalSteps, float pctStart = 0.3f, float divFactor = 25f, float finalDivFactor = 1e4f,
        bool cycleMomentum = true, float baseMomentum = 0.85f, float maxMomentum = 0.95f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 2);
        if (!(pctStart > 0 && pctStart < 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), pctStart, "OneCycleLR: pct_start must be in (0, 1)");
        if (!(maxLr > 0)) throw new ArgumentOutOfRangeException(nameof(maxLr), maxLr, "OneCycleLR: max_lr must be > 0");
        _max = maxLr; _initial = maxLr / divFactor; _final = _initial / finalDivFactor;
        _end1 = pctStart * totalSteps - 1; _end2 = totalSteps - 1;
        (_cycleMomentum, _baseMom, _maxMom) = (cycleMomentum, baseMomentum, maxMomentum);
        TotalSteps = totalSteps;
    }

    /// <summary>Steps in the cycle.</summary>
    public long TotalSteps { get; }

    private static double Cos(double start, double end, double pct) => end + (start - end) / 2 * (Math.Cos(Math.PI * pct) + 1);

    private (double Lr, double Mom) At(long step)
    {
        double s = Math.Min(step, _end2);
        if (s <= _end1) { double p = _end1 <= 0 ? 1 : s / _end1; return (Cos(_initial, _max, p), Cos(_maxMom, _baseMom, p)); }
        double q = (s - _end1) / (_end2 - _end1);
        return (Cos(_max, _final, q), Cos(_baseMom, _maxMom, q));
    }

    /// <inheritdoc />
    public override float LearningRate(long step) => (float)At(step).Lr;
    /// <inheritdoc />
    public override float? Momentum(long step) => _cycleMomentum ? (float)At(step).Mom : null;
    /// <inheritdoc />
    public override string ToString() => $"one-cycle max_lr={_max:G4} over {TotalSteps} steps";
}

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

    /// <summary>
    /// Goyal et al.'s linear scaling rule: a rate tuned for <paramref name="referenceBatch"/> becomes
    /// lr·batch/referenceBatch at <paramref name="batch"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A batch size is below 1.</exception>
    public static float ScaleForBatch(float lr, int batch, int referenceBatch = 256)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "linear scaling: the batch size must be ≥ 1");
        if (referenceBatch < 1) throw new ArgumentOutOfRangeException(nameof(referenceBatch), referenceBatch, "linear scaling: the reference batch size must be ≥ 1");
        return lr * batch / referenceBatch;
    }
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

/// <summary>torch.optim.lr_scheduler.StepLR: lr = base·γ^⌊step/stepSize⌋.</summary>
public sealed class StepLr : LrSchedule
{
    private readonly float _base, _gamma;
    private readonly long _stepSize;

    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">stepSize &lt; 1 or γ outside (0, 1].</exception>
    public StepLr(float baseLr, long stepSize, float gamma = 0.1f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stepSize, 1);
        if (!(gamma > 0 && gamma <= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "StepLR: gamma must be in (0, 1]");
        (_base, _stepSize, _gamma) = (baseLr, stepSize, gamma);
    }

    /// <inheritdoc />
    public override float LearningRate(long step) => (float)(_base * Math.Pow(_gamma, step / _stepSize));
    /// <inheritdoc />
    public override string ToString() => $"step lr={_base:G4} ×{_gamma:G3} every {_stepSize} steps";
}

/// <summary>torch.optim.lr_scheduler.ExponentialLR: lr = base·γ^step.</summary>
public sealed class ExponentialLr : LrSchedule
{
    private readonly float _base, _gamma;

    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">γ is not finite and positive (γ &gt; 1 grows the rate, as the range test does).</exception>
    public ExponentialLr(float baseLr, float gamma)
    {
        if (!(gamma > 0) || float.IsInfinity(gamma)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "ExponentialLR: gamma must be finite and > 0");
        (_base, _gamma) = (baseLr, gamma);
    }

    /// <inheritdoc />
    public override float LearningRate(long step) => (float)(_base * Math.Pow(_gamma, step));
    /// <inheritdoc />
    public override string ToString() => $"exponential lr={_base:G4} ×{_gamma:G4} per step";
}

/// <summary>
/// torch.optim.lr_scheduler.CosineAnnealingLR (closed form): lr = η_min + (base − η_min)·(1 + cos(π·step/T))/2,
/// held at η_min after T.
/// </summary>
public sealed class CosineLr : LrSchedule
{
    private readonly float _base, _min;
    private readonly long _total;

    /// <summary>Creates the schedule over <paramref name="totalSteps"/> steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">totalSteps &lt; 1 or a negative minimum.</exception>
    public CosineLr(float baseLr, long totalSteps, float minLr = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(totalSteps, 1);
        if (!(minLr >= 0)) throw new ArgumentOutOfRangeException(nameof(minLr), minLr, "CosineAnnealingLR: eta_min must be ≥ 0");
        (_base, _total, _min) = (baseLr, totalSteps, minLr);
    }

    /// <inheritdoc />
    public override float LearningRate(long step)
        => (float)(_min + (_base - _min) * (1 + Math.Cos(Math.PI * Math.Min(step, _total) / _total)) / 2);
    /// <inheritdoc />
    public override string ToString() => $"cosine lr={_base:G4}→{_min:G3} over {_total} steps";
}

/// <summary>
/// torch.optim.lr_scheduler.CosineAnnealingWarmRestarts (Loshchilov and Hutter 2017, SGDR): cosine from base to
/// η_min over T_0 steps, then restarts with periods T_0·T_mult^k.
/// </summary>
public sealed class CosineWarmRestartsLr : LrSchedule
{
    private readonly float _base, _min;
    private readonly long _t0;
    private readonly int _mult;

    /// <summary>Creates the schedule.</summary>
    /// <exception cref="ArgumentOutOfRangeException">T_0 &lt; 1, T_mult &lt; 1 or a negative minimum.</exception>
    public CosineWarmRestartsLr(float baseLr, long t0, int tMult = 1, float minLr = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(t0, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(tMult, 1);
        if (!(minLr >= 0)) throw new ArgumentOutOfRangeException(nameof(minLr), minLr, "CosineAnnealingWarmRestarts: eta_min must be ≥ 0");
        (_base, _t0, _mult, _min) = (baseLr, t0, tMult, minLr);
    }

    /// <inheritdoc />
    public override float LearningRate(long step)
    {
        long period = _t0, cur = step;
        while (cur >= period) { cur -= period; period *= _mult; }   // O(log step) for T_mult > 1
        return (float)(_min + (_base - _min) * (1 + Math.Cos(Math.PI * cur / period)) / 2);
    }

    /// <inheritdoc />
    public override string ToString() => $"cosine warm restarts lr={_base:G4} T_0={_t0} T_mult={_mult}";
}

/// <summary>
/// Linear warm-up in front of another schedule (Goyal et al. 2017): the rate rises linearly from
/// start_factor·lr(0) to the inner schedule's rate over <c>warmupSteps</c>, then follows it (shifted, so the
/// inner schedule starts at its own step 0 when the warm-up ends).
/// </summary>
public sealed class WarmupLr : LrSchedule
{
    private readonly LrSchedule _inner;
    private readonly long _warmup;
    private readonly float _startFactor;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative warm-up or a start factor outside (0, 1].</exception>
    public WarmupLr(LrSchedule inner, long warmupSteps, float startFactor = 0.1f)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfNegative(warmupSteps);
        if (!(startFactor > 0 && startFactor <= 1)) throw new ArgumentOutOfRangeException(nameof(startFactor), startFactor, "warm-up start factor must be in (0, 1]");
        (_inner, _warmup, _startFactor) = (inner, warmupSteps, startFactor);
    }

    /// <inheritdoc />
    public override float LearningRate(long step)
    {
        if (step >= _warmup) return _inner.LearningRate(step - _warmup);
        double f = _startFactor + (1 - _startFactor) * step / (double)_warmup;
        return (float)(f * _inner.LearningRate(0));
    }

    /// <inheritdoc />
    public override float? Momentum(long step) => _inner.Momentum(Math.Max(0, step - _warmup));
    /// <inheritdoc />
    public override string ToString() => $"{_warmup} warm-up steps, then {_inner}";
}

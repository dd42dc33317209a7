using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Optim;

/// <summary>
/// L1, L2 and elastic-net penalties on the weights, independent of the optimizer:
/// <code>
///   P(w) = λ1·‖w‖₁ + (λ2/2)·‖w‖²           (λ1 = 0: L2 ("ridge"); λ2 = 0: L1 ("lasso"); both: elastic net)
///   g ← g + λ1·sign(w) + λ2·w               added to the gradients before every optimizer step, sign(0) = 0
/// </code>
/// The rule of <see cref="ParameterGroupRule"/> applies: only conv and linear weights are penalised, never
/// biases or batch-norm γ/β, and frozen groups are left alone. One fused backend call per group
/// (<see cref="Backends.IBackend.PenaltyGradient"/>).
/// <para>
/// Because the term enters the gradient, every optimizer then adapts it like any other gradient: with Adam,
/// L2 here equals Adam's own (coupled) weight_decay, not AdamW's decoupled decay. With SGD, λ2 here is
/// exactly SGD's weight_decay λ (Caffe's and PyTorch's meaning), so use one or the other, not both.
/// </para>
/// <para>
/// The reported training loss is the data loss only, as PyTorch reports the loss it was given: a
/// PyTorch user adds the penalty to the loss by hand. <see cref="Value"/> computes P(w) on request
/// (the CLI writes it once per epoch as <c>penalty</c> in metrics.jsonl).
/// </para>
/// </summary>
public sealed class WeightPenalty
{
    private ParameterSet? _viewsOf;                      // the views of the last set seen, made once: a step allocates nothing
    private (Tensor W, Tensor G)[] _views = [];

    /// <summary>Creates the penalty λ1·‖w‖₁ + (λ2/2)·‖w‖².</summary>
    /// <exception cref="ArgumentOutOfRangeException">λ1 or λ2 is negative or not finite.</exception>
    public WeightPenalty(float l1, float l2)
    {
        if (!(l1 >= 0) || float.IsInfinity(l1)) throw new ArgumentOutOfRangeException(nameof(l1), l1, "L1 penalty λ1 must be finite and ≥ 0");
        if (!(l2 >= 0) || float.IsInfinity(l2)) throw new ArgumentOutOfRangeException(nameof(l2), l2, "L2 penalty λ2 must be finite and ≥ 0");
        (L1, L2) = (l1, l2);
    }

    /// <summary>λ1, the weight of ‖w‖₁.</summary>
    public float L1 { get; }
    /// <summary>λ2: the loss gains (λ2/2)·‖w‖², so the gradient gains λ2·w.</summary>
    public float L2 { get; }
    /// <summary>True when both coefficients are zero (the penalty does nothing).</summary>
    public bool IsZero => L1 == 0 && L2 == 0;

    /// <summary>Adds λ1·sign(w) + λ2·w to the gradients of every penalised, unfrozen group of <paramref name="parameters"/>.</summary>
    public void AddGradient(ParameterSet parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (IsZero) return;
        if (!ReferenceEquals(_viewsOf, parameters))
        {
            _views = parameters.Groups.Where(g => g.Decay && !g.Frozen).Select(g => parameters.View(g)).ToArray();
            _viewsOf = parameters;
        }
        foreach (var (w, g) in _views) parameters.Backend.PenaltyGradient(w, g, L1, L2);
    }

    /// <summary>
    /// P(w) = λ1·‖w‖₁ + (λ2/2)·‖w‖² over the penalised parameters, in double on the host (one copy of the
    /// parameters: call it per epoch, not per step).
    /// </summary>
    public double Value(ParameterSet parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (IsZero) return 0;
        double abs = 0, sq = 0;
        foreach (var group in parameters.Groups)
        {
            if (!group.Decay || group.Frozen) continue;
            var (w, _) = parameters.View(group);
            var host = parameters.Backend.ReadFloats(w);
            foreach (float x in host) { abs += Math.Abs(x); sq += (double)x * x; }
        }
        return L1 * abs + 0.5 * L2 * sq;
    }

    /// <inheritdoc />
    public override string ToString() => (L1, L2) switch
    {
        (0, 0) => "none",
        (_, 0) => $"L1 λ1={L1:G3}",
        (0, _) => $"L2 λ2={L2:G3}",
        _ => $"elastic net λ1={L1:G3} λ2={L2:G3}",
    };
}

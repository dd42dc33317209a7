namespace DeepTrain.Memory;

/// <summary>
/// Optimizer settings for the parameters whose full name starts with <see cref="Prefix"/> ("layer3.",
/// "linear.", or an exact name): PyTorch's parameter groups. The rule, stated once: weight decay applies
/// to conv and linear weights and never to biases or batch-norm γ/β, whatever the group; a group may
/// scale the learning rate (per-layer rates for fine-tuning), replace λ, or freeze its parameters
/// (no update at all: no decay, no momentum).
/// </summary>
/// <param name="Prefix">Name prefix, matched at a dot boundary ("layer1" matches "layer1.0.conv1.weight", not "layer10").</param>
/// <param name="LrScale">Multiplier of the optimizer's (scheduled) learning rate; 0 ≤ scale.</param>
/// <param name="WeightDecay">λ for this group's decayed tensors, or null for the optimizer's own.</param>
/// <param name="Frozen">True to leave these parameters unchanged.</param>
public sealed record ParameterGroupRule(string Prefix, float LrScale = 1f, float? WeightDecay = null, bool Frozen = false)
{
    /// <summary>Whether the parameter called <paramref name="name"/> belongs to this group.</summary>
    public bool Matches(string name) => name == Prefix || name.StartsWith(Prefix.EndsWith('.') ? Prefix : Prefix + ".", StringComparison.Ordinal);
}

/// <summary>One contiguous range of the flat parameter buffers and the rule it follows (null: the optimizer's defaults).</summary>
public sealed record ParameterGroup(long Start, long Count, bool Decay, ParameterGroupRule? Rule)
{
    /// <summary>Learning-rate multiplier.</summary>
    public float LrScale => Rule?.LrScale ?? 1f;
    /// <summary>True when the optimizer must skip this range.</summary>
    public bool Frozen => Rule?.Frozen ?? false;
    /// <summary>λ for this range given the optimizer's own: 0 for biases and batch-norm parameters, the rule's override, else the optimizer's.</summary>
    public float DecayFor(float optimizerDecay, bool decayAll = false) => Decay || decayAll ? Rule?.WeightDecay ?? optimizerDecay : 0f;
}

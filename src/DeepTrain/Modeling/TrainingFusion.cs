using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Modeling;

/// <summary>
/// Layer fusion in training plans. A batch norm whose output only a ReLU reads (the ReLU then runs in place over it) runs as
/// one step with it on the backends that fuse the pair (the CPU, fp32 NCHW): forward writes max(BN(x), 0) in its
/// normalising pass, and backward takes the ReLU's output gradient dz and applies the mask [y &gt; 0] in batch norm's
/// summing pass, recomputing y = (x − μ)·scale + β from x with the scale the forward saved. The operations are the
/// separate layers', so the bits are too (loss, weights, running statistics); only the passes over the activation and the
/// ReLU's gradient go. Elsewhere (CUDA, 16-bit or channels-last plans, sync batch norm, <see cref="Plan.ForwardObserved"/>)
/// each layer of a pair runs its own step, exactly as an unfused plan. Parameters, buffers and checkpoints are the layers'
/// own, so fused and unfused plans read each other's checkpoints.
/// </summary>
internal static class TrainingFusion
{
    /// <summary>The environment variable that switches fusion: <c>on</c> (the default) or <c>off</c>.</summary>
    internal const string Variable = "DEEPTRAIN_FUSION";

    private static bool? s_enabled;

    /// <summary>Whether training plans fuse (read once from <see cref="Variable"/>).</summary>
    /// <exception cref="ArgumentException">The variable holds something other than on or off.</exception>
    internal static bool Enabled => s_enabled ??= Parse(Environment.GetEnvironmentVariable(Variable));

    internal static bool Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "on" or "1" => true,
        "off" or "0" => false,
        _ => throw new ArgumentException($"environment variable {Variable}='{value}': expected on or off"),
    };

    /// <summary>The per-channel fp32 scale γ/√(σ² + ε) a fused batch norm saves for its backward's recomputation of y.</summary>
    internal static Shape SavedScaleShape(BatchNorm bn) => Shape.Of(bn.Channels);
}

using DeepTrain.Layers;

namespace DeepTrain.Modeling;

/// <summary>A layer produced NaN or ±∞; <see cref="Layer"/> is the first one in forward order.</summary>
public sealed class NonFiniteException(Layer layer, string message) : DeepTrainException(message)
{
    /// <summary>The first layer whose output is not finite.</summary>
    public Layer Layer { get; } = layer;
}

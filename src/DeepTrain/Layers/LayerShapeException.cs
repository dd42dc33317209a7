namespace DeepTrain.Layers;

/// <summary>A model that does not fit together: the message names the layer and the expected and actual shapes.</summary>
public sealed class LayerShapeException(string message) : DeepTrainException(message);

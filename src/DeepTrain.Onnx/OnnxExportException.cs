namespace DeepTrain.Onnx;

/// <summary>
/// A model that cannot be written as ONNX: a layer with no ONNX mapping, or one whose settings the mapping cannot express.
/// The message names the layer, its kind and what the exporter supports.
/// </summary>
public sealed class OnnxExportException : DeepTrainException
{
    /// <summary>Builds the exception for <paramref name="layerName"/> of kind <paramref name="layerKind"/>.</summary>
    public OnnxExportException(string layerName, string layerKind, string message) : base(message)
        => (LayerName, LayerKind) = (layerName, layerKind);

    /// <summary>The layer's full name in the model ("layer1.0.conv1").</summary>
    public string LayerName { get; }

    /// <summary>The layer's kind ("Conv2d").</summary>
    public string LayerKind { get; }
}

using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Modeling;

namespace DeepTrain.Onnx;

/// <summary>Copies a layer's fp32 parameters and buffers (the master copy, whatever the plan's precision) to the host.</summary>
internal sealed class ModelWeights(Model model)
{
    /// <summary>Parameter <paramref name="index"/> of <paramref name="layer"/>, in <see cref="Layer.Parameters"/> order.</summary>
    public float[] Param(Layer layer, int index) => model.Backend.ReadFloats(model.Parameters.Of(layer)[index].Value);

    /// <summary>Buffer <paramref name="index"/> of <paramref name="layer"/>, in <see cref="Layer.Buffers"/> order.</summary>
    public float[] Buffer(Layer layer, int index) => model.Backend.ReadFloats(model.Parameters.BuffersOf(layer)[index].Value);
}

using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Infrastructure;

/// <summary>Small graphs the training tests share.</summary>
public static class TestNets
{
    /// <summary>
    /// For <see cref="TestData.TinyImages"/> (1×8×8, 4 classes): conv, batch norm, ReLU, dropout (seeded by the
    /// iteration), pooling, linear — every kind of state a resume or a checkpoint must restore.
    /// </summary>
    public static ModelGraph Stateful()
    {
        var g = new ModelGraph("tiny", Shape.Of(1, 8, 8));
        var x = g.Apply("conv", new Conv2d(1, 4, 3, padding: 1, bias: false), g.Input);
        x = g.Apply("bn", BatchNorm2d.Create(4), x);
        x = g.Apply("relu", new ReLU(), x);
        x = g.Apply("drop", new Dropout(0.2f), x);
        x = g.Apply("pool", new GlobalAvgPool2d(), x);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(4, 4), x);
        return g;
    }
}

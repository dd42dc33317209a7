using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Training;

/// <summary>Non-finite values are traced to the first layer that produced them.</summary>
public class NonFiniteTests
{
    [Fact]
    public void ForwardChecked_NamesTheFirstLayerThatOverflows()
    {
        using var b = TestBackends.Create("cpu");
        var g = new ModelGraph("t", Shape.Of(4));
        var x = g.Apply("fc1", new Linear(4, 4), g.Input);
        x = g.Apply("act", new Tanh(), x);
        x = g.Apply("fc2", new Linear(4, 3), x);
        g.Apply("fc3", new Linear(3, 2), x);
        using var model = new Model(g, b, seed: 1);
        Tensor P(string name) => model.Parameters.Entries.Single(e => e.Name == name).Value;
        b.Fill(P("fc1.weight"), 1f);
        b.Fill(P("fc1.bias"), 0f);              // fc1 = 4 everywhere, tanh(4) ≈ 0.9993: finite
        b.Fill(P("fc2.weight"), float.MaxValue); // 4 · 0.9993 · MaxValue overflows to +∞
        using var plan = model.Compile(2, training: false, new CrossEntropyLoss());
        b.CopyFromHost<float>([1, 1, 1, 1, 1, 1, 1, 1], plan.Input);
        var e = Assert.Throws<NonFiniteException>(plan.ForwardChecked);
        Assert.Equal("fc2", e.Layer.Name);
        Assert.Contains("Linear 'fc2'", e.Message);
        Assert.Contains("its inputs: finite", e.Message);
    }
}

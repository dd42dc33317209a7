using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Optim;

/// <summary>Parameter groups: frozen layers, per-layer learning rates and decay, one contiguous range each.</summary>
public class ParameterGroupTests
{
    private static ModelGraph Net()
    {
        var g = new ModelGraph("t", Shape.Of(4));
        var x = g.Apply("body", new Linear(4, 6), g.Input);
        x = g.Apply("relu", new ReLU(), x);
        g.Apply("head", new Linear(6, 3), x);
        return g;
    }

    private static Dictionary<string, float[]> Snapshot(Model m) => m.Parameters.Entries.ToDictionary(e => e.Name, e => e.Value.ToArray());

    private static void Step(Model m, Optimizer opt)
    {
        using var plan = m.Compile(5, training: true, new CrossEntropyLoss());
        m.Backend.CopyFromHost<float>(TestData.Normal(3, 5, 4), plan.Input);
        m.Backend.CopyFromHost<int>([0, 1, 2, 1, 0], plan.Target);
        plan.TrainStep();
        opt.Step();
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    [InlineData("rmsprop")]
    public void FrozenLayer_DoesNotMove_OthersDo(string which)
    {
        using var b = TestBackends.Create("cpu");
        using var m = new Model(Net(), b, seed: 1, groups: [new ParameterGroupRule("body", Frozen: true)]);
        using Optimizer opt = which switch
        {
            "sgd" => new SGD(m.Parameters, 0.1f, 0.9f, 0.1f),
            "adamw" => new AdamW(m.Parameters, 0.1f, weightDecay: 0.1f),
            _ => new RMSprop(m.Parameters, 0.1f, weightDecay: 0.1f, momentum: 0.5f),
        };
        var before = Snapshot(m);
        for (int i = 0; i < 3; i++) Step(m, opt);
        var after = Snapshot(m);
        Assert.Equal(before["body.weight"], after["body.weight"]);   // no gradient step, no decay, no momentum
        Assert.Equal(before["body.bias"], after["body.bias"]);
        Assert.NotEqual(before["head.weight"], after["head.weight"]);
    }

    [Fact]
    public void LearningRateScale_ScalesThatGroupsStep()
    {
        using var b = TestBackends.Create("cpu");
        using var plain = new Model(Net(), b, seed: 1);
        using var scaled = new Model(Net(), b, seed: 1, groups: [new ParameterGroupRule("body", LrScale: 0.25f)]);
        using var o1 = new SGD(plain.Parameters, 0.2f);
        using var o2 = new SGD(scaled.Parameters, 0.2f);
        var w0 = Snapshot(plain);
        Step(plain, o1);
        Step(scaled, o2);
        var (p, s) = (Snapshot(plain), Snapshot(scaled));
        // Plain SGD: Δw = −lr·g, so the scaled group moves exactly a quarter as far (same gradients).
        var expected = w0["body.weight"].Select((w, i) => (double)w + 0.25 * (p["body.weight"][i] - w)).ToArray();
        Tolerance.AssertClose(expected, s["body.weight"], 1e-7, 1e-6, "body.weight with lr × 0.25");
        Assert.Equal(p["head.weight"], s["head.weight"]);
    }

    [Fact]
    public void GroupsAreContiguous_DecayedFirst_AndUnmatchedRulesAreRejected()
    {
        using var b = TestBackends.Create("cpu");
        using var m = new Model(Net(), b, groups: [new ParameterGroupRule("head", WeightDecay: 0.5f)]);
        var groups = m.Parameters.Groups;
        Assert.Equal(4, groups.Count);   // (head, decay), (head, no decay), (default, decay), (default, no decay)
        Assert.True(groups[0].Decay && groups[0].Rule!.Prefix == "head" && !groups[1].Decay);
        Assert.Equal(0.5f, groups[0].DecayFor(0.01f));
        Assert.Equal(0f, groups[1].DecayFor(0.01f));     // biases never decay
        for (int i = 1; i < groups.Count; i++) Assert.Equal(groups[i - 1].Start + groups[i - 1].Count, groups[i].Start);
        var e = Assert.Throws<ArgumentException>(() => new Model(Net(), b, groups: [new ParameterGroupRule("backbone", Frozen: true)]));
        Assert.Contains("'backbone' matches no parameter", e.Message);
        Assert.False(new ParameterGroupRule("layer1").Matches("layer10.conv.weight"));
        Assert.True(new ParameterGroupRule("layer1").Matches("layer1.0.conv1.weight"));
    }
}

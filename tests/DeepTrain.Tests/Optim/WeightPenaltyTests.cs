using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Optim;

/// <summary>L1, L2 and elastic-net penalties: the backend op at every length, and the optimizer integration.</summary>
public class WeightPenaltyTests
{
    // g + λ1·sign(w) + λ2·w is two fp32 roundings per element (three operations, one exact: λ1·±1):
    // 2e-7 relative with a 1e-7 floor near zero.
    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void PenaltyGradient_MatchesDefinition_AtEveryLength(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        for (int n = 0; n <= 257; n++)
        {
            float[] w = TestData.Uniform(n + 1, n), g0 = TestData.Uniform(n + 1000, n);
            for (int i = 0; i < n; i += 7) w[i] = 0f;   // sign(0) = 0, as torch.sign: exact zeros get no L1 push
            var wt = s.Upload(w, Shape.Of(n));
            var gt = s.Upload(g0, Shape.Of(n));
            b.PenaltyGradient(wt, gt, 0.3f, 0.05f);
            var expected = Enumerable.Range(0, n).Select(i => g0[i] + 0.3 * Math.Sign(w[i]) + 0.05 * w[i]).ToArray();
            Tolerance.AssertClose(expected, s.Download(gt), 1e-7, 2e-7, $"penalty grad n={n}");
            Assert.Equal(w, s.Download(wt));   // w is read only
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void PenaltyGradient_ZeroCoefficients_LeaveTheGradientBitForBit_AndBadOnesAreRejected(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        float[] w = TestData.Uniform(1, 100), g = TestData.Uniform(2, 100);
        var wt = s.Upload(w, Shape.Of(100));
        var gt = s.Upload(g, Shape.Of(100));
        b.PenaltyGradient(wt, gt, 0f, 0f);
        Assert.Equal(g, s.Download(gt));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.PenaltyGradient(wt, gt, -1f, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.PenaltyGradient(wt, gt, 0f, float.PositiveInfinity));
        Assert.Throws<ArgumentException>(() => b.PenaltyGradient(wt, s.Zeros(Shape.Of(99)), 0.1f, 0f));
    }

    [Fact]
    public void WeightPenalty_RejectsImpossibleCoefficients_WithTheValidRange()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new WeightPenalty(-0.1f, 0));
        Assert.Contains("≥ 0", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightPenalty(0, float.NaN));
    }

    private static ModelGraph Net()
    {
        var g = new ModelGraph("t", Shape.Of(4));
        var x = g.Apply("body", new Linear(4, 6), g.Input);
        x = g.Apply("relu", new Tanh(), x);
        g.Apply("head", new Linear(6, 3), x);
        return g;
    }

    private static void Backward(Model m, Plan plan)
    {
        m.Backend.CopyFromHost<float>(TestData.Normal(3, 5, 4), plan.Input);
        m.Backend.CopyFromHost<int>([0, 1, 2, 1, 0], plan.Target);
        plan.TrainStep();
    }

    [Fact]
    public void SgdWithL2Penalty_EqualsSgdWeightDecay_BitForBit_OverManySteps()
    {
        // Caffe's and PyTorch's SGD weight_decay λ is the L2 term λ/2·‖w‖²: g + λ·w, the same fp32 operation.
        using var b = TestBackends.Create("cpu");
        using var decayed = new Model(Net(), b, seed: 1);
        using var penalised = new Model(Net(), b, seed: 1);
        using var o1 = new SGD(decayed.Parameters, 0.1f, momentum: 0.9f, weightDecay: 0.01f);
        using var o2 = new SGD(penalised.Parameters, 0.1f, momentum: 0.9f) { Penalty = new WeightPenalty(0f, 0.01f) };
        using var p1 = decayed.Compile(5, training: true, new CrossEntropyLoss());
        using var p2 = penalised.Compile(5, training: true, new CrossEntropyLoss());
        for (int step = 0; step < 20; step++)
        {
            Backward(decayed, p1); o1.Step();
            Backward(penalised, p2); o2.Step();
        }
        Assert.Equal(decayed.Parameters.AllValues.ToArray(), penalised.Parameters.AllValues.ToArray());
    }

    [Fact]
    public void AdamWithElasticNet_AddsThePenaltyGradientToWeightsOnly_BeforeTheUpdate()
    {
        // Adam with a penalty must equal Adam fed the gradient g + λ1·sign(w) + λ2·w computed here on the host
        // for conv/linear weights only (biases are excluded by the decay rule).
        using var b = TestBackends.Create("cpu");
        using var withPenalty = new Model(Net(), b, seed: 2);
        using var byHand = new Model(Net(), b, seed: 2);
        using var o1 = new Adam(withPenalty.Parameters, 0.01f) { Penalty = new WeightPenalty(0.02f, 0.1f) };
        using var o2 = new Adam(byHand.Parameters, 0.01f);
        using var p1 = withPenalty.Compile(5, training: true, new CrossEntropyLoss());
        using var p2 = byHand.Compile(5, training: true, new CrossEntropyLoss());
        for (int step = 0; step < 10; step++)
        {
            Backward(withPenalty, p1); o1.Step();
            Backward(byHand, p2);
            foreach (var e in byHand.Parameters.Entries)
            {
                if (!e.Spec.Decay) continue;
                float[] w = e.Value.ToArray(), g = e.Grad.ToArray();
                for (int i = 0; i < g.Length; i++) g[i] = (g[i] + 0.02f * ((w[i] > 0 ? 1f : 0f) - (w[i] < 0 ? 1f : 0f))) + 0.1f * w[i];
                b.CopyFromHost<float>(g, e.Grad);
            }
            o2.Step();
        }
        foreach (var e in withPenalty.Parameters.Entries)
        {
            var other = byHand.Parameters.Entries.Single(x => x.Name == e.Name);
            Tolerance.AssertClose(other.Value.ToArray(), e.Value.ToArray(), 1e-6, 1e-5, e.Name);
        }
        // The penalty changed the weights (the comparison above would pass vacuously otherwise).
        using var plain = new Model(Net(), b, seed: 2);
        using var o3 = new Adam(plain.Parameters, 0.01f);
        using var p3 = plain.Compile(5, training: true, new CrossEntropyLoss());
        for (int step = 0; step < 10; step++) { Backward(plain, p3); o3.Step(); }
        Assert.NotEqual(plain.Parameters.Entries.Single(x => x.Name == "body.weight").Value.ToArray(),
            withPenalty.Parameters.Entries.Single(x => x.Name == "body.weight").Value.ToArray());
    }

    [Fact]
    public void L1Penalty_SkipsBiasesAndFrozenGroups_AndValueIsTheObjective()
    {
        using var b = TestBackends.Create("cpu");
        using var m = new Model(Net(), b, seed: 3, groups: [new ParameterGroupRule("body", Frozen: true)]);
        m.Parameters.ZeroGrad();
        var penalty = new WeightPenalty(0.5f, 0.2f);
        penalty.AddGradient(m.Parameters);
        foreach (var e in m.Parameters.Entries)
        {
            float[] w = e.Value.ToArray(), g = e.Grad.ToArray();
            bool penalised = e.Name == "head.weight";   // body is frozen; biases never decay
            var expected = w.Select(x => penalised ? 0.5 * Math.Sign(x) + 0.2 * x : 0.0).ToArray();
            Tolerance.AssertClose(expected, g, 1e-7, 2e-7, e.Name);
        }
        var head = m.Parameters.Entries.Single(e => e.Name == "head.weight").Value.ToArray();
        double objective = head.Sum(x => 0.5 * Math.Abs(x) + 0.1 * x * (double)x);
        Assert.Equal(objective, penalty.Value(m.Parameters), 6);   // λ2 = 0.2f is 0.2 to 3e-9 relative
        Assert.Equal("elastic net λ1=0.5 λ2=0.2", penalty.ToString());
    }
}

using DeepTrain.Backends;
using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Optim;

/// <summary>Adam and AdamW against the textbook formulas over many steps, and against each other.</summary>
public class AdamTests
{
    /// <summary>
    /// The reference in double, with w, m, v rounded to fp32 after each step as the tensors hold them: the
    /// comparison then measures one step's arithmetic, not the drift of two precisions over 100 steps.
    /// </summary>
    private static void Reference(float[] w, float[] g, float[] m, float[] v, AdamArgs a, long t)
    {
        double bc1 = 1 - Math.Pow(a.Beta1, t), bc2 = 1 - Math.Pow(a.Beta2, t);
        for (int i = 0; i < w.Length; i++)
        {
            double wi = w[i], gi = g[i];
            if (a.Decoupled) wi -= (double)a.LearningRate * a.WeightDecay * wi; else gi += a.WeightDecay * wi;
            double mi = a.Beta1 * (double)m[i] + (1 - (double)a.Beta1) * gi;
            double vi = a.Beta2 * (double)v[i] + (1 - (double)a.Beta2) * gi * gi;
            m[i] = (float)mi; v[i] = (float)vi;
            w[i] = (float)(wi - a.LearningRate / bc1 * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(bc2) + a.Eps));
        }
    }

    [Theory]
    [InlineData("cpu", false, 0f, 1)]
    [InlineData("cpu", false, 0.01f, 37)]
    [InlineData("cpu", true, 0.05f, 257)]
    [InlineData("cuda", true, 0.05f, 257)]
    public void HundredSteps_MatchTheFormula(string name, bool decoupled, float wd, int n)
    {
        using var b = TestBackends.Create(name);
        using var scope = new TensorScope(b);
        var args = new AdamArgs(1e-2f, 0.9f, 0.999f, 1e-8f, wd, decoupled);
        var w = TestData.Uniform(1, n); var m = new float[n]; var v = new float[n];
        var tw = scope.Upload(w, Shape.Of(n)); var tg = scope.Zeros(Shape.Of(n)); var tm = scope.Zeros(Shape.Of(n)); var tv = scope.Zeros(Shape.Of(n));
        for (int t = 1; t <= 100; t++)
        {
            var g = TestData.Uniform(100 + t, n);
            b.CopyFromHost<float>(g, tg);
            b.AdamStep(tw, tg, tm, tv, args, t);
            Reference(w, g, m, v, args, t);
        }
        // fp32 arithmetic in another order than the double reference: a few ulps of the step each time.
        Tolerance.AssertClose(w, scope.Download(tw), atol: 1e-6, rtol: 1e-6, "w");
        Tolerance.AssertClose(m, scope.Download(tm), atol: 1e-7, rtol: 1e-6, "m");
        Tolerance.AssertClose(v, scope.Download(tv), atol: 1e-8, rtol: 1e-6, "v");
    }

    [Fact]
    public void AdamW_DiffersFromAdamWithL2_ExactlyAsItShould()
    {
        using var b = TestBackends.Create("cpu");
        using var scope = new TensorScope(b);
        const int n = 19;
        var w0 = TestData.Uniform(3, n, -2, 2); var g = TestData.Uniform(4, n);
        float lr = 0.1f, wd = 0.2f;
        float[] Run(AdamArgs a, float[] w, float[] grad)
        {
            var tw = scope.Upload(w, Shape.Of(n));
            b.AdamStep(tw, scope.Upload(grad, Shape.Of(n)), scope.Zeros(Shape.Of(n)), scope.Zeros(Shape.Of(n)), a, 1);
            return scope.Download(tw);
        }
        // Adam's L2 decay is the same as adding λ·w to the gradient and running without decay.
        var gl2 = g.Select((x, i) => x + wd * w0[i]).ToArray();
        Assert.Equal(Run(new AdamArgs(lr), w0, gl2), Run(new AdamArgs(lr, WeightDecay: wd), w0, g));
        // AdamW shrinks w by (1 − lr·λ) first and then takes the undecayed adaptive step.
        var shrunk = w0.Select(x => x - lr * wd * x).ToArray();
        Assert.Equal(Run(new AdamArgs(lr), shrunk, g), Run(new AdamArgs(lr, WeightDecay: wd, Decoupled: true), w0, g));
        // And the two differ: on the first step Adam's adaptive step normalises the decay away (|Δw| ≈ lr).
        Assert.NotEqual(Run(new AdamArgs(lr, WeightDecay: wd), w0, g), Run(new AdamArgs(lr, WeightDecay: wd, Decoupled: true), w0, g));
    }

    [Fact]
    public void Optimizer_DecaysWeightsButNotBiases()
    {
        using var b = TestBackends.Create("cpu");
        var graph = new ModelGraph("t", Shape.Of(3));
        graph.Apply("fc", new Linear(3, 2), graph.Input);
        using var model = new Model(graph, b, seed: 1);
        var weight = model.Parameters.Entries.Single(e => e.Name == "fc.weight");
        var bias = model.Parameters.Entries.Single(e => e.Name == "fc.bias");
        var w0 = weight.Value.ToArray(); var b0 = bias.Value.ToArray();
        model.Parameters.ZeroGrad();
        using var opt = new AdamW(model.Parameters, lr: 0.1f, weightDecay: 0.5f);
        opt.Step();
        // Zero gradient: only the decoupled decay moves anything (m = v = 0, so the adaptive step is 0).
        Assert.Equal(w0.Select(x => x - 0.1f * 0.5f * x).ToArray(), weight.Value.ToArray());
        Assert.Equal(b0, bias.Value.ToArray());
        Assert.Equal(2 * model.Parameters.TotalFloats * 4, opt.StateBytes);
    }

    [Fact]
    public void InvalidHyperParameters_NameTheRange()
    {
        using var b = TestBackends.Create("cpu");
        var graph = new ModelGraph("t", Shape.Of(3));
        graph.Apply("fc", new Linear(3, 2), graph.Input);
        using var model = new Model(graph, b);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(model.Parameters, beta1: 1f));
        Assert.Contains("[0, 1)", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(model.Parameters, lr: -1f));
    }
}

using DeepTrain.Backends;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Golden;

/// <summary>
/// One ResNet-20 training step against PyTorch (tests/golden/make_resnet20.py): the same weights and batch,
/// set by formulas both sides evaluate to the same float32 bits, then logits, loss, every gradient, the
/// batch-norm running statistics, every parameter after one SGD step (lr 0.1, momentum 0.9, weight decay
/// 5e-4 on conv and linear weights only) and the evaluation-mode logits of the updated model.
/// </summary>
// Tolerances. The golden values are PyTorch's step in float64 from the float32-exact start, rounded once;
// the script also runs PyTorch's own fp32 step and reports its distance from them (torch 1.13 CPU):
// logits 4.7e-7, loss 8.6e-8, gradients 1.6e-6 (largest |g| 1.3), running statistics 9.4e-8, parameters
// 1.6e-7, evaluation logits 1.1e-7. Any fp32 implementation that accumulates in another order (DeepTrain's
// im2col GEMM blocks and threads against PyTorch's) lands at that scale, not at zero; we allow roughly ten
// times PyTorch's own error. A wrong index, convention or missing term (decay on a BN parameter: 5e-5 on a
// weight of 1; a biased running variance: 1% of it) is orders of magnitude larger.
public class ResNet20GoldenTests
{
    private const double LogitsAtol = 5e-6, LogitsRtol = 1e-5;   // PyTorch fp32: 4.7e-7 on |z| ≤ 0.86
    private const double LossRtol = 1e-6;                          // PyTorch fp32: 3.7e-8 relative
    private const double GradAtol = 2e-5, GradRtol = 1e-4;         // PyTorch fp32: 1.6e-6 on |g| ≤ 1.3
    private const double BufferAtol = 1e-6, BufferRtol = 1e-5;     // PyTorch fp32: 9.4e-8 on values ≈ 1
    private const double ParamAtol = 2e-6, ParamRtol = 1e-5;       // w − 0.1·(g + λw): 0.1 × the gradient error
    private const double EvalAtol = 2e-6, EvalRtol = 1e-5;         // PyTorch fp32: 1.1e-7 on |z| ≤ 0.3

    public static TheoryData<string, Layout> Cases()
    {
        var d = new TheoryData<string, Layout>();
        foreach (var b in new[] { "cpu", "cuda" })
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
                d.Add(b, layout);
        return d;
    }

    /// <summary>make_resnet20.py's parameter formula: parameter k (state_dict order), flat index i.</summary>
    private static float[] ParameterValues(int k, string name, Shape shape)
    {
        int n = checked((int)shape.Elements);
        var v = new float[n];
        if (shape.Rank >= 2)
        {
            // sin(0.37 i + 0.0123 i² + 0.11 k) / √fan_in, fan_in = prod(shape[1:]); the same double
            // operations in the same order as the script, rounded once to float32.
            double root = Math.Sqrt(n / shape[0]);
            for (int i = 0; i < n; i++) v[i] = (float)(Math.Sin(0.37 * i + 0.0123 * ((double)i * i) + 0.11 * k) / root);
        }
        else if (name.EndsWith("weight", StringComparison.Ordinal))
            for (int i = 0; i < n; i++) v[i] = (float)(1 + 0.1 * Math.Cos(i));
        else
            for (int i = 0; i < n; i++) v[i] = (float)(0.05 * Math.Sin(i));
        return v;
    }

    /// <summary>make_resnet20.py's input: x[i] = sin(0.7 i) + 0.5 cos(0.013 i) over (4, 1, 28, 28).</summary>
    private static float[] InputValues()
    {
        var x = new float[4 * 28 * 28];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(Math.Sin(0.7 * i) + 0.5 * Math.Cos(0.013 * i));
        return x;
    }

    private static float[] Download(IBackend b, Tensor t)
    {
        var a = new float[t.Elements];
        b.CopyToHost<float>(t, a);
        return a;
    }

    [Theory, MemberData(nameof(Cases))]
    public void OneSgdStep_MatchesPyTorch(string backend, Layout layout)
    {
        var g = GoldenFile.Load("resnet20", "step");
        using var b = TestBackends.Create(backend);
        using var model = new Model(ResNetCifar.Build(20, inChannels: 1, classes: 10, size: 28), b);
        var ps = model.Parameters;
        string label = $"resnet20 [{backend}, {layout}]";

        // Same names, same order as PyTorch's named_parameters(); then the formula, checked against the script's fingerprints.
        var names = g.Json.GetProperty("parameters").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(names, ps.InGraphOrder.Select(e => e.Name));
        var fingerprints = g.Json.GetProperty("fingerprints");
        foreach (var e in ps.Entries)
        {
            int k = Array.IndexOf(names, e.Name);
            var v = ParameterValues(k, e.Name, e.Value.Shape);
            var f = fingerprints.GetProperty(e.Name);
            Assert.Equal(f.GetProperty("first").GetDouble(), v[0]);
            Assert.Equal(f.GetProperty("last").GetDouble(), v[^1]);
            Assert.Equal(f.GetProperty("sum").GetDouble(), v.Sum(x => (double)x), 1e-9 * v.Length);   // numpy sums pairwise
            b.CopyFromHost<float>(v, e.Value);
        }
        var x = InputValues();
        Assert.Equal(g.F("x"), x);   // bit for bit: C#'s and Python's sin/cos agree on these doubles

        // Training step: forward, loss, backward.
        using var plan = model.Compile(4, training: true, new CrossEntropyLoss(), layout);
        Assert.Equal(Layout.NCHW, plan.Input.Layout);   // the data's own order; an NHWC plan converts it itself
        b.CopyFromHost<float>(x, plan.Input);
        b.CopyFromHost<int>(g.I("labels"), plan.Target);
        // TrainStep's three stages, with the logits read before Backward: the planner lets the gradients
        // reuse the output's memory once the loss has read it.
        plan.Forward();
        plan.ComputeLoss();
        b.Synchronize();
        Tolerance.AssertClose(g.D("logits"), Download(b, plan.Output), LogitsAtol, LogitsRtol, $"{label} logits");
        Tolerance.AssertClose(g.D("loss"), Download(b, plan.LossValue), 0, LossRtol, $"{label} loss");
        plan.Backward();
        b.Synchronize();
        foreach (var e in ps.InGraphOrder)
            Tolerance.AssertClose(g.D("grad." + e.Name), Download(b, e.Grad), GradAtol, GradRtol, $"{label} grad {e.Name}");
        Assert.Equal(g.Names.Count(n => n.StartsWith("buffer.", StringComparison.Ordinal)), ps.Buffers.Count);
        foreach (var e in ps.Buffers)
            Tolerance.AssertClose(g.D("buffer." + e.Name), Download(b, e.Value), BufferAtol, BufferRtol, $"{label} {e.Name}");

        // One SGD step with DeepTrain's default decay groups (conv and linear weights only).
        using var sgd = new SGD(ps, lr: 0.1f, momentum: 0.9f, weightDecay: 5e-4f);
        sgd.Step();
        b.Synchronize();
        foreach (var e in ps.InGraphOrder)
            Tolerance.AssertClose(g.D("param." + e.Name), Download(b, e.Value), ParamAtol, ParamRtol, $"{label} updated {e.Name}");

        // Evaluation mode on the updated weights and running statistics.
        using var eval = model.Compile(4, training: false, new CrossEntropyLoss(), layout);
        b.CopyFromHost<float>(x, eval.Input);
        eval.Forward();
        b.Synchronize();
        Tolerance.AssertClose(g.D("eval_logits"), Download(b, eval.Output), EvalAtol, EvalRtol, $"{label} eval logits");
    }
}

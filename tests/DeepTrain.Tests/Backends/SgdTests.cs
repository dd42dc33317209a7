using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

// 100 steps of fp32 SGD against the textbook torch.optim.SGD evaluated in double, fed the same fp32
// gradients. Two references: (1) the double rule with its state (w, momentum buffer) stored as fp32 after
// every step, as the tensors hold it — agreement to 1e-6 relative (1e-7 absolute near zero), since
// the only difference is the fp32 rounding inside one step; (2) the pure double trajectory, which an
// fp32 optimizer drifts from by one rounding of w per step (2^-24 ≈ 6e-8 relative, a random walk over
// 100 steps ≈ 1e-6 at the worst of 1000 elements) — so 5e-6 relative. Weights start at |w| ∈ [0.5, 2] and
// some cross zero, where their error is that of the O(1) values they came from: hence absolute floors of
// 5e-7 and 2e-6 (1e-6 of the parameters' scale).
public class SgdTests
{
    public static TheoryData<string, SgdArgs> Cases()
    {
        var d = new TheoryData<string, SgdArgs>();
        foreach (var name in new[] { "cpu", "cuda" })
        {
            d.Add(name, new SgdArgs(0.01f));
            d.Add(name, new SgdArgs(0.01f, WeightDecay: 5e-4f));
            d.Add(name, new SgdArgs(0.01f, Momentum: 0.9f, WeightDecay: 1e-4f));
            d.Add(name, new SgdArgs(0.01f, Momentum: 0.9f, Dampening: 0.5f));
            d.Add(name, new SgdArgs(0.01f, Momentum: 0.9f, WeightDecay: 5e-4f, Nesterov: true));
        }
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void HundredSteps_MatchTheTextbookRuleInDouble(string name, SgdArgs args)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        foreach (int n in new[] { 1, 7, 8, 9, 17, 257, 1000 })
        {
            var w0 = TestData.Uniform(n, n, 0.5f, 2f);
            for (int i = 0; i < n; i += 2) w0[i] = -w0[i];
            double[] w = w0.ToDouble(), buf = new double[n], wExact = w0.ToDouble(), bufExact = new double[n];
            Tensor wt = s.Upload(w0, Shape.Of(n)), mt = s.Upload(Enumerable.Repeat(float.NaN, n).ToArray(), Shape.Of(n));   // step 1 must not read the buffer
            var gt = s.Zeros(Shape.Of(n));
            for (int step = 1; step <= 100; step++)
            {
                var g = TestData.Uniform(1000 * n + step, n);
                b.CopyFromHost<float>(g, gt);
                b.SgdStep(wt, gt, mt, args, step);
                NaiveOps.SgdStep(w, g.ToDouble(), buf, args, step);
                for (int i = 0; i < n; i++) { w[i] = (float)w[i]; buf[i] = (float)buf[i]; }   // fp32 state
                NaiveOps.SgdStep(wExact, g.ToDouble(), bufExact, args, step);
                Assert.Equal(g, s.Download(gt));   // the gradient is not modified
            }
            Tolerance.AssertClose(w, s.Download(wt), 5e-7, 1e-6, $"w after 100 steps n={n} {args}");
            // The buffer is a geometric sum of O(1) gradients (≈ 10 terms at μ = 0.9) that may cancel to O(0.01):
            // its fp32 error is ≈ 10·6e-8 of the terms, hence 1e-6 absolute.
            if (args.Momentum != 0) Tolerance.AssertClose(buf, s.Download(mt), 1e-6, 1e-6, $"momentum buffer n={n} {args}");
            Tolerance.AssertClose(wExact, s.Download(wt), 2e-6, 5e-6, $"w against the pure double trajectory n={n} {args}");
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Nesterov_RequiresMomentumAndZeroDampening(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var t = s.Zeros(Shape.Of(4));
        Assert.Throws<ArgumentException>(() => b.SgdStep(t, t, t, new SgdArgs(0.1f, Momentum: 0.9f, Dampening: 0.1f, Nesterov: true), 1));
        Assert.Throws<ArgumentException>(() => b.SgdStep(t, t, t, new SgdArgs(0.1f, Nesterov: true), 1));
    }
}

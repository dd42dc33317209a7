using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

// Tolerances: losses are double sums of fp32 terms (exp/log within a few ulp), so 1e-6 relative;
// gradients are O(scale/n) values from one exp and one division, compared with finite differences of
// the double loss (≈ 1e-10 error): 1e-7 absolute plus 1e-5 relative.
public class LossTests
{
    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void SoftmaxCrossEntropy_MatchesNaive_GradientMatchesFiniteDifferences(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        foreach (var (n, k) in new[] { (1, 1), (5, 10), (7, 3), (4, 17), (3, 100) })
        {
            var z = TestData.Normal(k, n, k).Select(v => 3.0 * v).ToArray();
            var labels = TestData.Labels(n, n, k);
            const float scale = 128f;
            var zt = s.Upload(NaiveOps.ToFloat(z), Shape.Of(n, k));
            Tensor loss = s.Zeros(Shape.Of(1)), correct = s.Zeros(Shape.Of(1)), dz = s.Zeros(Shape.Of(n, k));
            b.SoftmaxCrossEntropy(zt, s.Upload(labels, Shape.Of(n)), loss, dz, correct, scale);
            Tolerance.AssertClose([NaiveOps.SoftmaxCrossEntropy(z, labels, n, k)], s.Download(loss), 1e-7, 1e-6, $"loss {n}×{k}");
            var fd = FiniteDifference.Gradient(v => scale * NaiveOps.SoftmaxCrossEntropy(v, labels, n, k), z);
            Tolerance.AssertClose(fd, s.Download(dz), 1e-5, 1e-5, $"dlogits {n}×{k}");
            int hits = Enumerable.Range(0, n).Count(i => Enumerable.Range(0, k).MaxBy(j => z[i * k + j]) == labels[i]);
            Assert.Equal(hits, s.Download(correct)[0]);

            // In place: dlogits aliases logits; no correct, no problem.
            b.SoftmaxCrossEntropy(zt, s.Upload(labels, Shape.Of(n)), loss, zt, null, scale);
            Tolerance.AssertClose(fd, s.Download(zt), 1e-5, 1e-5, $"dlogits in place {n}×{k}");
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void SoftmaxCrossEntropy_IsStableForHugeLogits_AndCountsTheFirstMaximum(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        // Row 0: e^1000 overflows a naive softmax. Row 1: a tie, the first maximum (index 0) counts, label 1 does not.
        double[] z = [1000, 0, -1000, 5, 5, 1];
        int[] labels = [0, 1];
        Tensor loss = s.Zeros(Shape.Of(1)), correct = s.Zeros(Shape.Of(1)), dz = s.Zeros(Shape.Of(2, 3));
        b.SoftmaxCrossEntropy(s.Upload(NaiveOps.ToFloat(z), Shape.Of(2, 3)), s.Upload(labels, Shape.Of(2)), loss, dz, correct, 1f);
        Tolerance.AssertClose([NaiveOps.SoftmaxCrossEntropy(z, labels, 2, 3)], s.Download(loss), 1e-7, 1e-6, "loss");
        Assert.All(s.Download(dz), v => Assert.True(float.IsFinite(v)));
        Assert.Equal(1f, s.Download(correct)[0]);
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void SoftmaxCrossEntropy_RejectsALabelOutOfRange_NamingIndexAndValue(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            b.SoftmaxCrossEntropy(s.Zeros(Shape.Of(3, 10)), s.Upload([1, 10, 2], Shape.Of(3)), s.Zeros(Shape.Of(1)), null, null, 1f));
        Assert.Contains("labels[1] = 10", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            b.SoftmaxCrossEntropy(s.Zeros(Shape.Of(2, 10)), s.Upload([-1, 0], Shape.Of(2)), s.Zeros(Shape.Of(1)), null, null, 1f));
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void MseAndBce_MatchNaive_GradientsMatchFiniteDifferences_AtEveryLength(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        const float scale = 3f;
        for (int n = 1; n <= 257; n++)
        {
            var p = TestData.Normal(n, n).ToDouble();
            var t = TestData.Uniform(n + 1, n, 0f, 1f).ToDouble();
            var z = TestData.Normal(n + 2, n).Select(v => 6.0 * v).ToArray();   // |z| up to ≈ 20: saturated σ and tiny log1p terms
            var tt = s.Upload(NaiveOps.ToFloat(t), Shape.Of(n));
            Tensor loss = s.Zeros(Shape.Of(1)), grad = s.Zeros(Shape.Of(n));

            b.MseLoss(s.Upload(NaiveOps.ToFloat(p), Shape.Of(n)), tt, loss, grad, scale);
            Tolerance.AssertClose([NaiveOps.Mse(p, t)], s.Download(loss), 1e-7, 1e-6, $"mse n={n}");
            Tolerance.AssertClose(FiniteDifference.Gradient(v => scale * NaiveOps.Mse(v, t), p), s.Download(grad), 1e-7, 1e-5, $"dmse n={n}");

            var zt = s.Upload(NaiveOps.ToFloat(z), Shape.Of(n));
            b.BceWithLogitsLoss(zt, tt, loss, grad, scale);
            Tolerance.AssertClose([NaiveOps.BceWithLogits(z, t)], s.Download(loss), 1e-7, 1e-6, $"bce n={n}");
            var fd = FiniteDifference.Gradient(v => scale * NaiveOps.BceWithLogits(v, t), z);
            Tolerance.AssertClose(fd, s.Download(grad), 1e-7, 1e-5, $"dbce n={n}");
            b.BceWithLogitsLoss(zt, tt, loss, zt, scale);   // in place
            Tolerance.AssertClose(fd, s.Download(zt), 1e-7, 1e-5, $"dbce in place n={n}");
        }
    }
}

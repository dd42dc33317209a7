using DeepTrain.Backends;
using DeepTrain.Data;
using DeepTrain.Losses;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Data;

/// <summary>The Beta sampler, CutMix's boxes and pasting, and the mixed-label loss against a naive double definition.</summary>
public class CutMixTests
{
    [Theory]
    [InlineData(0.2)]
    [InlineData(1.0)]
    [InlineData(2.5)]
    public void Beta_MeanAndVariance_MatchBetaAlphaAlpha(double alpha)
    {
        // Beta(α, α): mean 1/2, variance 1/(4(2α + 1)).
        const int n = 200_000;
        var rng = SplitMix64.For(42, 9, (ulong)(alpha * 10));
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++)
        {
            double x = rng.NextBeta(alpha, alpha);
            Assert.InRange(x, 0.0, 1.0);
            sum += x;
            sq += x * x;
        }
        double mean = sum / n, variance = sq / n - mean * mean, expectedVar = 1 / (4 * (2 * alpha + 1));
        // Standard errors: √(var/n) ≤ 0.0011 for the mean; the variance's is below 0.001 here. 5 of them.
        Assert.InRange(mean, 0.5 - 0.0056, 0.5 + 0.0056);
        Assert.InRange(variance, expectedVar - 0.004, expectedVar + 0.004);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(1.0)]
    [InlineData(4.0)]
    public void Gamma_MeanAndVariance_AreTheShape(double k)
    {
        const int n = 200_000;
        var rng = SplitMix64.For(5, 9, (ulong)(k * 10));
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++) { double x = rng.NextGamma(k); Assert.True(x >= 0); sum += x; sq += x * x; }
        double mean = sum / n, variance = sq / n - mean * mean;
        Assert.InRange(mean, k - 5 * Math.Sqrt(k / n), k + 5 * Math.Sqrt(k / n));
        Assert.InRange(variance, k * 0.96, k * 1.04);
    }

    [Fact]
    public void Gamma_RejectsAShapeThatIsNotPositive()
    {
        var rng = new SplitMix64(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextGamma(0));
    }

    [Fact]
    public void Box_IsTheReferenceRandBbox()
    {
        for (int k = 0; k < 500; k++)
        {
            var rng = SplitMix64.For(8, 4, 0, (ulong)k);
            double lambda = rng.NextDouble();
            var copy = rng;
            var (y1, y2, x1, x2) = CutMix.Box(32, 28, lambda, ref rng);
            // rand_bbox: cut = √(1 − λ), h = int(H·cut), centre uniform, ends clipped.
            double cut = Math.Sqrt(1 - lambda);
            int h = (int)(32 * cut), w = (int)(28 * cut), cy = copy.NextInt(32), cx = copy.NextInt(28);
            Assert.Equal((Math.Clamp(cy - h / 2, 0, 32), Math.Clamp(cy + h / 2, 0, 32), Math.Clamp(cx - w / 2, 0, 28), Math.Clamp(cx + w / 2, 0, 28)), (y1, y2, x1, x2));
        }
    }

    /// <summary>N images of (2, 6, 5) whose every pixel names its image: value = 1000·image + index.</summary>
    private static Dataset Traceable(int n)
    {
        int s = 2 * 6 * 5;
        var px = new byte[n * s];
        for (int i = 0; i < px.Length; i++) px[i] = (byte)(i / s * 37 % 256);
        return new Dataset("traceable", 2, 6, 5, n, px, Enumerable.Range(0, n).ToArray());
    }

    [Fact]
    public void MixedBatch_PastesTheBoxFromThePermutedImage_AndMixesTheLabels()
    {
        const int n = 7;
        var ds = Traceable(n);   // image i is constant 37·i (distinct bytes for i < 7)
        var norm = Normalization.Identity(2);
        var aug = new AugmentationOptions { CutMixAlpha = 1f };
        using var loader = new DataLoader(ds, n, shuffle: false, norm, aug, seed: 3, workers: 0);
        int mixed = 0;
        for (int epoch = 0; epoch < 6; epoch++)
            foreach (var b in loader.Epoch(epoch))
            {
                Assert.True(b.IsMixed);   // p = 1
                mixed++;
                int pasted = 0;
                for (int i = 0; i < n; i++)
                {
                    int other = b.LabelsB[i];
                    Assert.Equal(i, b.Labels[i]);
                    for (int p = 0; p < ds.SampleSize; p++)
                    {
                        float v = b.Images[i * ds.SampleSize + p];
                        Assert.True(v == norm.Apply(0, (byte)(37 * i)) || v == norm.Apply(0, (byte)(37 * other)), $"row {i} pixel {p}: {v}");
                        if (other != i && v == norm.Apply(0, (byte)(37 * other))) pasted++;
                    }
                }
                // λ = 1 − box/(H·W): every row that took another image's box has box·C pixels of it.
                int box = (int)Math.Round((1 - b.Lambda) * 30);
                int moved = Enumerable.Range(0, n).Count(i => b.LabelsB[i] != i);
                Assert.Equal(moved * box * 2, pasted);
                Assert.Equal(Enumerable.Range(0, n), b.LabelsB.Order());   // a permutation
            }
        Assert.Equal(6, mixed);
    }

    [Fact]
    public void CutMixProbability_MixesAboutThatShareOfBatches_AndUnmixedBatchesAreUntouched()
    {
        var ds = Traceable(8);
        using var plain = new DataLoader(ds, 2, shuffle: true, Normalization.Identity(2), null, seed: 3, workers: 0);
        using var loader = new DataLoader(ds, 2, shuffle: true, Normalization.Identity(2), new AugmentationOptions { CutMixAlpha = 0.5f, CutMixProbability = 0.3f }, seed: 3, workers: 0);
        int mixed = 0, total = 0;
        for (int e = 0; e < 200; e++)
        {
            var reference = plain.Epoch(e).Select(b => (float[])b.Images.Clone()).ToList();
            int k = 0;
            foreach (var b in loader.Epoch(e))
            {
                total++;
                if (b.IsMixed) { mixed++; k++; continue; }
                Assert.Equal(1f, b.Lambda);
                Assert.Equal(b.Labels, b.LabelsB);
                Assert.Equal(reference[k++], b.Images);
            }
        }
        // Binomial(800, 0.3): sd ≈ 13; ±5 sd.
        Assert.InRange(mixed, 240 - 65, 240 + 65);
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void MixedLoss_AndGradient_AreLambdaTimesCeA_PlusTheRestTimesCeB(string name)
    {
        using var backend = TestBackends.Create(name);
        using var scope = new TensorScope(backend);
        const int n = 5, k = 4;
        var r = new Random(12);
        var z = Enumerable.Range(0, n * k).Select(_ => (float)(3 * r.NextDouble() - 1.5)).ToArray();
        int[] ya = [0, 3, 1, 1, 2], yb = [2, 3, 0, 1, 1];
        const float lambda = 0.37f, scale = 0.5f;
        var logits = scope.Upload(z, Shape.Of(n, k));
        var labelsA = scope.Upload(ya, Shape.Of(n));
        var loss = scope.Zeros(Shape.Of(1));
        var correct = scope.Zeros(Shape.Of(1));
        var grad = scope.Zeros(Shape.Of(n, k));
        using var mixed = new MixedCrossEntropy(backend, n, k);
        backend.CopyFromHost<int>(yb, mixed.LabelsB);
        mixed.Compute(logits, labelsA, lambda, loss, grad, correct, scale);

        // Naive, in double: CE_y = −(1/N)·Σ log softmax(z)[y]; ∂/∂z = (softmax − onehot)/N.
        double ceA = 0, ceB = 0;
        var expectedGrad = new double[n * k];
        int argmaxHits = 0;
        for (int i = 0; i < n; i++)
        {
            var row = z.Skip(i * k).Take(k).Select(v => (double)v).ToArray();
            double max = row.Max(), lse = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
            ceA += (lse - row[ya[i]]) / n;
            ceB += (lse - row[yb[i]]) / n;
            for (int j = 0; j < k; j++)
            {
                double p = Math.Exp(row[j] - lse);
                expectedGrad[i * k + j] = scale * (lambda * (p - (j == ya[i] ? 1 : 0)) + (1 - lambda) * (p - (j == yb[i] ? 1 : 0))) / n;
            }
            if (Array.IndexOf(row, max) == ya[i]) argmaxHits++;
        }
        Tolerance.AssertClose([lambda * ceA + (1 - lambda) * ceB], scope.Download(loss), atol: 1e-6, rtol: 1e-6, "mixed loss");
        Tolerance.AssertClose(expectedGrad, scope.Download(grad), atol: 1e-7, rtol: 1e-5, "mixed gradient");
        Assert.Equal(argmaxHits, scope.Download(correct)[0]);   // accuracy counts against y_a
    }

    [Fact]
    public void MixedLoss_RejectsLambdaOutsideTheUnitInterval_AndOtherShapes()
    {
        using var backend = new DeepTrain.Backends.Cpu.CpuBackend();
        using var scope = new TensorScope(backend);
        using var mixed = new MixedCrossEntropy(backend, 2, 3);
        var z = scope.Zeros(Shape.Of(2, 3));
        var y = scope.Upload(new[] { 0, 1 }, Shape.Of(2));
        var loss = scope.Zeros(Shape.Of(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => mixed.Compute(z, y, 1.5f, loss, null, null));
        Assert.Throws<ArgumentException>(() => mixed.Compute(scope.Zeros(Shape.Of(2, 4)), y, 0.5f, loss, null, null));
    }
}

using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

// Tolerances: fp32 arithmetic against double definitions. One fp32 operation rounds to 2^-24 ≈ 6e-8
// relative; sums of two products get 2e-7 relative; exp-based activations (sigmoid, the tanh rational)
// are within a few ulp, hence 1e-6 relative with a 1e-7 floor near zero. Finite-difference references
// carry ≈ 1e-10 error, so backward tolerances are the fp32 ones.
public class ElementwiseTests
{
    private static readonly ActivationKind[] Kinds = [ActivationKind.Relu, ActivationKind.LeakyRelu, ActivationKind.Sigmoid, ActivationKind.Tanh];
    private const float Slope = 0.1f;

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Fill_SetsEveryElement_AtEveryLength(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        for (int n = 0; n <= 257; n++)
        {
            var t = s.Upload(TestData.Uniform(n, n), Shape.Of(n));
            b.Fill(t, 2.5f);
            Tolerance.AssertClose(Enumerable.Repeat(2.5, n).ToArray(), s.Download(t), 0, 0, $"fill n={n}");
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void AxpbyAndAdd_MatchDefinition_AtEveryLength(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        for (int n = 0; n <= 257; n++)
        {
            float[] x = TestData.Uniform(1, n), y0 = TestData.Uniform(2, n);
            var xt = s.Upload(x, Shape.Of(n));
            var yt = s.Upload(y0, Shape.Of(n));
            b.Axpby(1.5f, xt, -0.75f, yt);
            Tolerance.AssertClose(Enumerable.Range(0, n).Select(i => 1.5 * x[i] - 0.75 * y0[i]).ToArray(), s.Download(yt), 1e-7, 2e-7, $"axpby n={n}");

            // β = 0 must not read y: stale NaN stays out (cuDNN's β = 0 rule).
            var nan = s.Upload(Enumerable.Repeat(float.NaN, n).ToArray(), Shape.Of(n));
            b.Axpby(2f, xt, 0f, nan);
            Tolerance.AssertClose(Enumerable.Range(0, n).Select(i => 2.0 * x[i]).ToArray(), s.Download(nan), 0, 0, $"axpby beta=0 n={n}");

            // Add in place: y aliases a.
            var at = s.Upload(x, Shape.Of(n));
            b.Add(at, yt, at);
            var yNow = s.Download(yt);
            Tolerance.AssertClose(Enumerable.Range(0, n).Select(i => (double)x[i] + yNow[i]).ToArray(), s.Download(at), 1e-7, 1e-7, $"add in place n={n}");
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Activation_MatchesNaive_AtEveryLength_InPlaceToo(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        foreach (var kind in Kinds)
            for (int n = 0; n <= 257; n++)
            {
                // Spread over [-12, 12] so sigmoid and tanh saturate somewhere, plus tiny values for tanh's x ≈ 0 branch.
                float[] x = TestData.Uniform(n + 7, n, -12f, 12f);
                for (int i = 0; i < n; i += 5) x[i] *= 1e-5f;
                var expected = x.Select(v => NaiveOps.Activation(kind, Slope, v)).ToArray();
                var xt = s.Upload(x, Shape.Of(n));
                var yt = s.Zeros(Shape.Of(n));
                b.Activation(kind, Slope, xt, yt);
                Tolerance.AssertClose(expected, s.Download(yt), 1e-7, 1e-6, $"{kind} n={n}");
                b.Activation(kind, Slope, xt, xt);
                Tolerance.AssertClose(expected, s.Download(xt), 1e-7, 1e-6, $"{kind} in place n={n}");
            }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void ActivationBackward_MatchesFiniteDifferences_AccumulateAndInPlace(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        foreach (var kind in Kinds)
            foreach (int n in new[] { 0, 1, 7, 8, 15, 16, 17, 31, 33, 257 })
            {
                float[] x = TestData.Uniform(n + 3, n, -3f, 3f), dy = TestData.Uniform(n + 4, n), prior = TestData.Uniform(n + 5, n);
                var xt = s.Upload(x, Shape.Of(n));
                var yt = s.Zeros(Shape.Of(n));
                b.Activation(kind, Slope, xt, yt);
                var fd = FiniteDifference.VectorJacobian(v => v.Select(e => NaiveOps.Activation(kind, Slope, e)).ToArray(), x.ToDouble(), dy.ToDouble());

                var dyt = s.Upload(dy, Shape.Of(n));
                var dxt = s.Upload(prior, Shape.Of(n));
                b.ActivationBackward(kind, Slope, yt, dyt, dxt, accumulate: false);
                Tolerance.AssertClose(fd, s.Download(dxt), 1e-6, 1e-5, $"{kind}' n={n}");

                dxt = s.Upload(prior, Shape.Of(n));
                b.ActivationBackward(kind, Slope, yt, dyt, dxt, accumulate: true);
                Tolerance.AssertClose(fd.Select((v, i) => v + prior[i]).ToArray(), s.Download(dxt), 1e-6, 1e-5, $"{kind}' accumulate n={n}");

                b.ActivationBackward(kind, Slope, yt, dyt, dyt, accumulate: false);   // dx aliases dy
                Tolerance.AssertClose(fd, s.Download(dyt), 1e-6, 1e-5, $"{kind}' in place n={n}");
            }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Copy_ConvertsLayoutsAndFloatTypes_AndRefusesIntConversion(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        foreach (var shape in new[] { Shape.Of(3, 5, 7, 9), Shape.Of(2, 33, 1, 40), Shape.Of(1, 1, 1, 1), Shape.Of(0, 3, 2, 2) })
        {
            var logical = TestData.Normal(11, shape.Dims.ToArray()).ToDouble();
            var nchw = s.UploadLogical(logical, shape, Layout.NCHW);
            var nhwc = s.Zeros(shape, Layout.NHWC);
            b.Copy(nchw, nhwc);
            Tolerance.AssertClose(NaiveOps.NchwToNhwc(logical, shape), s.Download(nhwc), 0, 0, $"NCHW→NHWC {shape}");
            var back = s.Zeros(shape, Layout.NCHW);
            b.Copy(nhwc, back);
            Tolerance.AssertClose(logical, s.Download(back), 0, 0, $"NHWC→NCHW {shape}");
            var same = s.Zeros(shape, Layout.NHWC);
            b.Copy(nhwc, same);
            Tolerance.AssertClose(NaiveOps.NchwToNhwc(logical, shape), s.Download(same), 0, 0, $"NHWC→NHWC {shape}");
        }
        // fp32 → fp16 rounds to nearest even (1 + 2^−11 is a tie: down to 1; 1 + 3·2^−11 up to 1 + 2^−9), back is exact.
        var f32 = s.Upload([1f, 1f + MathF.Pow(2, -11), 1f + 3 * MathF.Pow(2, -11), 70000f], Shape.Of(4));
        var f16 = s.Zeros(Shape.Of(4), dtype: DType.Float16);
        b.Copy(f32, f16);
        var wide = s.Zeros(Shape.Of(4));
        b.Copy(f16, wide);
        Assert.Equal([1f, 1f, 1f + MathF.Pow(2, -9), float.PositiveInfinity], s.Download(wide));
        var i32 = s.Zeros(Shape.Of(4), dtype: DType.Int32);
        var e = Assert.Throws<NotSupportedException>(() => b.Copy(f32, i32));
        Assert.Contains("Float32", e.Message);
        Assert.Contains("Int32", e.Message);
        // bf16 too: values exact in both 16-bit types come back unchanged.
        float[] exact = [0.5f, -2f, 3.25f, 0f];
        var fx = s.Upload(exact, Shape.Of(4));
        foreach (var half in new[] { DType.Float16, DType.BFloat16 })
        {
            var h = s.Zeros(Shape.Of(4), dtype: half);
            var back = s.Zeros(Shape.Of(4));
            b.Copy(fx, h);
            b.Copy(h, back);
            Assert.Equal(exact, s.Download(back));
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void AddBiasAndBiasBackward_MatchNaiveAndFiniteDifferences_BothLayouts(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        foreach (var (shape, layout) in new[] { (Shape.Of(3, 5, 7, 9), Layout.NCHW), (Shape.Of(3, 5, 7, 9), Layout.NHWC), (Shape.Of(4, 37), Layout.NCHW), (Shape.Of(2, 19, 3, 1), Layout.NHWC) })
        {
            int c = shape.C;
            var x = TestData.Normal(1, shape.Dims.ToArray()).ToDouble();
            var bias = TestData.Normal(2, c).ToDouble();
            var yt = s.UploadLogical(x, shape, layout);
            b.AddBias(yt, s.Upload(NaiveOps.ToFloat(bias), Shape.Of(c)));
            Tolerance.AssertClose(NaiveOps.AddBias(x, shape, bias), s.DownloadLogical(yt), 1e-7, 1e-7, $"AddBias {shape} {layout}");

            var dy = TestData.Normal(3, shape.Dims.ToArray()).ToDouble();
            var fd = FiniteDifference.VectorJacobian(v => NaiveOps.AddBias(x, shape, v), bias, dy);
            var prior = TestData.Normal(4, c);
            var db = s.Upload(prior, Shape.Of(c));
            var dyt = s.UploadLogical(dy, shape, layout);
            b.BiasBackward(dyt, db, accumulate: false);
            // A sum of up to 189 fp32 terms: ≈ 1e-6 absolute for O(10) sums.
            Tolerance.AssertClose(fd, s.Download(db), 1e-5, 1e-6, $"BiasBackward {shape} {layout}");
            db = s.Upload(prior, Shape.Of(c));
            b.BiasBackward(dyt, db, accumulate: true);
            Tolerance.AssertClose(fd.Select((v, i) => v + prior[i]).ToArray(), s.Download(db), 1e-5, 1e-6, $"BiasBackward accumulate {shape} {layout}");
        }
    }

    public static TheoryData<string, Layout, Layout, int> ChannelCases()
    {
        var d = new TheoryData<string, Layout, Layout, int>();
        foreach (var name in new[] { "cpu", "cuda" })
            foreach (var sl in new[] { Layout.NCHW, Layout.NHWC })
                foreach (var dl in new[] { Layout.NCHW, Layout.NHWC })
                    foreach (int stride in new[] { 1, 2 })
                        d.Add(name, sl, dl, stride);
        return d;
    }

    [Theory, MemberData(nameof(ChannelCases))]
    public void CopyChannels_MatchesNaive_AndBackwardIsItsAdjoint(string name, Layout srcLayout, Layout dstLayout, int stride)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        // Option-A shortcut: 3 of 5 input channels land at channel 2 of a 7-channel output; 7×7 → 4×4 at stride 2.
        var ss = Shape.Of(2, 5, 7, 7);
        int o = (7 + stride - 1) / stride;
        var ds = Shape.Of(2, 7, o, o);
        const int srcC0 = 1, dstC0 = 2, channels = 3;
        var src = TestData.Normal(1, 2, 5, 7, 7).ToDouble();
        var dst0 = TestData.Normal(2, ds.Dims.ToArray()).ToDouble();
        foreach (bool acc in new[] { false, true })
        {
            var dt = s.UploadLogical(dst0, ds, dstLayout);
            b.CopyChannels(s.UploadLogical(src, ss, srcLayout), srcC0, dt, dstC0, channels, stride, acc);
            Tolerance.AssertClose(NaiveOps.CopyChannels(src, ss, srcC0, dst0, ds, dstC0, channels, stride, acc), s.DownloadLogical(dt), 1e-7, 1e-7, $"CopyChannels acc={acc}");
        }

        // Backward: the gradient of L(src) = Σ ddst·CopyChannels(src) is the adjoint. Not accumulating overwrites
        // channels [srcC0, srcC0 + channels) whole (zeros where the stride skipped) and leaves the others alone.
        var ddst = TestData.Normal(3, ds.Dims.ToArray()).ToDouble();
        var fd = FiniteDifference.VectorJacobian(v => NaiveOps.CopyChannels(v, ss, srcC0, new double[ds.Elements], ds, dstC0, channels, stride, false), src, ddst);
        var prior = TestData.Normal(4, 2, 5, 7, 7).ToDouble();
        var overwrite = (double[])prior.Clone();
        for (int i = 0; i < overwrite.Length; i++)
        {
            int ch = i / 49 % 5;
            if (ch >= srcC0 && ch < srcC0 + channels) overwrite[i] = fd[i];
        }
        var dsrc = s.UploadLogical(prior, ss, srcLayout);
        b.CopyChannelsBackward(s.UploadLogical(ddst, ds, dstLayout), dstC0, dsrc, srcC0, channels, stride, accumulate: false);
        Tolerance.AssertClose(overwrite, s.DownloadLogical(dsrc), 1e-7, 1e-7, "CopyChannelsBackward");
        dsrc = s.UploadLogical(prior, ss, srcLayout);
        b.CopyChannelsBackward(s.UploadLogical(ddst, ds, dstLayout), dstC0, dsrc, srcC0, channels, stride, accumulate: true);
        Tolerance.AssertClose(fd.Select((v, i) => v + prior[i]).ToArray(), s.DownloadLogical(dsrc), 1e-7, 1e-7, "CopyChannelsBackward accumulate");
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void CopyChannels_RejectsBadGeometry(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var src = s.Zeros(Shape.Of(2, 4, 8, 8));
        Assert.Throws<ArgumentException>(() => b.CopyChannels(src, 0, s.Zeros(Shape.Of(2, 4, 8, 8)), 0, 4, 2, false));
        Assert.Throws<ArgumentException>(() => b.CopyChannels(src, 2, s.Zeros(Shape.Of(2, 4, 4, 4)), 0, 4, 2, false));
    }

    /// <summary>An independent transcription of the documented mask formula (CpuKernels.DropoutKeep).</summary>
    private static bool Keep(ulong seed, long i, float p)
    {
        ulong z = unchecked(seed + (ulong)i * 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return (z >> 40) / 16777216.0 >= p;
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Dropout_FollowsTheDocumentedMask_ForwardAndBackwardAgree(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        const float p = 0.3f;
        const ulong seed = 12345;
        const int n = 200_003;
        var x = TestData.Uniform(1, n, 0.5f, 1.5f);   // never 0, so a 0 output means dropped
        var xt = s.Upload(x, Shape.Of(n));
        var yt = s.Zeros(Shape.Of(n));
        b.DropoutForward(xt, yt, p, seed);
        var y = s.Download(yt);
        var expected = new double[n];
        int kept = 0;
        for (int i = 0; i < n; i++)
        {
            bool k = Keep(seed, i, p);
            expected[i] = k ? x[i] * (double)(1f / (1f - p)) : 0;
            if (k) kept++;
        }
        Tolerance.AssertClose(expected, y, 0, 1e-7, "dropout y");
        // Keep fraction: binomial, σ = √(n·p·(1 − p)) ≈ 205; allow 5σ.
        Assert.InRange(kept, n * (1 - p) - 5 * 205, n * (1 - p) + 5 * 205);

        var dy = TestData.Uniform(2, n);
        var prior = TestData.Uniform(3, n);
        var dxt = s.Upload(prior, Shape.Of(n));
        b.DropoutBackward(s.Upload(dy, Shape.Of(n)), dxt, p, seed, accumulate: true);
        var dx = s.Download(dxt);
        for (int i = 0; i < n; i++)
            Assert.True((y[i] != 0) == (dx[i] != prior[i]), $"forward and backward masks differ at {i}");
        Tolerance.AssertClose(expected.Select((e, i) => prior[i] + (e != 0 ? dy[i] * (double)(1f / (1f - p)) : 0)).ToArray(), dx, 1e-7, 1e-6, "dropout dx");

        // Another seed, another mask; p = 0 is the identity; p = 1 drops everything.
        var other = s.Zeros(Shape.Of(n));
        b.DropoutForward(xt, other, p, seed + 1);
        Assert.NotEqual(y, s.Download(other));
        b.DropoutForward(xt, other, 0f, seed);
        Assert.Equal(x, s.Download(other));
        b.DropoutForward(xt, other, 1f, seed);
        Assert.All(s.Download(other), v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.DropoutForward(xt, other, 1.5f, seed));
    }

    [Fact]
    public void DropoutKeep_IsTheDocumentedFormula()
    {
        for (long i = 0; i < 10_000; i++)
            Assert.Equal(Keep(42, i, 0.5f), CpuKernels.DropoutKeep(42, i, 0.5f));
    }
}

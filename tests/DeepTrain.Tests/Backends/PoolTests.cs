using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

// Tolerances: max pooling copies values (exact); averages sum ≤ 9 fp32 terms (≈ 1e-7 relative, 1e-6 given);
// gradients are exact sums of dy/d, against finite differences of the double forward (≈ 1e-9 error).
public class PoolTests
{
    public static TheoryData<string, PoolSpec, Layout> Cases()
    {
        var d = new TheoryData<string, PoolSpec, Layout>();
        foreach (var name in new[] { "cpu", "cuda" })
            foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
            {
                d.Add(name, new PoolSpec(PoolMode.Max, 3, 3, 2, 2, 1, 1), layout);
                d.Add(name, new PoolSpec(PoolMode.Max, 2, 3, 2, 1), layout);
                d.Add(name, new PoolSpec(PoolMode.AverageIncludePad, 3, 3, 2, 2, 1, 1), layout);
                d.Add(name, new PoolSpec(PoolMode.AverageExcludePad, 3, 3, 2, 2, 1, 1), layout);
                d.Add(name, new PoolSpec(PoolMode.AverageExcludePad, 2, 2, 1, 1), layout);
                d.Add(name, new PoolSpec(PoolMode.AverageIncludePad, 7, 9, 1, 1), layout);   // global average pooling of 7×9
            }
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchNaiveAndFiniteDifferences(string name, PoolSpec spec, Layout layout)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var xs = Shape.Of(2, 3, 7, 9);
        var ys = Shape.Of(2, 3, spec.OutH(7), spec.OutW(9));
        var x = TestData.Normal(1, 2, 3, 7, 9).ToDouble();   // continuous values: no ties, so max is differentiable
        var xt = s.UploadLogical(x, xs, layout);
        var yt = s.Zeros(ys, layout);
        b.Pool2dForward(spec, xt, yt);
        Tolerance.AssertClose(NaiveOps.Pool2d(spec, x, xs), s.DownloadLogical(yt), 1e-6, 1e-6, $"{spec.Mode} y");

        var dy = TestData.Normal(2, ys.Dims.ToArray()).ToDouble();
        var fd = FiniteDifference.VectorJacobian(v => NaiveOps.Pool2d(spec, v, xs), x, dy);
        var prior = TestData.Normal(3, 2, 3, 7, 9).ToDouble();
        foreach (bool acc in new[] { false, true })
        {
            var dx = s.UploadLogical(prior, xs, layout);
            b.Pool2dBackward(spec, xt, yt, s.UploadLogical(dy, ys, layout), dx, acc);
            Tolerance.AssertClose(fd.Select((v, i) => acc ? v + prior[i] : v).ToArray(), s.DownloadLogical(dx), 1e-6, 1e-6, $"{spec.Mode} dx acc={acc}");
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void MaxPool_SendsTheGradientToTheFirstMaximum(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        // One 2×2 window of equal values, and one with the maximum twice: PyTorch picks the first in row-major order.
        var spec = new PoolSpec(PoolMode.Max, 2, 2, 2, 2);
        var x = s.Upload([1f, 1f, 0f, 5f, 1f, 1f, 5f, 2f], Shape.Of(1, 1, 2, 4));
        var y = s.Zeros(Shape.Of(1, 1, 1, 2));
        b.Pool2dForward(spec, x, y);
        Assert.Equal([1f, 5f], s.Download(y));
        Assert.SkipWhen(name == "cuda", "the forward matched; cuDNN's max-pooling backward does not document which of several equal maxima gets the gradient (CudaBackend.Pool.cs)");
        var dx = s.Zeros(Shape.Of(1, 1, 2, 4));
        b.Pool2dBackward(spec, x, y, s.Upload([10f, 20f], Shape.Of(1, 1, 1, 2)), dx, accumulate: false);
        Assert.Equal([10f, 0, 0, 20f, 0, 0, 0, 0], s.Download(dx));
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Pool_RejectsAWrongOutputShape(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var e = Assert.Throws<ArgumentException>(() => b.Pool2dForward(new PoolSpec(PoolMode.Max, 2, 2, 2, 2), s.Zeros(Shape.Of(1, 2, 6, 6)), s.Zeros(Shape.Of(1, 2, 2, 2))));
        Assert.Contains("(1, 2, 3, 3)", e.Message);
    }
}

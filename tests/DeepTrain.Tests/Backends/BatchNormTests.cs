using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

// Tolerances: y is O(1) after normalisation and each element takes a handful of fp32 operations, so
// 1e-5 absolute; statistics are summed in double so mean/invstd agree to 1e-6 relative even for large
// N·H·W; finite-difference gradients of the double forward are O(1) with ≈ 1e-9 error, so 1e-4 absolute
// covers the fp32 sums of ~300 products in dγ/dβ and the cancellation in dx = a·(dy − mean(dy) − x̂·…).
public class BatchNormTests
{
    private const double Eps = 1e-5, Momentum = 0.1;

    public static TheoryData<string, int[], Layout> Cases()
    {
        var d = new TheoryData<string, int[], Layout>();
        foreach (var name in new[] { "cpu", "cuda" })
        {
            d.Add(name, [3, 5, 7, 9], Layout.NCHW);
            d.Add(name, [3, 5, 7, 9], Layout.NHWC);
            d.Add(name, [2, 19, 3, 5], Layout.NHWC);   // C = 19: a Vector512, a Vector256 and a scalar tail per row
            d.Add(name, [6, 37], Layout.NCHW);          // BatchNorm1d
        }
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void ForwardTraining_MatchesNaive_AndUpdatesRunningStatistics(string name, int[] dims, Layout layout)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var shape = new Shape(dims);
        int c = shape.C;
        long m = shape.Elements / c;
        var x = TestData.Normal(1, dims).Select(v => 3.0 + 2.0 * v).ToArray();
        var gamma = TestData.Uniform(2, c, 0.5f, 1.5f).ToDouble();
        var beta = TestData.Uniform(3, c).ToDouble();
        var (y, mean, var) = NaiveOps.BatchNormTraining(x, shape, gamma, beta, Eps);
        var rm0 = TestData.Uniform(4, c).ToDouble();
        var rv0 = TestData.Uniform(5, c, 0.5f, 2f).ToDouble();

        var xt = s.UploadLogical(x, shape, layout);
        var yt = s.Zeros(shape, layout);
        Tensor rm = s.Upload(NaiveOps.ToFloat(rm0), Shape.Of(c)), rv = s.Upload(NaiveOps.ToFloat(rv0), Shape.Of(c));
        Tensor sm = s.Zeros(Shape.Of(c)), si = s.Zeros(Shape.Of(c));
        b.BatchNormForwardTraining(xt, s.Upload(NaiveOps.ToFloat(gamma), Shape.Of(c)), s.Upload(NaiveOps.ToFloat(beta), Shape.Of(c)), yt, rm, rv, sm, si, Momentum, Eps);

        Tolerance.AssertClose(y, s.DownloadLogical(yt), 1e-5, 1e-5, "y");
        Tolerance.AssertClose(mean, s.Download(sm), 1e-6, 1e-6, "saveMean");
        Tolerance.AssertClose(var.Select(v => 1 / Math.Sqrt(v + Eps)).ToArray(), s.Download(si), 1e-6, 1e-6, "saveInvStd");
        Tolerance.AssertClose(rm0.Select((r, i) => 0.9 * r + 0.1 * mean[i]).ToArray(), s.Download(rm), 1e-6, 1e-6, "running_mean");
        Tolerance.AssertClose(rv0.Select((r, i) => 0.9 * r + 0.1 * var[i] * m / (m - 1)).ToArray(), s.Download(rv), 1e-6, 1e-6, "running_var (unbiased)");

        // In place: y aliases x.
        b.BatchNormForwardTraining(xt, s.Upload(NaiveOps.ToFloat(gamma), Shape.Of(c)), s.Upload(NaiveOps.ToFloat(beta), Shape.Of(c)), xt, rm, rv, sm, si, Momentum, Eps);
        Tolerance.AssertClose(y, s.DownloadLogical(xt), 1e-5, 1e-5, "y in place");
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void RunningStatistics_FollowPyTorchOverSeveralSteps_ThenInferenceUsesThem(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var shape = Shape.Of(4, 3, 5, 5);
        const int c = 3;
        long m = 4 * 25;
        double[] rmRef = new double[c], rvRef = Enumerable.Repeat(1.0, c).ToArray();   // PyTorch's initial state
        Tensor rm = s.Zeros(Shape.Of(c)), rv = s.Upload([1f, 1f, 1f], Shape.Of(c)), sm = s.Zeros(Shape.Of(c)), si = s.Zeros(Shape.Of(c));
        var gamma = s.Upload([1f, 1f, 1f], Shape.Of(c));
        var beta = s.Zeros(Shape.Of(c));
        for (int step = 0; step < 6; step++)
        {
            var x = TestData.Normal(100 + step, 4, 3, 5, 5).Select(v => step + (1.0 + step) * v).ToArray();
            var (_, mean, var) = NaiveOps.BatchNormTraining(x, shape, [1, 1, 1], [0, 0, 0], Eps);
            for (int i = 0; i < c; i++)
            {
                rmRef[i] = (1 - Momentum) * rmRef[i] + Momentum * mean[i];
                rvRef[i] = (1 - Momentum) * rvRef[i] + Momentum * var[i] * m / (m - 1);
            }
            b.BatchNormForwardTraining(s.UploadLogical(x, shape, Layout.NCHW), gamma, beta, s.Zeros(shape), rm, rv, sm, si, Momentum, Eps);
        }
        Tolerance.AssertClose(rmRef, s.Download(rm), 1e-6, 1e-6, "running_mean after 6 steps");
        Tolerance.AssertClose(rvRef, s.Download(rv), 1e-6, 1e-6, "running_var after 6 steps");

        foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
        {
            var x = TestData.Normal(7, 4, 3, 5, 5).ToDouble();
            double[] g = [0.5, 1.5, -2], bt = [0.1, -0.2, 0.3];
            var yt = s.Zeros(shape, layout);
            b.BatchNormForwardInference(s.UploadLogical(x, shape, layout), s.Upload(NaiveOps.ToFloat(g), Shape.Of(c)), s.Upload(NaiveOps.ToFloat(bt), Shape.Of(c)), yt, rm, rv, Eps);
            var rmF = s.Download(rm).ToDouble();
            var rvF = s.Download(rv).ToDouble();
            Tolerance.AssertClose(NaiveOps.BatchNormApply(x, shape, g, bt, rmF, rvF, Eps), s.DownloadLogical(yt), 1e-5, 1e-5, $"inference {layout}");
        }
    }

    [Theory, MemberData(nameof(Cases))]
    public void Backward_MatchesFiniteDifferences(string name, int[] dims, Layout layout)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var shape = new Shape(dims);
        int c = shape.C;
        var x = TestData.Normal(1, dims).Select(v => 0.5 + v).ToArray();
        var gamma = TestData.Uniform(2, c, 0.5f, 1.5f).ToDouble();
        var beta = TestData.Uniform(3, c).ToDouble();
        var dy = TestData.Normal(4, dims).ToDouble();
        var fdX = FiniteDifference.VectorJacobian(v => NaiveOps.BatchNormTraining(v, shape, gamma, beta, Eps).Y, x, dy);
        var fdGamma = FiniteDifference.VectorJacobian(v => NaiveOps.BatchNormTraining(x, shape, v, beta, Eps).Y, gamma, dy);
        var fdBeta = FiniteDifference.VectorJacobian(v => NaiveOps.BatchNormTraining(x, shape, gamma, v, Eps).Y, beta, dy);

        var xt = s.UploadLogical(x, shape, layout);
        var gt = s.Upload(NaiveOps.ToFloat(gamma), Shape.Of(c));
        Tensor sm = s.Zeros(Shape.Of(c)), si = s.Zeros(Shape.Of(c));
        b.BatchNormForwardTraining(xt, gt, s.Upload(NaiveOps.ToFloat(beta), Shape.Of(c)), s.Zeros(shape, layout), s.Zeros(Shape.Of(c)), s.Zeros(Shape.Of(c)), sm, si, Momentum, Eps);
        var dyt = s.UploadLogical(dy, shape, layout);
        var priorX = TestData.Normal(5, dims).ToDouble();
        var priorG = TestData.Normal(6, c).ToDouble();
        foreach (bool acc in new[] { false, true })
        {
            var dx = s.UploadLogical(priorX, shape, layout);
            Tensor dg = s.Upload(NaiveOps.ToFloat(priorG), Shape.Of(c)), db = s.Upload(NaiveOps.ToFloat(priorG), Shape.Of(c));
            b.BatchNormBackward(xt, dyt, gt, sm, si, Eps, dx, dg, db, accumulateDx: acc, accumulateParams: acc);
            Tolerance.AssertClose(fdX.Select((v, i) => acc ? v + priorX[i] : v).ToArray(), s.DownloadLogical(dx), 1e-4, 1e-4, $"dx acc={acc}");
            Tolerance.AssertClose(fdGamma.Select((v, i) => acc ? v + priorG[i] : v).ToArray(), s.Download(dg), 1e-4, 1e-4, $"dgamma acc={acc}");
            Tolerance.AssertClose(fdBeta.Select((v, i) => acc ? v + priorG[i] : v).ToArray(), s.Download(db), 1e-4, 1e-4, $"dbeta acc={acc}");
        }
        // dx aliases dy.
        var alias = s.UploadLogical(dy, shape, layout);
        b.BatchNormBackward(xt, alias, gt, sm, si, Eps, alias, s.Zeros(Shape.Of(c)), s.Zeros(Shape.Of(c)), false, false);
        Tolerance.AssertClose(fdX, s.DownloadLogical(alias), 1e-4, 1e-4, "dx in place");
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Statistics_StayAccurate_ForLargeBatchesWithLargeMeans(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        // 262,144 values per channel around 1000 with σ = 1: a naive fp32 Σx² − (Σx)² loses every digit.
        foreach (var layout in new[] { Layout.NCHW, Layout.NHWC })
        {
            var shape = Shape.Of(64, 2, 64, 64);
            var x = TestData.Normal(9, 64, 2, 64, 64).Select(v => 1000.0 + v).ToArray();
            var (_, mean, var) = NaiveOps.BatchNormTraining(NaiveOps.ToFloat(x).ToDouble(), shape, [1, 1], [0, 0], Eps);
            Tensor sm = s.Zeros(Shape.Of(2)), si = s.Zeros(Shape.Of(2));
            b.BatchNormForwardTraining(s.UploadLogical(x, shape, layout), s.Upload([1f, 1f], Shape.Of(2)), s.Zeros(Shape.Of(2)), s.Zeros(shape, layout),
                s.Zeros(Shape.Of(2)), s.Zeros(Shape.Of(2)), sm, si, Momentum, Eps);
            Tolerance.AssertClose(mean, s.Download(sm), 0, 1e-7, $"mean {layout}");
            Tolerance.AssertClose(var.Select(v => 1 / Math.Sqrt(v + Eps)).ToArray(), s.Download(si), 0, 1e-5, $"invstd {layout}");
        }
    }

    [Theory, MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void ForwardTraining_RejectsOneValuePerChannel_AndWrongParameterShapes(string name)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        Tensor p = s.Zeros(Shape.Of(3)), x = s.Zeros(Shape.Of(1, 3));
        var e = Assert.Throws<ArgumentException>(() => b.BatchNormForwardTraining(x, p, p, s.Zeros(Shape.Of(1, 3)), p, p, p, p, 0.1, 1e-5));
        Assert.Contains("more than 1 value per channel", e.Message);
        var x2 = s.Zeros(Shape.Of(2, 3));
        e = Assert.Throws<ArgumentException>(() => b.BatchNormForwardTraining(x2, s.Zeros(Shape.Of(4)), p, s.Zeros(Shape.Of(2, 3)), p, p, p, p, 0.1, 1e-5));
        Assert.Contains("gamma", e.Message);
    }
}

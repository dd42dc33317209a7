using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Optim;

/// <summary>The two textbook forms of SGD momentum: equal at a constant rate, different (as their formulas say) when it changes.</summary>
public class SgdFormTests
{
    private static float Lr(int t) => t <= 10 ? 0.1f : t <= 20 ? 0.01f : 0.001f;

    private static (float[] Pt, float[] Caffe) RunBoth(bool nesterov, Func<int, float> lr)
    {
        using var b = TestBackends.Create("cpu");
        using var s = new TensorScope(b);
        const int n = 23;
        var w0 = TestData.Uniform(1, n);
        Tensor wp = s.Upload(w0, Shape.Of(n)), wc = s.Upload(w0, Shape.Of(n)), bp = s.Zeros(Shape.Of(n)), bc = s.Zeros(Shape.Of(n)), g = s.Zeros(Shape.Of(n));
        for (int t = 1; t <= 30; t++)
        {
            b.CopyFromHost<float>(TestData.Uniform(50 + t, n), g);
            b.SgdStep(wp, g, bp, new SgdArgs(lr(t), 0.9f, 0f, 1e-3f, nesterov), t);
            b.SgdStep(wc, g, bc, new SgdArgs(lr(t), 0.9f, 0f, 1e-3f, nesterov, SgdMomentumForm.Caffe), t);
        }
        return (s.Download(wp), s.Download(wc));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ConstantRate_BothFormsAgree(bool nesterov)
    {
        var (pt, caffe) = RunBoth(nesterov, _ => 0.05f);
        Tolerance.AssertClose(pt, caffe, 1e-6, 1e-5, "w after 30 steps");   // v = lr·b: the same numbers, rounded differently
    }

    [Fact]
    public void ChangingRate_MatchesEachFormsFormula()
    {
        const int n = 23;
        var (pt, caffe) = RunBoth(false, Lr);
        // Reference in double of both rules over the same gradients.
        var w1 = TestData.Uniform(1, n).ToDouble(); var w2 = (double[])w1.Clone();
        var b = new double[n]; var v = new double[n];
        for (int t = 1; t <= 30; t++)
        {
            var g = TestData.Uniform(50 + t, n);
            for (int i = 0; i < n; i++)
            {
                double d1 = g[i] + 1e-3 * w1[i];
                b[i] = t == 1 ? d1 : 0.9 * b[i] + d1;
                w1[i] -= Lr(t) * b[i];
                double d2 = g[i] + 1e-3 * w2[i];
                v[i] = 0.9 * (t == 1 ? 0 : v[i]) + Lr(t) * d2;
                w2[i] -= v[i];
            }
        }
        Tolerance.AssertClose(w1, pt, 1e-6, 1e-5, "PyTorch form");
        Tolerance.AssertClose(w2, caffe, 1e-6, 1e-5, "Caffe form");
        Assert.True(w1.Zip(w2).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the forms should differ after the rate drops");
    }
}

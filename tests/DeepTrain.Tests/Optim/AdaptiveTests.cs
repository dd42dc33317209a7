using DeepTrain.Backends;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Optim;

/// <summary>Adagrad and RMSProp against torch.optim's formulas over many steps (reference in double, state rounded to fp32 each step).</summary>
public class AdaptiveTests
{
    [Theory]
    [InlineData(0f, 0f)]
    [InlineData(0.01f, 0.1f)]
    public void Adagrad_FiftySteps(float lrDecay, float wd)
    {
        using var b = TestBackends.Create("cpu");
        using var s = new TensorScope(b);
        const int n = 37;
        var a = new AdagradArgs(0.1f, lrDecay, wd);
        var w = TestData.Uniform(1, n); var sum = new float[n];
        var tw = s.Upload(w, Shape.Of(n)); var tg = s.Zeros(Shape.Of(n)); var ts = s.Zeros(Shape.Of(n));
        for (int t = 1; t <= 50; t++)
        {
            var g = TestData.Uniform(10 + t, n);
            b.CopyFromHost<float>(g, tg);
            b.AdagradStep(tw, tg, ts, a, t);
            double clr = a.LearningRate / (1 + (t - 1) * (double)a.LrDecay);
            for (int i = 0; i < n; i++)
            {
                double gi = g[i] + (double)wd * w[i];
                sum[i] = (float)(sum[i] + gi * gi);
                w[i] = (float)(w[i] - clr * gi / (Math.Sqrt(sum[i]) + a.Eps));
            }
        }
        Tolerance.AssertClose(w, s.Download(tw), 1e-6, 1e-5, "w");
        Tolerance.AssertClose(sum, s.Download(ts), 1e-6, 1e-5, "sum");
    }

    [Theory]
    [InlineData(0f, false)]
    [InlineData(0.9f, false)]
    [InlineData(0.9f, true)]
    public void RmsProp_FiftySteps(float momentum, bool centered)
    {
        using var b = TestBackends.Create("cpu");
        using var s = new TensorScope(b);
        const int n = 29;
        var a = new RmsPropArgs(0.01f, 0.99f, 1e-8f, 0.01f, momentum, centered);
        var w = TestData.Uniform(2, n); var v = new float[n]; var buf = new float[n]; var avg = new float[n];
        var tw = s.Upload(w, Shape.Of(n)); var tg = s.Zeros(Shape.Of(n));
        Tensor tv = s.Zeros(Shape.Of(n)), tb = s.Zeros(Shape.Of(n)), ta = s.Zeros(Shape.Of(n));
        for (int t = 1; t <= 50; t++)
        {
            var g = TestData.Uniform(100 + t, n);
            b.CopyFromHost<float>(g, tg);
            b.RmsPropStep(tw, tg, tv, tb, ta, a);
            for (int i = 0; i < n; i++)
            {
                double gi = g[i] + (double)a.WeightDecay * w[i];
                v[i] = (float)(a.Alpha * (double)v[i] + (1 - (double)a.Alpha) * gi * gi);
                double d;
                if (centered) { avg[i] = (float)(a.Alpha * (double)avg[i] + (1 - (double)a.Alpha) * gi); d = Math.Sqrt(v[i] - (double)avg[i] * avg[i]) + a.Eps; }
                else d = Math.Sqrt(v[i]) + a.Eps;
                if (momentum > 0) { buf[i] = (float)(momentum * (double)buf[i] + gi / d); w[i] = (float)(w[i] - a.LearningRate * (double)buf[i]); }
                else w[i] = (float)(w[i] - a.LearningRate * gi / d);
            }
        }
        // Centered RMSProp divides by √(v − ḡ²), which loses relative precision as ḡ² approaches v: 1e-4.
        Tolerance.AssertClose(w, s.Download(tw), 1e-6, centered ? 1e-4 : 1e-5, "w");
    }
}

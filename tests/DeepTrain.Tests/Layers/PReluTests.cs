using DeepTrain.Modeling;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using DeepTrain.Training;
using Xunit;

namespace DeepTrain.Tests.Layers;

/// <summary>PReLU against its definition and central differences, per channel and shared, in both layouts.</summary>
public class PReluTests
{
    public static TheoryData<string, int, Layout> Cases()
    {
        var d = new TheoryData<string, int, Layout>();
        foreach (var b in new[] { "cpu", "cuda" })
            foreach (var k in new[] { 1, 3 })
                foreach (var l in new[] { Layout.NCHW, Layout.NHWC })
                    d.Add(b, k, l);
        return d;
    }

    [Theory, MemberData(nameof(Cases))]
    public void ForwardAndBackward_MatchTheDefinition(string name, int slopes, Layout layout)
    {
        using var b = TestBackends.Create(name);
        using var s = new TensorScope(b);
        var shape = Shape.Of(2, 3, 4, 5);
        var x = TestData.Normal(1, 2, 3, 4, 5).ToDouble();
        var dyv = TestData.Normal(2, 2, 3, 4, 5).ToDouble();
        var alpha = slopes == 1 ? new[] { 0.2 } : new[] { 0.1, 0.25, -0.3 };
        var tx = s.UploadLogical(x, shape, layout);
        var ta = s.Upload(Array.ConvertAll(alpha, v => (float)v), Shape.Of(slopes));
        var ty = s.Zeros(shape, layout);
        b.PReluForward(tx, ta, ty);
        double A(int i) => alpha[slopes == 1 ? 0 : i / 20 % 3];   // NCHW logical index → channel
        var expected = x.Select((v, i) => v > 0 ? v : A(i) * v).ToArray();
        Tolerance.AssertClose(expected, s.DownloadLogical(ty), 1e-7, 1e-6, "y");

        var tdy = s.UploadLogical(dyv, shape, layout);
        var tdx = s.Zeros(shape, layout);
        var tda = s.Zeros(Shape.Of(slopes));
        b.PReluBackward(tx, ta, tdy, tdx, tda, false, false);
        Tolerance.AssertClose(x.Select((v, i) => dyv[i] * (v > 0 ? 1 : A(i))).ToArray(), s.DownloadLogical(tdx), 1e-7, 1e-6, "dx");
        var da = new double[slopes];
        for (int i = 0; i < x.Length; i++) if (x[i] <= 0) da[slopes == 1 ? 0 : i / 20 % 3] += dyv[i] * x[i];
        Tolerance.AssertClose(da, s.Download(tda), 1e-5, 1e-5, "dalpha");
    }

    [Fact]
    public void InAModel_GradientsMatchCentralDifferences()
    {
        using var b = TestBackends.Create("cpu");
        var g = new ModelGraph("prelu", Shape.Of(3, 4, 4));
        var x = g.Apply("conv", new Conv2d(3, 3, 3, padding: 1), g.Input);
        x = g.Apply("prelu", new PReLU(3), x);
        x = g.Apply("pool", new GlobalAvgPool2d(), x);
        x = g.Apply("flatten", new Flatten(), x);
        g.Apply("fc", new Linear(3, 2), x);
        using var model = new Model(g, b, seed: 4);
        using var plan = model.Compile(4, training: true, new CrossEntropyLoss());
        b.CopyFromHost<float>(TestData.Normal(5, 4, 3, 4, 4), plan.Input);
        b.CopyFromHost<int>([0, 1, 1, 0], plan.Target);
        var samples = GradientChecker.Check(plan).Where(x => x.Parameter == "prelu.weight").ToArray();
        Assert.Equal(3, samples.Length);
        var numeric = samples.Select(x => x.Numeric).ToArray();
        var analytic = samples.Select(x => (float)x.Analytic).ToArray();
        Tolerance.AssertClose(numeric, analytic, 2e-3, 2e-2, "d loss / d slope");
    }
}

using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

// The CPU's batch norm fused with the ReLU after it (training plans): against the naive definitions in double, and bit for
// bit against the two separate calls it replaces (which is what makes fused and unfused plans train alike).
// Tolerances as BatchNormTests': z is O(1), 1e-5; dx, dγ, dβ 1e-4 (fp32 sums of a few hundred products, the cancellation
// in dx). The mask [y > 0] is taken from the double y; no element of these seeded inputs lies within 1e-6 of 0 (asserted), far beyond fp32 y's error.
public class BatchNormReluTests
{
    private const double Eps = 1e-5, Momentum = 0.1;

    public static TheoryData<int[]> Shapes() => new()
    {
        { [3, 5, 7, 9] },     // planes of 63: a Vector512 body and tails
        { [2, 3, 17, 17] },   // 289: Vector512, Vector256 and scalar tails
        { [2, 2, 70, 70] },   // 4,900: past one 4,096-element summation block
        { [4, 3, 1, 2] },     // planes of 2: scalar only
    };

    [Theory, MemberData(nameof(Shapes))]
    public void ForwardAndBackward_MatchNaive_AndTheSeparateCallsBitForBit(int[] dims)
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        var shape = new Shape(dims);
        int c = shape.C, plane = shape.H * shape.W;
        long m = shape.Elements / c;
        var x = TestData.Normal(1, dims).Select(v => 0.3 + 2.0 * v).ToArray();
        var gamma = TestData.Uniform(2, c, -1.5f, 1.5f).ToDouble();   // negative γ too: the mask is on y, not x̂
        var beta = TestData.Uniform(3, c, -0.5f, 0.5f).ToDouble();
        var dz = TestData.Normal(4, dims).ToDouble();
        var (y, mean, var) = NaiveOps.BatchNormTraining(x, shape, gamma, beta, Eps);
        Assert.True(y.Min(Math.Abs) > 1e-6, "an element lies on the ReLU's kink: choose other seeds");

        // Naive: z = max(y, 0); g = dz·[y > 0]; PyTorch's batch_norm_backward of g.
        var z = y.Select(v => Math.Max(v, 0)).ToArray();
        var g = dz.Select((d, i) => y[i] > 0 ? d : 0).ToArray();
        double[] dBeta = new double[c], dGamma = new double[c], dx = new double[x.Length];
        int Ch(int i) => i / plane % c;
        for (int i = 0; i < x.Length; i++)
        {
            double xh = (x[i] - mean[Ch(i)]) / Math.Sqrt(var[Ch(i)] + Eps);
            dBeta[Ch(i)] += g[i];
            dGamma[Ch(i)] += g[i] * xh;
        }
        for (int i = 0; i < x.Length; i++)
        {
            int k = Ch(i);
            double inv = 1 / Math.Sqrt(var[k] + Eps), xh = (x[i] - mean[k]) * inv;
            dx[i] = gamma[k] * inv * (g[i] - dBeta[k] / m - xh * dGamma[k] / m);
        }

        Tensor Vec(double[] v) => s.Upload(NaiveOps.ToFloat(v), Shape.Of(c));
        var xt = s.UploadLogical(x, shape, Layout.NCHW);
        Tensor gt = Vec(gamma), bt = Vec(beta);
        float[] rm0 = TestData.Uniform(5, c), rv0 = TestData.Uniform(6, c, 0.5f, 2f);

        // Fused forward.
        Tensor zt = s.Zeros(shape), rm = s.Upload(rm0, Shape.Of(c)), rv = s.Upload(rv0, Shape.Of(c));
        Tensor sm = s.Zeros(Shape.Of(c)), si = s.Zeros(Shape.Of(c)), scale = s.Zeros(Shape.Of(c));
        b.BatchNormReluForwardTraining(xt, gt, bt, zt, rm, rv, sm, si, scale, Momentum, Eps);
        Tolerance.AssertClose(z, s.Download(zt), 1e-5, 1e-5, "z");
        Tolerance.AssertClose(gamma.Select((v, k) => v / Math.Sqrt(var[k] + Eps)).ToArray(), s.Download(scale), 1e-6, 1e-6, "saved scale γ·invstd");

        // Separate: batch norm, then ReLU in place over its output (what the unfused plan runs).
        Tensor yt = s.Zeros(shape), rm2 = s.Upload(rm0, Shape.Of(c)), rv2 = s.Upload(rv0, Shape.Of(c));
        Tensor sm2 = s.Zeros(Shape.Of(c)), si2 = s.Zeros(Shape.Of(c));
        b.BatchNormForwardTraining(xt, gt, bt, yt, rm2, rv2, sm2, si2, Momentum, Eps);
        b.Activation(ActivationKind.Relu, 0f, yt, yt);
        AssertBits(s.Download(yt), s.Download(zt), "z against BN then ReLU");
        AssertBits(s.Download(rm2), s.Download(rm), "running mean");
        AssertBits(s.Download(rv2), s.Download(rv), "running variance");
        AssertBits(s.Download(sm2), s.Download(sm), "saved mean");
        AssertBits(s.Download(si2), s.Download(si), "saved 1/std");

        foreach (bool accumulate in new[] { false, true })
        {
            var prior = TestData.Uniform(7, x.Length);
            var priorParams = TestData.Uniform(8, c);
            Tensor dzt = s.Upload(NaiveOps.ToFloat(dz), shape), dxt = s.Upload(accumulate ? prior : new float[x.Length], shape);
            Tensor dg = s.Upload(accumulate ? priorParams : new float[c], Shape.Of(c)), db = s.Upload(accumulate ? priorParams : new float[c], Shape.Of(c));
            b.BatchNormReluBackward(xt, dzt, gt, bt, sm, si, scale, dxt, dg, db, accumulate, accumulate);
            string tag = accumulate ? " (accumulating)" : "";
            double[] Minus(float[] got, float[] p) => got.Select((v, i) => (double)v - (accumulate ? p[i] : 0)).ToArray();
            Tolerance.AssertClose(dx, Minus(s.Download(dxt), prior).Select(v => (float)v).ToArray(), 1e-4, 1e-4, "dx" + tag);
            Tolerance.AssertClose(dGamma, Minus(s.Download(dg), priorParams).Select(v => (float)v).ToArray(), 1e-4, 1e-4, "dγ" + tag);
            Tolerance.AssertClose(dBeta, Minus(s.Download(db), priorParams).Select(v => (float)v).ToArray(), 1e-4, 1e-4, "dβ" + tag);

            // Separate: ReLU backward in place over dz, then batch norm's backward.
            Tensor gt2 = s.Upload(NaiveOps.ToFloat(dz), shape), dxt2 = s.Upload(accumulate ? prior : new float[x.Length], shape);
            Tensor dg2 = s.Upload(accumulate ? priorParams : new float[c], Shape.Of(c)), db2 = s.Upload(accumulate ? priorParams : new float[c], Shape.Of(c));
            b.ActivationBackward(ActivationKind.Relu, 0f, yt, gt2, gt2, false);
            b.BatchNormBackward(xt, gt2, gt, sm2, si2, Eps, dxt2, dg2, db2, accumulate, accumulate);
            AssertBits(s.Download(dxt2), s.Download(dxt), "dx against ReLU then BN backward" + tag);
            AssertBits(s.Download(dg2), s.Download(dg), "dγ" + tag);
            AssertBits(s.Download(db2), s.Download(db), "dβ" + tag);
            // In place: dx over dz, as a plan may place them.
            b.BatchNormReluBackward(xt, dzt, gt, bt, sm, si, scale, dzt, dg, db, false, false);
            if (!accumulate) AssertBits(s.Download(dxt2), s.Download(dzt), "dx written over dz");
        }
    }

    [Fact]
    public void Fusion_IsOffered_OnlyForFp32NchwPlanes()
    {
        using var b = new CpuBackend();
        using var s = new TensorScope(b);
        Assert.True(CpuBackend.FusesBatchNormRelu(s.Zeros(Shape.Of(2, 3, 4, 4))));
        Assert.False(CpuBackend.FusesBatchNormRelu(s.Zeros(Shape.Of(2, 3, 4, 4), Layout.NHWC)));
        Assert.False(CpuBackend.FusesBatchNormRelu(s.Zeros(Shape.Of(2, 3, 4, 4), dtype: DType.Float16)));
        Assert.False(CpuBackend.FusesBatchNormRelu(s.Zeros(Shape.Of(2, 3, 1, 1))));
        Assert.False(CpuBackend.FusesBatchNormRelu(s.Zeros(Shape.Of(2, 3))));
        var nhwc = s.Zeros(Shape.Of(2, 3, 4, 4), Layout.NHWC);
        Tensor v = s.Zeros(Shape.Of(3));
        var e = Assert.Throws<ArgumentException>(() => b.BatchNormReluForwardTraining(nhwc, v, v, nhwc, v, v, v, v, v, Momentum, Eps));
        Assert.Contains("BatchNormReluForwardTraining", e.Message);
    }

    private static void AssertBits(float[] want, float[] got, string what)
    {
        Assert.Equal(want.Length, got.Length);
        int bad = Enumerable.Range(0, want.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(want[i]) != BitConverter.SingleToInt32Bits(got[i]), -1);
        Assert.True(bad < 0, $"{what}: element {bad} is {(bad < 0 ? 0 : got[bad]):R}, expected {(bad < 0 ? 0 : want[bad]):R}");
    }
}

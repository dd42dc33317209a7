using DeepTrain.Tensors;
using DeepTrain.Utils;
using static DeepTrain.Backends.Cpu.CpuOperands;

namespace DeepTrain.Backends.Cpu;

// Batch normalisation (PyTorch's BatchNorm1d/2d, torch.nn.functional.batch_norm; Ioffe & Szegedy 2015),
// per channel over M = N·S values (S = H·W, or 1 for (N, C)). The math and the kernels are in
// CpuKernels.Norm.cs. Statistics are summed in short fp32 runs widened to double (CpuReduce), then
// the variance is the centred second pass Σ(x − μ)²/M, so a large mean or a large N·H·W costs no accuracy.
// NCHW splits channels across threads (each channel's planes are read twice and written once while hot);
// channels-last tensors reduce row chunks in parallel and combine them in a fixed order.
public sealed partial class CpuBackend
{
    /// <inheritdoc />
    /// <remarks>
    /// running_mean ← (1 − m)·running_mean + m·μ_B and running_var ← (1 − m)·running_var + m·σ²_B·M/(M − 1)
    /// (the unbiased variance, as PyTorch). y may alias x.
    /// </remarks>
    /// <exception cref="ArgumentException">A shape differs, or a channel has fewer than 2 values (PyTorch refuses that too).</exception>
    public void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar,
        Tensor saveMean, Tensor saveInvStd, double momentum, double eps)
    {
        const string op = "BatchNormForwardTraining";
        var g = CheckBatchNorm(op, x, "y", y, ("gamma", gamma), ("beta", beta), ("runningMean", runningMean), ("runningVar", runningVar), ("saveMean", saveMean), ("saveInvStd", saveInvStd));
        long m = g.PerChannel;
        if (m < 2) ThrowHelper.Invalid(op, $"expected more than 1 value per channel when training, got x of shape {x.Shape}");
        var mean = new double[g.C];
        var variance = new double[g.C];
        if (!g.ChannelsLast)
        {
            // (N, C, S): channel c is the N planes x[n, c, :].
            CpuParallel.For(g.C, 3 * m, (c0, c1) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>();
                Span<float> ys = y.AsSpan<float>();
                for (int c = c0; c < c1; c++)
                {
                    double s = 0;
                    for (int n = 0; n < g.N; n++) s += CpuKernels.Sum(Plane(xs, g, n, c));
                    double mu = s / m;
                    float muF = (float)mu;
                    double ss = 0;
                    for (int n = 0; n < g.N; n++) ss += CpuKernels.SumSquaredDeviation(Plane(xs, g, n, c), muF);
                    // Σ(x − μ)² = Σ(x − μ_f)² − M·(μ − μ_f)²: corrects for centring on the fp32 mean.
                    double v = Math.Max(ss / m - (mu - muF) * (mu - muF), 0);
                    double a = gamma.AsSpan<float>()[c] / Math.Sqrt(v + eps);
                    float b = beta.AsSpan<float>()[c];
                    for (int n = 0; n < g.N; n++) CpuKernels.NormalizePlane(Plane(xs, g, n, c), muF, (float)a, b, Plane(ys, g, n, c));
                    mean[c] = mu;
                    variance[c] = v;
                }
            });
        }
        else
        {
            // (N·S, C) rows: three passes over the rows — Σx, Σ(x − μ)², then y.
            var sums = new double[g.C];
            CpuReduce.Rows(g, sums, 1, (r0, r1, p) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>();
                for (int r = r0; r < r1; r++) CpuKernels.AddInPlace(p, Row(xs, g, r));
            });
            var muF = new float[g.C];
            for (int c = 0; c < g.C; c++) { mean[c] = sums[c] / m; muF[c] = (float)mean[c]; }
            CpuReduce.Rows(g, sums, 1, (r0, r1, p) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>();
                for (int r = r0; r < r1; r++) CpuKernels.AccumulateSquaredDeviationRow(Row(xs, g, r), muF, p);
            });
            var scale = new float[g.C];
            var shift = new float[g.C];
            for (int c = 0; c < g.C; c++)
            {
                variance[c] = Math.Max(sums[c] / m - (mean[c] - muF[c]) * (mean[c] - muF[c]), 0);
                scale[c] = (float)(gamma.AsSpan<float>()[c] / Math.Sqrt(variance[c] + eps));
                shift[c] = beta.AsSpan<float>()[c];
            }
            CpuParallel.For(g.Rows, 3L * g.C, (r0, r1) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>();
                Span<float> ys = y.AsSpan<float>();
                for (int r = r0; r < r1; r++) CpuKernels.NormalizeRow(Row(xs, g, r), muF, scale, shift, Row(ys, g, r));
            });
        }
        Span<float> rm = runningMean.AsSpan<float>(), rv = runningVar.AsSpan<float>(), sm = saveMean.AsSpan<float>(), si = saveInvStd.AsSpan<float>();
        double unbias = (double)m / (m - 1);
        for (int c = 0; c < g.C; c++)
        {
            sm[c] = (float)mean[c];
            si[c] = (float)(1.0 / Math.Sqrt(variance[c] + eps));
            rm[c] = (float)((1 - momentum) * rm[c] + momentum * mean[c]);
            rv[c] = (float)((1 - momentum) * rv[c] + momentum * variance[c] * unbias);
        }
    }

    /// <inheritdoc />
    /// <remarks>y may alias x.</remarks>
    public void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, double eps)
    {
        const string op = "BatchNormForwardInference";
        var g = CheckBatchNorm(op, x, "y", y, ("gamma", gamma), ("beta", beta), ("runningMean", runningMean), ("runningVar", runningVar));
        var mean = new float[g.C];
        var scale = new float[g.C];
        var shift = new float[g.C];
        for (int c = 0; c < g.C; c++)
        {
            mean[c] = runningMean.AsSpan<float>()[c];
            scale[c] = (float)(gamma.AsSpan<float>()[c] / Math.Sqrt(runningVar.AsSpan<float>()[c] + eps));
            shift[c] = beta.AsSpan<float>()[c];
        }
        if (!g.ChannelsLast)
            CpuParallel.For(g.N * g.C, g.Spatial, (p0, p1) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>();
                Span<float> ys = y.AsSpan<float>();
                for (int p = p0; p < p1; p++)
                {
                    int c = p % g.C;
                    CpuKernels.NormalizePlane(xs.Slice(p * g.Spatial, g.Spatial), mean[c], scale[c], shift[c], ys.Slice(p * g.Spatial, g.Spatial));
                }
            });
        else
            CpuParallel.For(g.Rows, g.C, (r0, r1) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>();
                Span<float> ys = y.AsSpan<float>();
                for (int r = r0; r < r1; r++) CpuKernels.NormalizeRow(Row(xs, g, r), mean, scale, shift, Row(ys, g, r));
            });
    }

    /// <inheritdoc />
    /// <remarks>
    /// Uses the saved μ_B and 1/√(σ²_B + ε) of the forward pass; dx may alias dy.
    /// dβ = Σdy, dγ = Σdy·x̂, dx = γ·invstd·(dy − dβ/M − x̂·dγ/M) (PyTorch's batch_norm_backward).
    /// </remarks>
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd,
        Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams)
    {
        const string op = "BatchNormBackward";
        var g = CheckBatchNorm(op, x, "dy", dy, ("gamma", gamma), ("dgamma", dgamma), ("dbeta", dbeta), ("saveMean", saveMean), ("saveInvStd", saveInvStd));
        F32(op, "dx", dx);
        SameGeometry(op, "x", x, "dx", dx);
        long m = g.PerChannel;
        var dGamma = new double[g.C];
        var dBeta = new double[g.C];
        if (!g.ChannelsLast)
        {
            CpuParallel.For(g.C, 3 * m, (c0, c1) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>(), gs = dy.AsSpan<float>();
                Span<float> ds = dx.AsSpan<float>();
                for (int c = c0; c < c1; c++)
                {
                    float mu = saveMean.AsSpan<float>()[c];
                    double invstd = saveInvStd.AsSpan<float>()[c], sumDy = 0, sumDyXc = 0;
                    for (int n = 0; n < g.N; n++)
                    {
                        CpuKernels.SumGradientTerms(Plane(xs, g, n, c), Plane(gs, g, n, c), mu, out double s1, out double s2);
                        sumDy += s1; sumDyXc += s2;
                    }
                    var (cDy, cX, k0) = BackwardCoefficients(gamma.AsSpan<float>()[c], invstd, sumDy, sumDyXc * invstd, m);
                    for (int n = 0; n < g.N; n++)
                        CpuKernels.BatchNormBackwardPlane(Plane(xs, g, n, c), Plane(gs, g, n, c), mu, cDy, cX, k0, Plane(ds, g, n, c), accumulateDx);
                    dBeta[c] = sumDy;
                    dGamma[c] = sumDyXc * invstd;
                }
            });
        }
        else
        {
            var sums = new double[2 * g.C];
            var mu = saveMean.AsSpan<float>().ToArray();
            CpuReduce.Rows(g, sums, 2, (r0, r1, p) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>(), gs = dy.AsSpan<float>();
                for (int r = r0; r < r1; r++) CpuKernels.AccumulateGradientTermsRow(Row(xs, g, r), Row(gs, g, r), mu, p[..g.C], p[g.C..]);
            });
            float[] cDy = new float[g.C], cX = new float[g.C], k0 = new float[g.C];
            for (int c = 0; c < g.C; c++)
            {
                double invstd = saveInvStd.AsSpan<float>()[c];
                dBeta[c] = sums[c];
                dGamma[c] = sums[g.C + c] * invstd;
                (cDy[c], cX[c], k0[c]) = BackwardCoefficients(gamma.AsSpan<float>()[c], invstd, dBeta[c], dGamma[c], m);
            }
            CpuParallel.For(g.Rows, 4L * g.C, (r0, r1) =>
            {
                ReadOnlySpan<float> xs = x.AsSpan<float>(), gs = dy.AsSpan<float>();
                Span<float> ds = dx.AsSpan<float>();
                for (int r = r0; r < r1; r++) CpuKernels.BatchNormBackwardRow(Row(xs, g, r), Row(gs, g, r), mu, cDy, cX, k0, Row(ds, g, r), accumulateDx);
            });
        }
        Span<float> dgs = dgamma.AsSpan<float>(), dbs = dbeta.AsSpan<float>();
        for (int c = 0; c < g.C; c++)
        {
            dgs[c] = (float)(accumulateParams ? dgs[c] + dGamma[c] : dGamma[c]);
            dbs[c] = (float)(accumulateParams ? dbs[c] + dBeta[c] : dBeta[c]);
        }
    }

    /// <summary>dx = cDy·dy + cX·(x − μ) + c0 with a = γ·invstd: cDy = a, cX = −a·invstd·dγ/M, c0 = −a·dβ/M.</summary>
    private static (float CDy, float CX, float C0) BackwardCoefficients(double gamma, double invstd, double dBeta, double dGamma, long m)
    {
        double a = gamma * invstd;
        return ((float)a, (float)(-a * invstd * dGamma / m), (float)(-a * dBeta / m));
    }

    /// <summary>Plane (n, c) of an NCHW-like (N, C, S) tensor.</summary>
    private static Span<float> Plane(Span<float> t, ChannelGeometry g, int n, int c) => t.Slice((n * g.C + c) * g.Spatial, g.Spatial);
    private static ReadOnlySpan<float> Plane(ReadOnlySpan<float> t, ChannelGeometry g, int n, int c) => t.Slice((n * g.C + c) * g.Spatial, g.Spatial);

    /// <summary>Row r of a channels-last (N·S, C) tensor.</summary>
    private static Span<float> Row(Span<float> t, ChannelGeometry g, int r) => t.Slice(r * g.C, g.C);
    private static ReadOnlySpan<float> Row(ReadOnlySpan<float> t, ChannelGeometry g, int r) => t.Slice(r * g.C, g.C);

    /// <summary>Checks a batch-norm call: x and <paramref name="b"/> share geometry; every other operand is a per-channel fp32 vector.</summary>
    private static ChannelGeometry CheckBatchNorm(string op, Tensor x, string bn, Tensor b, params ReadOnlySpan<(string Name, Tensor T)> perChannel)
    {
        F32(op, "x", x); F32(op, bn, b);
        SameGeometry(op, "x", x, bn, b);
        var g = ChannelGeometry.Of(op, "x", x);
        foreach (var (name, t) in perChannel)
        {
            F32(op, name, t);
            PerChannel(op, name, t, g.C);
        }
        return g;
    }
}

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
        if (Reduced(x, y, gamma, beta, runningMean, runningVar) || Reduced(saveMean, saveInvStd)) { using var h = new Widened(); BatchNormForwardTraining(h.In(x), h.In(gamma), h.In(beta), h.Out(y), h.Out(runningMean), h.Out(runningVar), h.Out(saveMean), h.Out(saveInvStd), momentum, eps); return; }
        ForwardTraining("BatchNormForwardTraining", x, gamma, beta, y, runningMean, runningVar, saveMean, saveInvStd, null, momentum, eps);
    }

    /// <summary>
    /// True when this backend runs batch norm fused with the ReLU after it (<see cref="BatchNormReluForwardTraining"/>,
    /// <see cref="BatchNormReluBackward"/>) on an output like <paramref name="y"/>: fp32 NCHW planes (N, C, H, W) with H·W &gt; 1.
    /// Elsewhere (16-bit, channels-last, (N, C)) the plan runs the two layers separately.
    /// </summary>
    internal static bool FusesBatchNormRelu(Tensor y)
        => y.DType == DType.Float32 && y.Shape.Rank == 4 && y.Layout == Layout.NCHW && y.Shape.H * y.Shape.W > 1;

    /// <summary>
    /// Training forward of batch norm fused with the ReLU after it: z = max(BatchNormForwardTraining(x), 0) in one pass over
    /// the output, bit for bit the two separate calls. Also saves the per-channel scale γ·invstd the forward normalised with
    /// (<paramref name="saveScale"/>, fp32), from which <see cref="BatchNormReluBackward"/> recomputes y exactly. z may alias x.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="BatchNormForwardTraining"/>, or z is not one <see cref="FusesBatchNormRelu"/> takes.</exception>
    internal void BatchNormReluForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor z, Tensor runningMean, Tensor runningVar,
        Tensor saveMean, Tensor saveInvStd, Tensor saveScale, double momentum, double eps)
    {
        const string op = "BatchNormReluForwardTraining";
        if (!FusesBatchNormRelu(z)) ThrowHelper.Invalid(op, $"expected fp32 NCHW planes, got z {z.Shape} {z.DType} {z.Layout}");
        ForwardTraining(op, x, gamma, beta, z, runningMean, runningVar, saveMean, saveInvStd, saveScale, momentum, eps);
    }

    /// <summary>The training forward; with <paramref name="saveScale"/> (NCHW only) it applies ReLU and saves the scale.</summary>
    private unsafe void ForwardTraining(string op, Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar,
        Tensor saveMean, Tensor saveInvStd, Tensor? saveScale, double momentum, double eps)
    {
        var g = CheckBatchNorm(op, x, "y", y, ("gamma", gamma), ("beta", beta), ("runningMean", runningMean), ("runningVar", runningVar), ("saveMean", saveMean), ("saveInvStd", saveInvStd));
        if (saveScale is not null) { F32(op, "saveScale", saveScale); PerChannel(op, "saveScale", saveScale, g.C); }
        long m = g.PerChannel;
        if (m < 2) ThrowHelper.Invalid(op, $"expected more than 1 value per channel when training, got x of shape {x.Shape}");
        // Per-channel statistics in this thread's scratch: mean, variance, sums (double), then μ_f, scale, shift (float).
        var st = new BnStats(g.C);
        if (!g.ChannelsLast)
        {
            // (N, C, S): channel c is the N planes x[n, c, :].
            CpuParallel.For(g.C, 3 * m, new BnTrainPlanes(x, y, gamma, beta, g, eps, st, saveScale is null ? null : (float*)saveScale.Pointer));
        }
        else
        {
            // (N·S, C) rows: three passes over the rows — Σx, Σ(x − μ)², then y.
            CpuReduce.Rows(g, st.Sums, 1, new BnRows(x, null, g, null, BnRows.Pass.Sum));
            for (int c = 0; c < g.C; c++) { st.Mean[c] = st.Sums[c] / m; st.MuF[c] = (float)st.Mean[c]; }
            CpuReduce.Rows(g, st.Sums, 1, new BnRows(x, null, g, st.MuF, BnRows.Pass.SquaredDeviation));
            for (int c = 0; c < g.C; c++)
            {
                st.Variance[c] = Math.Max(st.Sums[c] / m - (st.Mean[c] - st.MuF[c]) * (st.Mean[c] - st.MuF[c]), 0);
                st.Scale[c] = (float)(gamma.AsSpan<float>()[c] / Math.Sqrt(st.Variance[c] + eps));
                st.Shift[c] = beta.AsSpan<float>()[c];
            }
            CpuParallel.For(g.Rows, 3L * g.C, new NormalizeRows(x, y, g, st.MuF, st.Scale, st.Shift));
        }
        Span<float> rm = runningMean.AsSpan<float>(), rv = runningVar.AsSpan<float>(), sm = saveMean.AsSpan<float>(), si = saveInvStd.AsSpan<float>();
        double unbias = (double)m / (m - 1);
        for (int c = 0; c < g.C; c++)
        {
            sm[c] = (float)st.Mean[c];
            si[c] = (float)(1.0 / Math.Sqrt(st.Variance[c] + eps));
            rm[c] = (float)((1 - momentum) * rm[c] + momentum * st.Mean[c]);
            rv[c] = (float)((1 - momentum) * rv[c] + momentum * st.Variance[c] * unbias);
        }
    }

    /// <summary>
    /// The calling thread's per-channel working set of one batch-norm call, carved from its
    /// <see cref="CpuScratch.Slot.Statistics"/> buffer (kept between calls, so nothing is allocated):
    /// Mean, Variance (C doubles each), Sums (2·C doubles), then MuF, Scale, Shift (C floats each).
    /// </summary>
    private readonly unsafe struct BnStats
    {
        public readonly double* Mean, Variance, Sums;
        public readonly float* MuF, Scale, Shift;

        public BnStats(int c)
        {
            Mean = CpuScratch.Current.GetDoubles(CpuScratch.Slot.Statistics, 4L * c + (3L * c + 1) / 2);
            Variance = Mean + c;
            Sums = Variance + c;
            MuF = (float*)(Sums + 2 * c);
            Scale = MuF + c;
            Shift = Scale + c;
        }
    }

    /// <summary>Training forward over NCHW channels [c0, c1): statistics of each channel's planes, then y.</summary>
    /// <remarks>With <paramref name="reluScale"/> it writes max(y, 0) and saves each channel's fp32 scale there.</remarks>
    private readonly unsafe struct BnTrainPlanes(Tensor x, Tensor y, Tensor gamma, Tensor beta, ChannelGeometry g, double eps, BnStats st, float* reluScale) : IRangeBody
    {
        public void Run(int c0, int c1)
        {
            ReadOnlySpan<float> xs = x.AsSpan<float>();
            Span<float> ys = y.AsSpan<float>();
            long m = g.PerChannel;
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
                if (reluScale == null)
                    for (int n = 0; n < g.N; n++) CpuKernels.NormalizePlane(Plane(xs, g, n, c), muF, (float)a, b, Plane(ys, g, n, c));
                else
                {
                    for (int n = 0; n < g.N; n++) CpuKernels.NormalizeReluPlane(Plane(xs, g, n, c), muF, (float)a, b, Plane(ys, g, n, c));
                    reluScale[c] = (float)a;
                }
                st.Mean[c] = mu;
                st.Variance[c] = v;
            }
        }
    }

    /// <summary>One of the channels-last row passes of batch norm, summed by <see cref="CpuReduce.Rows"/>.</summary>
    private readonly unsafe struct BnRows(Tensor x, Tensor? dy, ChannelGeometry g, float* mean, BnRows.Pass pass) : IRowAccumulator
    {
        public enum Pass { Sum, SquaredDeviation, GradientTerms }

        public void Accumulate(int r0, int r1, Span<float> p)
        {
            ReadOnlySpan<float> xs = x.AsSpan<float>();
            var mu = new ReadOnlySpan<float>(mean, mean == null ? 0 : g.C);
            switch (pass)
            {
                case Pass.Sum:
                    for (int r = r0; r < r1; r++) CpuKernels.AddInPlace(p, Row(xs, g, r));
                    break;
                case Pass.SquaredDeviation:
                    for (int r = r0; r < r1; r++) CpuKernels.AccumulateSquaredDeviationRow(Row(xs, g, r), mu, p);
                    break;
                default:
                    ReadOnlySpan<float> gs = dy!.AsSpan<float>();
                    for (int r = r0; r < r1; r++) CpuKernels.AccumulateGradientTermsRow(Row(xs, g, r), Row(gs, g, r), mu, p[..g.C], p[g.C..]);
                    break;
            }
        }
    }

    /// <summary>y = (x − mean)·scale + shift per channel over channels-last rows.</summary>
    private readonly unsafe struct NormalizeRows(Tensor x, Tensor y, ChannelGeometry g, float* mean, float* scale, float* shift) : IRangeBody
    {
        public void Run(int r0, int r1)
        {
            ReadOnlySpan<float> xs = x.AsSpan<float>();
            Span<float> ys = y.AsSpan<float>();
            ReadOnlySpan<float> mu = new(mean, g.C), sc = new(scale, g.C), sh = new(shift, g.C);
            for (int r = r0; r < r1; r++) CpuKernels.NormalizeRow(Row(xs, g, r), mu, sc, sh, Row(ys, g, r));
        }
    }

    /// <summary>y = (x − mean[c])·scale[c] + shift[c] over NCHW planes (n, c).</summary>
    private readonly unsafe struct NormalizePlanes(Tensor x, Tensor y, ChannelGeometry g, float* mean, float* scale, float* shift) : IRangeBody
    {
        public void Run(int p0, int p1)
        {
            ReadOnlySpan<float> xs = x.AsSpan<float>();
            Span<float> ys = y.AsSpan<float>();
            for (int p = p0; p < p1; p++)
            {
                int c = p % g.C;
                CpuKernels.NormalizePlane(xs.Slice(p * g.Spatial, g.Spatial), mean[c], scale[c], shift[c], ys.Slice(p * g.Spatial, g.Spatial));
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>y may alias x.</remarks>
    public unsafe void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar, double eps)
    {
        if (Reduced(x, y, gamma, beta, runningMean, runningVar)) { using var h = new Widened(); BatchNormForwardInference(h.In(x), h.In(gamma), h.In(beta), h.Out(y), h.In(runningMean), h.In(runningVar), eps); return; }
        const string op = "BatchNormForwardInference";
        var g = CheckBatchNorm(op, x, "y", y, ("gamma", gamma), ("beta", beta), ("runningMean", runningMean), ("runningVar", runningVar));
        var st = new BnStats(g.C);
        for (int c = 0; c < g.C; c++)
        {
            st.MuF[c] = runningMean.AsSpan<float>()[c];
            st.Scale[c] = (float)(gamma.AsSpan<float>()[c] / Math.Sqrt(runningVar.AsSpan<float>()[c] + eps));
            st.Shift[c] = beta.AsSpan<float>()[c];
        }
        if (!g.ChannelsLast)
            CpuParallel.For(g.N * g.C, g.Spatial, new NormalizePlanes(x, y, g, st.MuF, st.Scale, st.Shift));
        else
            CpuParallel.For(g.Rows, g.C, new NormalizeRows(x, y, g, st.MuF, st.Scale, st.Shift));
    }

    /// <inheritdoc />
    /// <remarks>
    /// Uses the saved μ_B and 1/√(σ²_B + ε) of the forward pass; dx may alias dy. <paramref name="eps"/> is ignored: the
    /// saved inverse std already holds ε.
    /// dβ = Σdy, dγ = Σdy·x̂, dx = γ·invstd·(dy − dβ/M − x̂·dγ/M) (PyTorch's batch_norm_backward).
    /// </remarks>
    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, double eps,
        Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams)
    {
        if (Reduced(x, dy, dx, gamma, dgamma, dbeta) || Reduced(saveMean, saveInvStd)) { using var h = new Widened(); BatchNormBackward(h.In(x), h.In(dy), h.In(gamma), h.In(saveMean), h.In(saveInvStd), eps, h.Out(dx), h.Out(dgamma), h.Out(dbeta), accumulateDx, accumulateParams); return; }
        Backward("BatchNormBackward", x, dy, gamma, null, saveMean, saveInvStd, null, dx, dgamma, dbeta, accumulateDx, accumulateParams);
    }

    /// <summary>
    /// Backward of batch norm fused with the ReLU after it (after <see cref="BatchNormReluForwardTraining"/>), from the ReLU's
    /// output gradient dz: BatchNormBackward of g = dz·[y &gt; 0], where y = (x − μ)·scale + β is recomputed from x with the
    /// forward's saved scale while the statistics pass reads dz, so z is not read. g is left in dz (as the separate ReLU
    /// backward in place would leave it) and the dx pass reads it there. Bit for bit ReLU backward then
    /// <see cref="BatchNormBackward"/>. dx may alias dz.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="BatchNormBackward"/>, or dz is not one <see cref="FusesBatchNormRelu"/> takes.</exception>
    internal void BatchNormReluBackward(Tensor x, Tensor dz, Tensor gamma, Tensor beta, Tensor saveMean, Tensor saveInvStd, Tensor saveScale,
        Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams)
    {
        const string op = "BatchNormReluBackward";
        if (!FusesBatchNormRelu(dz)) ThrowHelper.Invalid(op, $"expected fp32 NCHW planes, got dz {dz.Shape} {dz.DType} {dz.Layout}");
        Backward(op, x, dz, gamma, beta, saveMean, saveInvStd, saveScale, dx, dgamma, dbeta, accumulateDx, accumulateParams);
    }

    /// <summary>The backward; with <paramref name="saveScale"/> and <paramref name="beta"/> (NCHW only) dy is ReLU's dz, masked on the fly.</summary>
    private unsafe void Backward(string op, Tensor x, Tensor dy, Tensor gamma, Tensor? beta, Tensor saveMean, Tensor saveInvStd, Tensor? saveScale,
        Tensor dx, Tensor dgamma, Tensor dbeta, bool accumulateDx, bool accumulateParams)
    {
        var g = CheckBatchNorm(op, x, "dy", dy, ("gamma", gamma), ("dgamma", dgamma), ("dbeta", dbeta), ("saveMean", saveMean), ("saveInvStd", saveInvStd));
        F32(op, "dx", dx);
        SameGeometry(op, "x", x, "dx", dx);
        if (saveScale is not null) { F32(op, "saveScale", saveScale); PerChannel(op, "saveScale", saveScale, g.C); F32(op, "beta", beta!); PerChannel(op, "beta", beta!, g.C); }
        long m = g.PerChannel;
        // Mean holds dγ and Variance dβ here; Sums the two row sums, MuF/Scale/Shift the coefficients cDy, cX, c0.
        var st = new BnStats(g.C);
        double* dGamma = st.Mean, dBeta = st.Variance;
        if (!g.ChannelsLast)
        {
            float* scale = saveScale is null ? null : (float*)saveScale.Pointer, shift = saveScale is null ? null : (float*)beta!.Pointer;
            CpuParallel.For(g.C, 3 * m, new BnBackwardPlanes(x, dy, gamma, saveMean, saveInvStd, dx, g, accumulateDx, dGamma, dBeta, scale, shift));
        }
        else
        {
            float* mu = (float*)saveMean.Pointer;
            CpuReduce.Rows(g, st.Sums, 2, new BnRows(x, dy, g, mu, BnRows.Pass.GradientTerms));
            float* cDy = st.MuF, cX = st.Scale, k0 = st.Shift;
            for (int c = 0; c < g.C; c++)
            {
                double invstd = saveInvStd.AsSpan<float>()[c];
                dBeta[c] = st.Sums[c];
                dGamma[c] = st.Sums[g.C + c] * invstd;
                (cDy[c], cX[c], k0[c]) = BackwardCoefficients(gamma.AsSpan<float>()[c], invstd, dBeta[c], dGamma[c], m);
            }
            CpuParallel.For(g.Rows, 4L * g.C, new BnBackwardRows(x, dy, dx, g, accumulateDx, mu, cDy, cX, k0));
        }
        Span<float> dgs = dgamma.AsSpan<float>(), dbs = dbeta.AsSpan<float>();
        for (int c = 0; c < g.C; c++)
        {
            dgs[c] = (float)(accumulateParams ? dgs[c] + dGamma[c] : dGamma[c]);
            dbs[c] = (float)(accumulateParams ? dbs[c] + dBeta[c] : dBeta[c]);
        }
    }

    /// <summary>Backward over NCHW channels [c0, c1): each channel's two sums, then its dx planes.</summary>
    /// <remarks>With <paramref name="reluScale"/> and <paramref name="reluShift"/> (the forward's scale and β) dy is ReLU's dz, masked where y ≤ 0 (in place) by the summing pass.</remarks>
    private readonly unsafe struct BnBackwardPlanes(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
        ChannelGeometry g, bool accumulateDx, double* dGamma, double* dBeta, float* reluScale, float* reluShift) : IRangeBody
    {
        public void Run(int c0, int c1)
        {
            ReadOnlySpan<float> xs = x.AsSpan<float>(), gs = dy.AsSpan<float>();
            Span<float> ds = dx.AsSpan<float>();
            long m = g.PerChannel;
            for (int c = c0; c < c1; c++)
            {
                float mu = saveMean.AsSpan<float>()[c];
                double invstd = saveInvStd.AsSpan<float>()[c], sumDy = 0, sumDyXc = 0;
                bool relu = reluScale != null;
                float a = relu ? reluScale[c] : 0f, b = relu ? reluShift[c] : 0f;
                for (int n = 0; n < g.N; n++)
                {
                    double s1, s2;
                    if (relu) CpuKernels.SumReluGradientTerms(Plane(xs, g, n, c), Plane(dy.AsSpan<float>(), g, n, c), mu, a, b, out s1, out s2);
                    else CpuKernels.SumGradientTerms(Plane(xs, g, n, c), Plane(gs, g, n, c), mu, out s1, out s2);
                    sumDy += s1; sumDyXc += s2;
                }
                var (cDy, cX, k0) = BackwardCoefficients(gamma.AsSpan<float>()[c], invstd, sumDy, sumDyXc * invstd, m);
                for (int n = 0; n < g.N; n++)
                {
                    CpuKernels.BatchNormBackwardPlane(Plane(xs, g, n, c), Plane(gs, g, n, c), mu, cDy, cX, k0, Plane(ds, g, n, c), accumulateDx);
                }
                dBeta[c] = sumDy;
                dGamma[c] = sumDyXc * invstd;
            }
        }
    }

    /// <summary>dx over channels-last rows from the per-channel coefficients.</summary>
    private readonly unsafe struct BnBackwardRows(Tensor x, Tensor dy, Tensor dx, ChannelGeometry g, bool accumulateDx,
        float* mean, float* cDy, float* cX, float* k0) : IRangeBody
    {
        public void Run(int r0, int r1)
        {
            ReadOnlySpan<float> xs = x.AsSpan<float>(), gs = dy.AsSpan<float>();
            Span<float> ds = dx.AsSpan<float>();
            ReadOnlySpan<float> mu = new(mean, g.C), a = new(cDy, g.C), b = new(cX, g.C), c = new(k0, g.C);
            for (int r = r0; r < r1; r++) CpuKernels.BatchNormBackwardRow(Row(xs, g, r), Row(gs, g, r), mu, a, b, c, Row(ds, g, r), accumulateDx);
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

using DeepTrain.Backends.Cpu;
using DeepTrain.Distributed;
using DeepTrain.Layers;
using DeepTrain.Tensors;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// Sync batch norm's math over ranks that are threads of this process (<see cref="ThreadedRanks"/>), each holding its
/// own slice of one batch, against one batch norm over the concatenated batch computed naively in double: forward y,
/// the saved statistics, the running statistics, and backward dx (the slice), dγ and dβ (summed over ranks, since the
/// gradient buckets average them). Unequal per-rank batches, both layouts, accumulation.
/// </summary>
public sealed class SyncBatchNormTests
{
    private const int C = 3, H = 5, W = 4;
    private const double Eps = 1e-5, Momentum = 0.1, FloatEps = 1.0 / (1 << 23);   // fp32's machine epsilon
    private static readonly float[] Gamma = [0.7f, -1.3f, 0.9f], Beta = [0.1f, -0.2f, 0.3f], Rm0 = [0.5f, -1f, 2f], Rv0 = [1.5f, 0.5f, 2f];
    // Channel 2's mean²/variance is 1.6e5·(40/0.1)² ≈ 6e5: Σx² − M·μ² in fp32 would keep no correct digit of its variance.
    private static readonly (double Mean, double Std)[] Channel = [(0, 1), (5, 2), (40, 0.05)];

    /// <summary>The concatenated batch (N, C, H, W) and the upstream gradient dy, seeded.</summary>
    private static (float[] X, float[] Dy) Batch(int n)
    {
        float[] x = TestData.Normal(1, n, C, H, W), dy = TestData.Normal(2, n, C, H, W);
        for (int i = 0; i < x.Length; i++)
        {
            var (mean, std) = Channel[i / (H * W) % C];
            x[i] = (float)(mean + std * x[i]);
        }
        return (x, dy);
    }

    /// <summary>One batch norm over the whole batch, in double (PyTorch's definitions; running variance unbiased).</summary>
    private static (double[] Y, double[] Mean, double[] InvStd, double[] Rm, double[] Rv, double[] Dx, double[] DGamma, double[] DBeta) Naive(float[] x, float[] dy, int n)
    {
        int s = H * W;
        long m = (long)n * s;
        double[] y = new double[x.Length], dx = new double[x.Length], mean = new double[C], inv = new double[C], rm = new double[C], rv = new double[C], dg = new double[C], db = new double[C];
        for (int c = 0; c < C; c++)
        {
            IEnumerable<int> At() => Enumerable.Range(0, n).SelectMany(b => Enumerable.Range((b * C + c) * s, s));
            double mu = At().Sum(i => (double)x[i]) / m;
            double var = At().Sum(i => (x[i] - mu) * (x[i] - mu)) / m;
            (mean[c], inv[c]) = (mu, 1 / Math.Sqrt(var + Eps));
            rm[c] = (1 - Momentum) * Rm0[c] + Momentum * mu;
            rv[c] = (1 - Momentum) * Rv0[c] + Momentum * var * m / (m - 1);
            foreach (int i in At()) y[i] = Gamma[c] * (x[i] - mu) * inv[c] + Beta[c];
            db[c] = At().Sum(i => (double)dy[i]);
            dg[c] = At().Sum(i => dy[i] * (x[i] - mu) * inv[c]);
            foreach (int i in At()) dx[i] = Gamma[c] * inv[c] * (dy[i] - db[c] / m - (x[i] - mu) * inv[c] * dg[c] / m);
        }
        return (y, mean, inv, rm, rv, dx, dg, db);
    }

    /// <summary>What one rank computed, read back in NCHW order.</summary>
    private sealed record RankResult(float[] Y, float[] Mean, float[] InvStd, float[] Rm, float[] Rv, float[] Dx, float[] DGamma, float[] DBeta, long Exchanges);

    /// <summary>Rank <paramref name="rank"/>'s forward and backward on samples [offset, offset + n) of the batch.</summary>
    private static RankResult RunRank(ICollectives ranks, int rank, float[] x, float[] dy, int offset, int n, Layout layout, bool accumulate)
    {
        using var backend = new CpuBackend();
        using var sync = new SyncBatchNorm(backend, ranks);
        var layer = BatchNorm2d.Create(C, Eps, Momentum);
        layer.Name = $"bn (rank {rank})";
        var shape = Shape.Of(n, C, H, W);
        int len = n * C * H * W, at = offset * C * H * W;
        var owned = new List<Tensor>();
        Tensor Make(ReadOnlySpan<float> values, Shape s, Layout l)
        {
            var nchw = Tensor.FromArray(values, s);
            owned.Add(nchw);
            if (l == Layout.NCHW) return nchw;
            var t = Tensor.Create(s, DType.Float32, l);
            owned.Add(t);
            backend.Copy(nchw, t);
            return t;
        }
        float[] Read(Tensor t)
        {
            if (t.Layout == Layout.NCHW) return t.ToArray();
            using var nchw = Tensor.Create(t.Shape);
            backend.Copy(t, nchw);
            return nchw.ToArray();
        }
        var prior = Enumerable.Range(0, len).Select(i => 0.25f * (i % 7)).ToArray();   // what accumulation adds to
        var priorParams = new float[] { 0.5f, -0.5f, 1f };
        Tensor xt = Make(x.AsSpan(at, len), shape, layout), dyt = Make(dy.AsSpan(at, len), shape, layout);
        Tensor y = Make(new float[len], shape, layout), dx = Make(accumulate ? prior : new float[len], shape, layout);
        Tensor gamma = Make(Gamma, Shape.Of(C), Layout.NCHW), beta = Make(Beta, Shape.Of(C), Layout.NCHW);
        Tensor rm = Make(Rm0, Shape.Of(C), Layout.NCHW), rv = Make(Rv0, Shape.Of(C), Layout.NCHW);
        Tensor mean = Make(new float[C], Shape.Of(C), Layout.NCHW), inv = Make(new float[C], Shape.Of(C), Layout.NCHW);
        Tensor dg = Make(accumulate ? priorParams : new float[C], Shape.Of(C), Layout.NCHW), db = Make(accumulate ? priorParams : new float[C], Shape.Of(C), Layout.NCHW);
        var state = new ExecutionState { Training = true, AccumulateParamGrads = accumulate, SyncBatchNorm = sync };
        var step = new Step(backend, state, layer, 0)
        {
            Inputs = [xt], Output = y, OutputGrad = dyt, InputGrads = [dx], AccumulateInputGrads = [accumulate],
            Params = [gamma, beta], Grads = [dg, db], Buffers = [rm, rv], Aux = [mean, inv],
        };
        layer.Forward(step);
        layer.Backward(step);
        var result = new RankResult(Read(y), mean.ToArray(), inv.ToArray(), rm.ToArray(), rv.ToArray(), Read(dx), dg.ToArray(), db.ToArray(), sync.Exchanges);
        if (accumulate)
        {
            for (int i = 0; i < len; i++) result.Dx[i] -= prior[i];
            for (int c = 0; c < C; c++) { result.DGamma[c] -= priorParams[c]; result.DBeta[c] -= priorParams[c]; }
        }
        foreach (var t in owned) t.Dispose();
        return result;
    }

    [Theory]
    [InlineData(new[] { 2, 3 }, Layout.NCHW, false)]
    [InlineData(new[] { 2, 3 }, Layout.NHWC, false)]
    [InlineData(new[] { 1, 3, 2 }, Layout.NCHW, true)]
    [InlineData(new[] { 3, 3 }, Layout.NHWC, true)]
    public void Ranks_ComputeOneBatchNormOverTheConcatenatedBatch(int[] counts, Layout layout, bool accumulate)
    {
        int n = counts.Sum(), s = H * W;
        var (x, dy) = Batch(n);
        var want = Naive(x, dy, n);
        var ranks = new ThreadedRanks(counts.Length);
        var results = new RankResult[counts.Length];
        ranks.Run(r => results[r] = RunRank(ranks[r], r, x, dy, counts.Take(r).Sum(), counts[r], layout, accumulate));

        for (int r = 0; r < counts.Length; r++)
        {
            var got = results[r];
            Assert.Equal(2, got.Exchanges);   // one exchange forward, one backward
            // Identical on every rank, bit for bit: each combined the same exchanged values in the same order.
            Assert.Equal(results[0].Mean, got.Mean);
            Assert.Equal(results[0].InvStd, got.InvStd);
            Assert.Equal(results[0].Rm, got.Rm);
            Assert.Equal(results[0].Rv, got.Rv);
            int offset = counts.Take(r).Sum() * C * s;
            for (int c = 0; c < C; c++)
            {
                // fp32 evaluates x − μ with μ rounded to fp32, as the single-process backend does: x̂ is off by up to
                // δ = ulp(μ)·invstd (8e-5 for channel 2, whose |μ|/σ is 800). Each rank's μ_r also travels as fp32, which
                // puts a relative error of about ε·(|μ|/σ)/√m_r, below δ, on the variance. On top: a few fp32 roundings.
                float mu = (float)Math.Abs(want.Mean[c]);
                double ulp = MathF.BitIncrement(mu) - mu, a = Math.Abs(Gamma[c]) * want.InvStd[c], delta = ulp * want.InvStd[c];
                int[] at = Enumerable.Range(0, counts[r]).SelectMany(b => Enumerable.Range((b * C + c) * s, s)).ToArray();
                double yTerms = at.Max(i => a * Math.Abs(x[offset + i] - want.Mean[c]) + Math.Abs(Beta[c]));
                Tolerance.AssertClose(at.Select(i => want.Y[offset + i]).ToArray(), at.Select(i => got.Y[i]).ToArray(), (4 * FloatEps + 2 * delta) * yTerms, 0, $"rank {r} y, channel {c}");
                // dx = a·dy + cX·(x − μ) + c0 in fp32: a few roundings of its largest terms, and δ on the terms x̂ enters.
                double m = n * s, cX = a * want.InvStd[c] * Math.Abs(want.DGamma[c]) / m, c0 = a * Math.Abs(want.DBeta[c]) / m;
                double terms = at.Max(i => a * Math.Abs(dy[offset + i]) + cX * Math.Abs(x[offset + i] - want.Mean[c]) + c0);
                Tolerance.AssertClose(at.Select(i => want.Dx[offset + i]).ToArray(), at.Select(i => got.Dx[i]).ToArray(), (4 * FloatEps + 2 * delta) * terms, 0, $"rank {r} dx, channel {c}");
            }
            Tolerance.AssertClose(want.Mean, got.Mean, 1e-6, 1e-6, $"rank {r} saved mean");
            Tolerance.AssertClose(want.InvStd, got.InvStd, 0, 1e-5, $"rank {r} saved 1/std (the variance, to 2e-5)");
            Tolerance.AssertClose(want.Rm, got.Rm, 1e-6, 1e-6, $"rank {r} running mean");
            Tolerance.AssertClose(want.Rv, got.Rv, 0, 1e-5, $"rank {r} running variance (unbiased over all ranks' values)");
        }
        // dγ and dβ: each rank holds its share; their sum is the whole batch's (the buckets then average over ranks).
        var dg = Enumerable.Range(0, C).Select(c => results.Sum(q => (double)q.DGamma[c])).ToArray();
        var db = Enumerable.Range(0, C).Select(c => results.Sum(q => (double)q.DBeta[c])).ToArray();
        Tolerance.AssertClose(want.DBeta, db, 1e-5, 1e-5, "Σ ranks' dβ");
        // Σ dy·x̂ carries x̂'s fp32 error (μ rounded to fp32, ~1e-4 for channel 2) once per value: allow that times Σ|dy|.
        double sumAbsDy = dy.Sum(v => Math.Abs((double)v)) / C;
        Tolerance.AssertClose(want.DGamma, dg, 2e-5 * sumAbsDy, 1e-5, "Σ ranks' dγ");
    }

    /// <summary>Evaluation (and any plan not in training) normalises with the running statistics and exchanges nothing.</summary>
    [Fact]
    public void Evaluation_UsesRunningStatistics_WithoutExchanging()
    {
        using var backend = new CpuBackend();
        var ranks = new ThreadedRanks(1);
        using var sync = new SyncBatchNorm(backend, ranks[0]);
        var layer = BatchNorm2d.Create(C, Eps, Momentum);
        var (x, _) = Batch(2);
        var shape = Shape.Of(2, C, H, W);
        using Tensor xt = Tensor.FromArray(x, shape), y = Tensor.Create(shape), gamma = Tensor.FromArray(Gamma, Shape.Of(C)), beta = Tensor.FromArray(Beta, Shape.Of(C));
        using Tensor rm = Tensor.FromArray(Rm0, Shape.Of(C)), rv = Tensor.FromArray(Rv0, Shape.Of(C));
        var step = new Step(backend, new ExecutionState { Training = false, SyncBatchNorm = sync }, layer, 0)
        {
            Inputs = [xt], Output = y, InputGrads = [null], AccumulateInputGrads = [false], Params = [gamma, beta], Buffers = [rm, rv], Aux = [],
        };
        layer.Forward(step);
        Assert.Equal(0, sync.Exchanges);
        var want = x.Select((v, i) => { int c = i / (H * W) % C; return Gamma[c] * (v - Rm0[c]) / Math.Sqrt(Rv0[c] + Eps) + Beta[c]; }).ToArray();
        Tolerance.AssertClose(want, y.ToArray(), 1e-4, 1e-5, "evaluation y");
    }
}

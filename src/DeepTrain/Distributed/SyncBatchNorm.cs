using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Distributed;

/// <summary>
/// PyTorch's <c>SyncBatchNorm</c> over the ranks of a data-parallel job: in training, every batch norm normalises with
/// the statistics of all ranks' batches together, and its backward gives each rank the data gradient of that global
/// batch. Per channel c, with rank r holding m_r values (M = Σ m_r):
/// <code>
/// forward:  μ = Σ_r m_r·μ_r / M,  σ² = M2 / M  (M2 combined from each rank's (m_r, μ_r, M2_r), Chan et al. 1979)
///           y = γ·(x − μ)/√(σ² + ε) + β;  running ← (1 − m)·running + m·(μ, σ²·M/(M − 1))   (unbiased, as PyTorch)
/// backward: S1 = Σ_all dy,  S2 = Σ_all dy·x̂   (each rank's sums, added over ranks)
///           dx = γ/√(σ² + ε)·(dy − S1/M − x̂·S2/M);  dγ, dβ = this rank's Σ dy·x̂, Σ dy
/// </code>
/// dγ and dβ stay this rank's share: the gradient buckets then average them over ranks like every other parameter,
/// as DDP does with SyncBatchNorm. The sums use each rank's dy as given (the gradient of its own mean loss), so dx is
/// exactly the slice of one batch norm's backward over the concatenated batch fed the same dy, for any m_r.
/// <para>
/// Numerics: the forward exchanges (count, mean, M2) rather than Σx and Σx², which in fp32 lose every digit of the
/// variance once mean²/variance nears 10^7 (Σx² − M·μ² cancels); the pairwise combination is exact in exact arithmetic
/// and is what PyTorch's <c>batch_norm_gather_stats_with_counts</c> does. Each rank's (μ_r, σ²_r) come from the backend's
/// own training forward (two-pass on the CPU, cuDNN on the GPU), so unequal counts weigh correctly by construction.
/// The exchange is an all-gather made of a sum — rank r writes slot r of a zeroed buffer of N slots, and x + 0 = x
/// exactly — so every rank combines bit-identical inputs in rank order in double: the global statistics, and with them
/// the running statistics, are identical on every rank whatever order MPI adds in. It costs N·(2C + 1) doubles per
/// layer and direction (N·C·16 bytes: 2 KB for 2 ranks at C = 64, 2 MB for 64 ranks at C = 2048).
/// </para>
/// <para>
/// Built only from operations every backend already has (and that are checked CUDA against CPU), so the GPU runs the same
/// code: the local statistics are a training forward into scratch running buffers; the normalisation with the global
/// statistics is an inference forward, whose per-channel affine form (x − mean)·scale + shift also evaluates backward's
/// dx = a·dy + c0 + cX·(x − μ) (a = γ·invstd, c0 = −a·S1/M, cX = −a·invstd·S2/M) as two passes and an add: the same
/// terms the backends' own backward rounds, so no precision is lost to cancellation (correcting the backend's
/// local-count dx by the difference of local and global sums instead loses up to |S1_r/m_r − S1/M|/|dx| of it, which
/// a ResNet-20 test saw grow to 3e-5 of dx in one step). The rank's sums come from the backend's backward, whose own dx
/// goes to scratch. On the CPU this is about twice the memory traffic of a plain batch norm; on a GPU the per-channel
/// vectors travel through the host (a few small synchronous copies per layer and direction): correct, slower than
/// PyTorch's device-side kernels, and not yet run.
/// </para>
/// </summary>
internal sealed class SyncBatchNorm(IBackend backend, ICollectives collectives) : ISyncBatchNorm, IDisposable
{
    // Per-channel device scratch vectors (C floats each).
    private const int RunningMean = 0, RunningVar = 1, Variance = 2, ScaleDy = 3, ShiftDy = 4, ScaleX = 5, Zero = 6, One = 7, DGamma = 8, DBeta = 9, Vectors = 10;
    private DeviceBuffer? _channels;
    private int _channelCapacity;
    private readonly Dictionary<int, Tensor[]> _views = [];   // the vectors' views per channel count
    private DeviceBuffer? _scratch;                           // two tensors shaped like dx, for backward's passes
    private long _scratchBytes;
    private double[] _exchange = [];
    private float[] _h0 = [], _h1 = [], _h2 = [], _h3 = [], _h4 = [];

    /// <summary>Exchanges (all-reduces) made so far, forward and backward (tests count them).</summary>
    public long Exchanges { get; private set; }

    /// <inheritdoc />
    public void Forward(Step s, BatchNorm layer)
    {
        Tensor x = s.In(0), saveMean = s.SavedAux(0), saveInvStd = s.SavedAux(1);
        int c = layer.Channels;
        long m = x.Elements / c;
        var v = Channels(c);
        // 1. This rank's μ_r and 1/√(σ²_r + ε), from the backend's training forward (running buffers: scratch).
        backend.BatchNormForwardTraining(x, s.Param(0), s.Param(1), s.Out(), v[RunningMean], v[RunningVar], saveMean, saveInvStd, 0, layer.Eps);
        Span<float> mean = Host(ref _h0, c), inv = Host(ref _h1, c), rm = Host(ref _h2, c), rv = Host(ref _h3, c), variances = Host(ref _h4, c);
        backend.CopyToHost(saveMean, mean);
        backend.CopyToHost(saveInvStd, inv);
        var slot = Slot(c, m);
        for (int k = 0; k < c; k++)
        {
            slot[1 + k] = mean[k];
            slot[1 + c + k] = m * Math.Max(1.0 / ((double)inv[k] * inv[k]) - layer.Eps, 0);   // M2_r = m_r·σ²_r
        }
        var ex = Exchange(c);
        long total = TotalCount(ex, c);
        if (total < 2) throw new ArgumentException($"{layer}: sync batch norm needs more than 1 value per channel over all ranks, got {total}");
        // 2. The global statistics, combined in rank order (Chan et al.: exact for any counts), and the running update.
        backend.CopyToHost(s.Buffer(0), rm);
        backend.CopyToHost(s.Buffer(1), rv);
        double momentum = layer.Momentum, unbias = (double)total / (total - 1);
        int stride = 2 * c + 1;
        for (int k = 0; k < c; k++)
        {
            double n = 0, mu = 0, m2 = 0;
            for (int r = 0; r < collectives.Size; r++)
            {
                double nr = ex[r * stride];
                if (nr == 0) continue;
                double d = ex[r * stride + 1 + k] - mu, n1 = n + nr;
                mu += d * nr / n1;
                m2 += ex[r * stride + 1 + c + k] + d * d * n * nr / n1;
                n = n1;
            }
            double variance = m2 / n;
            rm[k] = (float)((1 - momentum) * rm[k] + momentum * mu);          // the backends' own running update
            rv[k] = (float)((1 - momentum) * rv[k] + momentum * variance * unbias);
            mean[k] = (float)mu;
            inv[k] = (float)(1.0 / Math.Sqrt(variance + layer.Eps));
            variances[k] = (float)variance;
        }
        backend.CopyFromHost<float>(rm, s.Buffer(0));
        backend.CopyFromHost<float>(rv, s.Buffer(1));
        backend.CopyFromHost<float>(mean, saveMean);
        backend.CopyFromHost<float>(inv, saveInvStd);
        backend.CopyFromHost<float>(variances, v[Variance]);
        // 3. y with the global statistics, in the inference form y = γ·(x − μ)/√(σ² + ε) + β.
        backend.BatchNormForwardInference(x, s.Param(0), s.Param(1), s.Out(), saveMean, v[Variance], layer.Eps);
    }

    /// <inheritdoc />
    public void Backward(Step s, BatchNorm layer)
    {
        Tensor x = s.In(0), dy = s.GradOut(), dx = s.GradIn(0)!, saveMean = s.SavedAux(0), saveInvStd = s.SavedAux(1);
        int c = layer.Channels;
        long m = x.Elements / c;
        var v = Channels(c);
        var (a, b) = Scratch(dx);
        // 1. This rank's sums S1_r = Σ dy and S2_r = Σ dy·x̂ (with the global μ and invstd), from the backend's backward
        //    (its dx, divided by this rank's count, goes to scratch). They are also this rank's dβ and dγ.
        backend.BatchNormBackward(x, dy, s.Param(0), saveMean, saveInvStd, layer.Eps, a, v[DGamma], v[DBeta], false, false);
        if (s.AccumulateParamGrads) { backend.Add(s.Grad(0), v[DGamma], s.Grad(0)); backend.Add(s.Grad(1), v[DBeta], s.Grad(1)); }
        else { backend.Copy(v[DGamma], s.Grad(0)); backend.Copy(v[DBeta], s.Grad(1)); }
        Span<float> s2 = Host(ref _h0, c), s1 = Host(ref _h1, c), gamma = Host(ref _h2, c), inv = Host(ref _h3, c), unit = Host(ref _h4, c);
        backend.CopyToHost(v[DGamma], s2);
        backend.CopyToHost(v[DBeta], s1);
        var slot = Slot(c, m);
        for (int k = 0; k < c; k++) { slot[1 + k] = s1[k]; slot[1 + c + k] = s2[k]; }
        var ex = Exchange(c);
        long total = TotalCount(ex, c);
        backend.CopyToHost(s.Param(0), gamma);
        backend.CopyToHost(saveInvStd, inv);
        // 2. dx = a·dy + c0 + cX·(x − μ) with the global sums, as two inference-form passes (x − mean)·scale + shift: the
        //    scale an inference pass applies is γ'/√(σ'² + ε), so σ'² = 1 − ε (√ ≈ 1) and γ' carries the exact factor.
        int stride = 2 * c + 1;
        float one = (float)Math.Max(1 - layer.Eps, 0);
        double unitScale = Math.Sqrt(one + layer.Eps);
        for (int k = 0; k < c; k++)
        {
            double g1 = 0, g2 = 0;
            for (int r = 0; r < collectives.Size; r++) { g1 += ex[r * stride + 1 + k]; g2 += ex[r * stride + 1 + c + k]; }
            double scale = (double)gamma[k] * inv[k];
            gamma[k] = (float)(scale * unitScale);                         // a, for dy
            s1[k] = (float)(-scale * g1 / total);                           // c0
            s2[k] = (float)(-scale * inv[k] * g2 / total * unitScale);      // cX, for x − μ
            unit[k] = one;
        }
        backend.CopyFromHost<float>(gamma, v[ScaleDy]);
        backend.CopyFromHost<float>(s1, v[ShiftDy]);
        backend.CopyFromHost<float>(s2, v[ScaleX]);
        backend.CopyFromHost<float>(unit, v[One]);
        backend.Fill(v[Zero], 0f);
        backend.BatchNormForwardInference(dy, v[ScaleDy], v[ShiftDy], a, v[Zero], v[One], layer.Eps);   // a·dy + c0
        if (s.AccumulateGradIn(0))
        {
            backend.BatchNormForwardInference(x, v[ScaleX], v[Zero], b, saveMean, v[One], layer.Eps);
            backend.Add(dx, a, dx);
            backend.Add(dx, b, dx);
        }
        else
        {
            // dx may share dy's memory: dy has been read.
            backend.BatchNormForwardInference(x, v[ScaleX], v[Zero], dx, saveMean, v[One], layer.Eps);
            backend.Add(a, dx, dx);
        }
    }

    /// <summary>Zeroes the exchange buffer for <paramref name="c"/> channels and returns this rank's slot, its count set.</summary>
    private Span<double> Slot(int c, long count)
    {
        int stride = 2 * c + 1, n = collectives.Size * stride;
        if (_exchange.Length < n) _exchange = new double[n];
        Array.Clear(_exchange, 0, n);
        var slot = _exchange.AsSpan(collectives.Rank * stride, stride);
        slot[0] = count;
        return slot;
    }

    /// <summary>The all-gather of every rank's slot, as a sum over ranks of the zero-padded buffer.</summary>
    private double[] Exchange(int c)
    {
        collectives.AllReduceSum(_exchange.AsSpan(0, collectives.Size * (2 * c + 1)));
        Exchanges++;
        return _exchange;
    }

    private long TotalCount(double[] ex, int c)
    {
        double total = 0;
        for (int r = 0; r < collectives.Size; r++) total += ex[r * (2 * c + 1)];
        return (long)total;
    }

    /// <summary>The per-channel scratch vectors for <paramref name="c"/> channels.</summary>
    private Tensor[] Channels(int c)
    {
        if (_channels is null || _channelCapacity < c)
        {
            _channels?.Dispose();
            _channels = backend.Allocate((long)Vectors * c * sizeof(float));
            _channelCapacity = c;
            _views.Clear();
        }
        if (!_views.TryGetValue(c, out var t))
        {
            t = new Tensor[Vectors];
            for (int i = 0; i < Vectors; i++) t[i] = new Tensor(_channels, (long)i * _channelCapacity * sizeof(float), Shape.Of(c));
            _views[c] = t;
        }
        return t;
    }

    /// <summary>Two scratch tensors shaped like <paramref name="dx"/>, for backward's passes.</summary>
    private (Tensor A, Tensor B) Scratch(Tensor dx)
    {
        long bytes = dx.Elements * dx.DType.Size(), aligned = (bytes + 255) / 256 * 256;
        if (_scratch is null || _scratchBytes < aligned)
        {
            _scratch?.Dispose();
            _scratch = backend.Allocate(2 * aligned);
            _scratchBytes = aligned;
        }
        return (new Tensor(_scratch, 0, dx.Shape, dx.DType, dx.Layout), new Tensor(_scratch, _scratchBytes, dx.Shape, dx.DType, dx.Layout));
    }

    /// <summary>A host vector of <paramref name="c"/> floats, grown once and reused.</summary>
    private static Span<float> Host(ref float[] a, int c)
    {
        if (a.Length < c) a = new float[c];
        return a.AsSpan(0, c);
    }

    public void Dispose()
    {
        _channels?.Dispose();
        _scratch?.Dispose();
    }
}

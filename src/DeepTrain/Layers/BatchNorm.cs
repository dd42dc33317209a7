using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// Batch normalisation (Ioffe and Szegedy 2015), torch.nn.BatchNorm2d over (N, C, H, W) and
/// BatchNorm1d over (N, C): per channel, y = γ·(x − μ)/√(σ² + ε) + β. Training uses the batch's
/// statistics (biased variance) and updates running ← (1 − m)·running + m·batch with the unbiased
/// variance (m = 0.1); evaluation uses the running statistics. Statistics are kept in fp32.
/// In data-parallel training with sync batch norm (<c>DistributedOptions.SyncBatchNorm</c>), training statistics are
/// those of every rank's batch together (PyTorch's SyncBatchNorm; see <c>Distributed.SyncBatchNorm</c>).
/// </summary>
public sealed class BatchNorm : Layer
{
    private readonly IReadOnlyList<ParamSpec> _params;
    private readonly IReadOnlyList<BufferSpec> _buffers;
    private readonly int _rank;

    /// <summary>Creates a batch norm over <paramref name="channels"/> channels of a rank-<paramref name="rank"/> input.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public BatchNorm(int channels, int rank, double eps = 1e-5, double momentum = 0.1, bool affine = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        if (rank is not (2 or 4)) throw new ArgumentOutOfRangeException(nameof(rank), rank, "BatchNorm: rank must be 2 (BatchNorm1d) or 4 (BatchNorm2d)");
        if (!(eps > 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "BatchNorm: eps must be > 0");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "BatchNorm: momentum must be in [0, 1]");
        Channels = channels; Eps = eps; Momentum = momentum; Affine = affine; _rank = rank;
        // Without affine, γ = 1 and β = 0 still exist as tensors (the backend's interface needs them) but are frozen.
        _params = [new("weight", Shape.Of(channels), new Init.Constant(1f), 1, 1, Decay: false),
                   new("bias", Shape.Of(channels), new Init.Constant(0f), 1, 1, Decay: false)];
        _buffers = [new("running_mean", Shape.Of(channels), 0f), new("running_var", Shape.Of(channels), 1f)];
    }

    /// <summary>Channels C.</summary>
    public int Channels { get; }
    /// <summary>ε added to the variance.</summary>
    public double Eps { get; }
    /// <summary>Running-statistics momentum m (PyTorch's convention: the weight of the new batch).</summary>
    public double Momentum { get; set; }
    /// <summary>Whether γ and β are learned.</summary>
    public bool Affine { get; }

    /// <inheritdoc />
    public override string Kind => _rank == 4 ? "BatchNorm2d" : "BatchNorm1d";
    /// <inheritdoc />
    public override IReadOnlyList<ParamSpec> Parameters => _params;
    /// <inheritdoc />
    public override IReadOnlyList<BufferSpec> Buffers => _buffers;
    /// <inheritdoc />
    public override IReadOnlyList<Shape> AuxShapes(ReadOnlySpan<Shape> inputs) => [Shape.Of(Channels), Shape.Of(Channels)];

    /// <inheritdoc />
    public override bool RequiresInputGradient => true;

    /// <inheritdoc />
    public override Shape OutputShape(ReadOnlySpan<Shape> inputs)
    {
        ExpectRank(inputs, _rank);
        if (inputs[0].C != Channels) throw ShapeError($"input has {inputs[0].C} channels, expected {Channels} (input shape {inputs[0]})");
        return inputs[0];
    }

    /// <inheritdoc />
    public override void Forward(Step s)
    {
        if (s.Training && s.State.SyncBatchNorm is { } sync)
            sync.Forward(s, this);
        else if (s.FusionRuns)   // fused with the ReLU that alone reads y, which runs in place over it: write max(y, 0)
            ((Backends.Cpu.CpuBackend)s.Backend).BatchNormReluForwardTraining(s.In(0), s.Param(0), s.Param(1), s.Out(), s.Buffer(0), s.Buffer(1),
                s.SavedAux(0), s.SavedAux(1), s.SavedAux(2), Momentum, Eps);
        else if (s.Training)
            s.Backend.BatchNormForwardTraining(s.In(0), s.Param(0), s.Param(1), s.Out(), s.Buffer(0), s.Buffer(1), s.SavedAux(0), s.SavedAux(1), Momentum, Eps);
        else
            s.Backend.BatchNormForwardInference(s.In(0), s.Param(0), s.Param(1), s.Out(), s.Buffer(0), s.Buffer(1), Eps);
    }

    /// <inheritdoc />
    public override void Backward(Step s)
    {
        var dx = s.GradIn(0)!; // the planner gives the data a gradient buffer too (RequiresInputGradient)
        if (s.State.SyncBatchNorm is { } sync) sync.Backward(s, this);
        else if (s.FusionRuns)   // GradOut is the ReLU's dz (the two share a buffer); the backend masks it, recomputing y from x
            ((Backends.Cpu.CpuBackend)s.Backend).BatchNormReluBackward(s.In(0), s.GradOut(), s.Param(0), s.Param(1), s.SavedAux(0), s.SavedAux(1), s.SavedAux(2),
                dx, s.Grad(0), s.Grad(1), s.AccumulateGradIn(0), s.AccumulateParamGrads);
        else s.Backend.BatchNormBackward(s.In(0), s.GradOut(), s.Param(0), s.SavedAux(0), s.SavedAux(1), Eps, dx, s.Grad(0), s.Grad(1), s.AccumulateGradIn(0), s.AccumulateParamGrads);
        if (!Affine) { s.Backend.Fill(s.Grad(0), 0f); s.Backend.Fill(s.Grad(1), 0f); }
    }
}

/// <summary>torch.nn.BatchNorm2d: <see cref="BatchNorm"/> over (N, C, H, W).</summary>
public static class BatchNorm2d
{
    /// <summary>Creates a 2-D batch norm.</summary>
    public static BatchNorm Create(int channels, double eps = 1e-5, double momentum = 0.1, bool affine = true) => new(channels, 4, eps, momentum, affine);
}

/// <summary>torch.nn.BatchNorm1d: <see cref="BatchNorm"/> over (N, C).</summary>
public static class BatchNorm1d
{
    /// <summary>Creates a 1-D batch norm.</summary>
    public static BatchNorm Create(int features, double eps = 1e-5, double momentum = 0.1, bool affine = true) => new(features, 2, eps, momentum, affine);
}

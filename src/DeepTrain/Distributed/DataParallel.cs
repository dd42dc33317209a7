using DeepTrain.Mixed;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Distributed;

/// <summary>
/// What makes N ranks train as one: the same starting state (parameters and buffers broadcast from rank 0), gradients
/// averaged in buckets during backward (<see cref="GradientBuckets"/>), the loss scaler's found-inf flag combined so
/// every rank skips or steps together, running statistics averaged before evaluation and checkpoints, and sums of host
/// figures (evaluation counts) across ranks. The trainer calls it; nothing here runs in a single-process run.
/// </summary>
internal sealed class DataParallel : IDisposable
{
    private readonly Model _model;
    private readonly DistributedOptions _options;

    public DataParallel(Model model, ICollectives collectives, DistributedOptions options)
    {
        (_model, Collectives, _options) = (model, collectives, options);
        Buckets = new GradientBuckets(model, collectives, options);
    }

    /// <summary>The collectives.</summary>
    public ICollectives Collectives { get; }
    /// <summary>The gradient buckets.</summary>
    public GradientBuckets Buckets { get; }
    /// <summary>The rank.</summary>
    public int Rank => Collectives.Rank;
    /// <summary>The number of ranks.</summary>
    public int Size => Collectives.Size;

    /// <summary>
    /// Rank 0's parameters and buffers to every rank (DDP does this at construction), and its loss-scaler state when there
    /// is one; 16-bit working copies are refreshed from the received masters. Every rank seeds its initialisation alike,
    /// so this matters after <c>InitFrom</c>/<c>ResumeFrom</c> read files that could differ, and guards against any drift.
    /// </summary>
    public void BroadcastState(LossScaler? scaler)
    {
        Collectives.Broadcast(_model.Parameters.AllValues, root: 0);
        if (_model.Parameters.BufferFloats > 0) Collectives.Broadcast(_model.Parameters.AllBuffers, root: 0);
        if (scaler is not null) Collectives.Broadcast(scaler.State, root: 0);
        _model.Parameters.SyncWorkingCopy();
    }

    /// <summary>
    /// Running statistics made equal on every rank: each rank's batch norm saw only its shard, so the buffers are replaced
    /// by their mean over ranks (the mean of the per-rank running means is the running mean over the global batch; the
    /// running variance averaged this way omits the spread between the ranks' means, which is small for shards of one
    /// shuffled set). Called before every evaluation and checkpoint.
    /// </summary>
    public void AverageBuffers()
    {
        if (_model.Parameters.BufferFloats == 0) return;
        var all = _model.Parameters.AllBuffers;
        using (var r = Collectives.StartAllReduceSum(all)) r.Wait(_options.Timeout);
        _model.Backend.Axpby(1f / Size, all, 0f, all);
    }

    /// <summary>Any rank's found-inf flag raised on every rank (a maximum over ranks), after the unscale and before the
    /// optimizer reads it, so all ranks skip the step together and the scale stays identical.</summary>
    public void CombineFoundInf(Tensor scalerState)
    {
        var flag = new Tensor(scalerState.Buffer, scalerState.ByteOffset + LossScalerState.FoundInfOffset, Shape.Of(1), DType.Int32);
        Collectives.AllReduceMax(flag);
    }

    /// <summary>Sums host figures over ranks, in place.</summary>
    public void Sum(Span<double> values) => Collectives.AllReduceSum(values);

    public void Dispose() => Buckets.Dispose();
}

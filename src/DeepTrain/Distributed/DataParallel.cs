using DeepTrain.Mixed;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Distributed;

/// <summary>
/// What makes N ranks train as one: the same starting state (parameters and buffers broadcast from rank 0), gradients
/// averaged in buckets during backward (<see cref="GradientBuckets"/>), the loss scaler's found-inf flag combined so
/// every rank skips or steps together, batch norm over the global batch (<see cref="Distributed.SyncBatchNorm"/>) or running
/// statistics averaged before evaluation and checkpoints, the stop vote at every step boundary, and sums of host figures
/// (evaluation counts) across ranks. The trainer calls it; nothing here runs in a single-process run.
/// </summary>
internal sealed class DataParallel : IDisposable
{
    private readonly Model _model;
    private readonly DistributedOptions _options;

    public DataParallel(Model model, ICollectives collectives, DistributedOptions options)
    {
        (_model, Collectives, _options) = (model, collectives, options);
        Buckets = new GradientBuckets(model, collectives, options);
        if (options.SyncBatchNorm) SyncBatchNorm = new SyncBatchNorm(model.Backend, collectives);
    }

    /// <summary>Global-batch statistics for the training plan's batch norms (<see cref="DistributedOptions.SyncBatchNorm"/>), or null.</summary>
    public SyncBatchNorm? SyncBatchNorm { get; }

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
    /// shuffled set). Called before every evaluation and checkpoint. With sync batch norm the buffers are already the
    /// same on every rank, bit for bit (every rank combines the same exchanged statistics in the same order), and
    /// averaging would only round them (x·(1/3)·3 is not always x), so nothing is done.
    /// </summary>
    public void AverageBuffers()
    {
        if (_model.Parameters.BufferFloats == 0 || SyncBatchNorm is not null) return;
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

    /// <summary>
    /// The stop vote at a step boundary: how many ranks have been asked to stop (their cancellation token is set). Every
    /// rank calls it before every step and gets the same count, so a signal that reaches the ranks at slightly different
    /// moments (mpirun forwards it to each, a scheduler may signal one) still stops them all before the same step,
    /// instead of leaving the ones that went on waiting in an all-reduce. One sum of one double: a few microseconds over
    /// shared memory, and over MPI on the host even for NCCL jobs, so a GPU step does not wait for its device.
    /// </summary>
    public int CountStopping(bool stopping)
    {
        Span<double> vote = [stopping ? 1 : 0];
        Collectives.AllReduceSum(vote);
        return (int)vote[0];
    }

    public void Dispose()
    {
        Buckets.Dispose();
        SyncBatchNorm?.Dispose();
    }
}

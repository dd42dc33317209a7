using DeepTrain.Distributed;

namespace DeepTrain.Training;

/// <summary>The trainer's data-parallel part: nothing here runs unless <see cref="Distribute(ProcessGroup)"/> was called.</summary>
public sealed partial class Trainer
{
    private DataParallel? _parallel;

    /// <summary>The group this trainer trains with (null: a single process).</summary>
    public ProcessGroup? Group { get; private set; }

    /// <summary>
    /// Host time this rank's steps spent after backward finishing the gradient all-reduces (zero in a single process):
    /// the communication that backward did not hide. On a GPU the host only enqueues, so this stays near zero and the
    /// wait is on the device.
    /// </summary>
    public TimeSpan CommunicationWait => _parallel?.Buckets.WaitTime ?? TimeSpan.Zero;

    /// <summary>The data-parallel machinery (tests observe its buckets).</summary>
    internal DataParallel? Parallel => _parallel;

    /// <summary>
    /// Makes this trainer one of <paramref name="group"/>'s ranks (PyTorch's <c>DistributedDataParallel</c> wrapper): rank
    /// 0's parameters, buffers and loss-scaler state are broadcast now (call it after loading any checkpoint), every step's
    /// gradients are averaged across ranks in buckets that overlap backward, and the loss scaler's found-inf flag is combined
    /// across ranks; with <see cref="DistributedOptions.SyncBatchNorm"/> batch norm uses the statistics of all ranks'
    /// batches, and at every step boundary the ranks agree whether any of them was cancelled (<see cref="TrainEpoch"/>'s
    /// token), so that all stop before the same step. Each rank must feed its own shard of the data (a <see cref="Data.DataLoader"/> with a
    /// <see cref="Data.DatasetShard"/>); with per-rank batch b, a step is one step of batch b·N.
    /// </summary>
    /// <param name="group">The ranks; every rank calls this with the same model.</param>
    /// <exception cref="ArgumentNullException">group is null.</exception>
    /// <exception cref="InvalidOperationException">Already distributed.</exception>
    /// <exception cref="CollectiveTimeoutException">Another rank did not join within the timeout.</exception>
    public void Distribute(ProcessGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        Distribute(group.CollectivesFor(_model.Backend), group.Options);
        Group = group;
    }

    /// <summary><see cref="Distribute(ProcessGroup)"/> over any collectives (tests, benchmarks).</summary>
    internal void Distribute(ICollectives collectives, DistributedOptions options)
    {
        if (_parallel is not null) throw new InvalidOperationException("Trainer.Distribute: this trainer is already distributed");
        _parallel = new DataParallel(_model, collectives, options);
        _parallel.BroadcastState(Scaler);
        _train.State.SyncBatchNorm = _parallel.SyncBatchNorm;   // the training plan only: evaluation uses running statistics
    }

    /// <summary>
    /// The check at the top of every step: in one process, whether <paramref name="cancel"/> is set; across ranks, whether
    /// any rank's is (<see cref="DataParallel.CountStopping"/>), so all stop before the same step. A rank stopped by
    /// another's signal throws an <see cref="OperationCanceledException"/> that says so.
    /// </summary>
    private void StopIfAnyRankCancelled(CancellationToken cancel)
    {
        if (_parallel is null) { cancel.ThrowIfCancellationRequested(); return; }
        int stopping = _parallel.CountStopping(cancel.IsCancellationRequested);
        if (stopping == 0) return;
        cancel.ThrowIfCancellationRequested();
        throw new OperationCanceledException(
            $"rank {_parallel.Rank} of {_parallel.Size}: stopping before step {GlobalStep + 1} with the other ranks, {stopping} of which were cancelled");
    }

    /// <summary>Before a micro-batch's backward: the last one of a step (gradients final) reduces them in buckets; the
    /// others accumulate locally, as DDP's <c>no_sync</c>.</summary>
    private void ArmGradientBuckets(bool last)
    {
        if (_parallel is null) return;
        if (last)
        {
            _parallel.Buckets.Begin();
            _train.AfterBackwardStep = _parallel.Buckets.OnBackwardStep;
        }
        else _train.AfterBackwardStep = null;
    }
}

namespace DeepTrain.Distributed;

/// <summary>How data-parallel training reduces gradients and fails (PyTorch DDP's <c>bucket_cap_mb</c> and NCCL's timeout).</summary>
public sealed record DistributedOptions
{
    /// <summary>The default bucket: 25 MiB, DDP's <c>bucket_cap_mb</c>.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    /// <summary>Gradient bytes per all-reduce bucket. Buckets are filled in reverse layer order, so the first one is final
    /// early in backward; a parameter larger than this gets a bucket of its own.</summary>
    public long BucketBytes { get; init; } = DefaultBucketBytes;

    /// <summary>Start each bucket's all-reduce as soon as its gradients are final during backward (true, DDP's way) or
    /// only after backward (false: no overlap, for measuring what overlap saves).</summary>
    public bool OverlapWithBackward { get; init; } = true;

    /// <summary>
    /// Batch norm over the global batch (PyTorch's <c>SyncBatchNorm</c>, true): in training every batch norm normalises with
    /// the mean and variance of all ranks' samples together, and its backward is that of the global batch, so N ranks of
    /// batch b compute what one process of batch N·b would; the running statistics are then identical on every rank by
    /// construction. False (the default, as DDP): each rank normalises over its own b samples, and the running statistics
    /// are averaged over ranks before every evaluation and checkpoint. Costs one small exchange per batch norm in forward
    /// and one in backward. Evaluation never exchanges anything (it uses the running statistics).
    /// </summary>
    public bool SyncBatchNorm { get; init; }

    /// <summary>How long any collective may wait for the other ranks before <see cref="CollectiveTimeoutException"/>.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>When a rank fails during a <see cref="Training.TrainingRun"/> (an exception, bad input, a timeout), report the
    /// rank and the cause on standard error and abort the whole job (<c>MPI_Abort</c>), so no rank waits forever (true);
    /// false rethrows on this rank only, leaving the job to the caller.</summary>
    public bool AbortOnFailure { get; init; } = true;

    /// <summary>Checks the values, naming the property.</summary>
    /// <exception cref="ArgumentOutOfRangeException">BucketBytes is below 4 or Timeout is not positive.</exception>
    public void Validate()
    {
        if (BucketBytes < sizeof(float)) throw new ArgumentOutOfRangeException(nameof(BucketBytes), BucketBytes, $"DistributedOptions.BucketBytes must be ≥ {sizeof(float)}, got {BucketBytes}");
        if (Timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, $"DistributedOptions.Timeout must be positive, got {Timeout}");
    }
}

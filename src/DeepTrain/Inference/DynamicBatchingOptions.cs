namespace DeepTrain.Inference;

/// <summary>
/// Dynamic batching (as Triton's dynamic batcher): requests that arrive while a batch is forming are run together in one
/// forward pass, and each caller gets its own rows back. A batch closes when it holds <see cref="MaxBatchSize"/> samples
/// or when its first request has waited <see cref="MaxDelay"/>, whichever comes first; a request that arrives alone
/// therefore waits at most <see cref="MaxDelay"/> before its forward pass starts.
/// </summary>
public sealed record DynamicBatchingOptions
{
    /// <summary>The longest a request waits for companions (default 2 ms).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Samples per coalesced batch at most; null: the session's <see cref="InferenceSessionOptions.MaxBatchSize"/>.
    /// A request larger than this runs on its own, unbatched.</summary>
    public int? MaxBatchSize { get; init; }
}

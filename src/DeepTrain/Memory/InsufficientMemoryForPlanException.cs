namespace DeepTrain.Memory;

/// <summary>
/// A compiled plan would need more memory than the backend's device has available; raised before anything is
/// allocated. The message gives the batch size, the planned bytes and the available bytes, e.g.
/// <c>model 'lenet5' at batch size 100000000 (training) needs 11.02 TiB for its plan … but cpu has 20.3 GiB available</c>.
/// </summary>
public sealed class InsufficientMemoryForPlanException : DeepTrainException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The sentence for the user.</param>
    /// <param name="batchSize">The batch size the plan was compiled for.</param>
    /// <param name="plannedBytes">Bytes the plan would allocate.</param>
    /// <param name="availableBytes">Bytes the device reported available.</param>
    public InsufficientMemoryForPlanException(string message, int batchSize, long plannedBytes, long availableBytes) : base(message)
    {
        BatchSize = batchSize;
        PlannedBytes = plannedBytes;
        AvailableBytes = availableBytes;
    }

    /// <summary>The batch size of the plan.</summary>
    public int BatchSize { get; }

    /// <summary>Bytes the plan would allocate: activation arena, input and target.</summary>
    public long PlannedBytes { get; }

    /// <summary>Bytes the device had available.</summary>
    public long AvailableBytes { get; }
}

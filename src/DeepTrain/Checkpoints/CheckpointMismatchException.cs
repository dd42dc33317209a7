namespace DeepTrain.Checkpoints;

/// <summary>
/// A valid checkpoint does not fit what the caller expects: a tensor is missing, or has another
/// dtype or shape. For example <c>checkpoint 'model.safetensors': tensor 'layer1.0.conv1.weight'
/// has shape (16, 16, 3, 3), expected (32, 16, 3, 3)</c>.
/// </summary>
public sealed class CheckpointMismatchException : DeepTrainException
{
    /// <summary>Creates the exception with a full message.</summary>
    public CheckpointMismatchException(string path, string tensorName, string message)
        : base(message)
    {
        Path = path;
        TensorName = tensorName;
    }

    /// <summary>The checkpoint file, as the caller named it.</summary>
    public string Path { get; }

    /// <summary>The tensor that is missing or does not fit.</summary>
    public string TensorName { get; }
}

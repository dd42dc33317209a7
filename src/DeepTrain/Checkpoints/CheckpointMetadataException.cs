namespace DeepTrain.Checkpoints;

/// <summary>
/// A checkpoint's metadata cannot describe its model: a key is missing and the caller did not supply the value
/// (<see cref="Option"/> names the API argument that would), or a value is malformed or disagrees with the rest of the
/// file. For example <c>checkpoint 'model.safetensors': metadata 'deeptrain.input_shape' is "1x28", expected C×H×W
/// such as "1x28x28"</c>.
/// </summary>
public sealed class CheckpointMetadataException : DeepTrainException
{
    /// <summary>Creates the exception with a full message.</summary>
    /// <param name="path">The checkpoint file, as the caller named it.</param>
    /// <param name="key">The metadata key that is missing or wrong.</param>
    /// <param name="message">The whole message; it names the file and the key.</param>
    /// <param name="option">For a missing key, the API argument that supplies it (<c>CheckpointLoadOptions.Model</c>); otherwise null.</param>
    /// <param name="inner">The failure underneath, if any.</param>
    public CheckpointMetadataException(string path, string key, string message, string? option = null, Exception? inner = null)
        : base(message, inner)
    {
        Path = path;
        Key = key;
        Option = option;
    }

    /// <summary>The checkpoint file, as the caller named it.</summary>
    public string Path { get; }

    /// <summary>The metadata key that is missing or wrong (<c>deeptrain.model_args</c>).</summary>
    public string Key { get; }

    /// <summary>For a missing key, the API argument that supplies its value; null when the value is present but wrong.</summary>
    public string? Option { get; }
}

namespace DeepTrain.Checkpoints;

/// <summary>
/// A checkpoint file is not valid safetensors: too short, a header that runs past the file,
/// malformed JSON, an unknown dtype, or tensor offsets that do not tile the data exactly.
/// The message names the file, the byte offset in the file and what was expected there.
/// </summary>
public sealed class CheckpointFormatException : DeepTrainException
{
    /// <summary>Creates the exception for the file at <paramref name="path"/>, at file byte <paramref name="offset"/>.</summary>
    public CheckpointFormatException(string path, long offset, string detail, Exception? inner = null)
        : base($"checkpoint '{path}' is not a valid safetensors file: at byte {offset}, {detail}", inner)
    {
        Path = path;
        Offset = offset;
        Detail = detail;
    }

    /// <summary>The file, as the caller named it.</summary>
    public string Path { get; }

    /// <summary>Offset from the start of the file where the problem was found.</summary>
    public long Offset { get; }

    /// <summary>What was found and what was expected, without the file and offset.</summary>
    public string Detail { get; }
}

namespace DeepTrain.Data;

/// <summary>
/// A data file does not hold what its format promises: wrong magic number, truncated data, a
/// count that disagrees with its partner file, or a label outside the class range. The message
/// names the file, the byte offset and what was expected against what was found, e.g.
/// <c>train-images-idx3-ubyte.gz: offset 0: magic 0x00000801, expected 0x00000803 (IDX ubyte images, 3 dimensions)</c>.
/// </summary>
public sealed class DataFormatException : DeepTrainException
{
    /// <summary>Creates the exception; the message becomes <c>"{filePath}: offset {offset}: {detail}"</c>.</summary>
    /// <param name="filePath">The file that is wrong.</param>
    /// <param name="offset">Byte offset of the problem. For a gzip file it counts decompressed bytes.</param>
    /// <param name="detail">What was expected and what was found.</param>
    /// <param name="inner">The underlying error, if any (e.g. a corrupt gzip stream).</param>
    public DataFormatException(string filePath, long offset, string detail, Exception? inner = null)
        : base($"{filePath}: offset {offset}: {detail}", inner)
    {
        FilePath = filePath;
        Offset = offset;
        Detail = detail;
    }

    /// <summary>The file that is wrong, as it was given to the reader.</summary>
    public string FilePath { get; }

    /// <summary>Byte offset of the problem (in the decompressed data for gzip files).</summary>
    public long Offset { get; }

    /// <summary>The message without the file and offset prefix.</summary>
    public string Detail { get; }
}

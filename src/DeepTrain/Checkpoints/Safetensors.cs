using System.Security.Cryptography;

namespace DeepTrain.Checkpoints;

/// <summary>
/// Saves and loads checkpoints in the safetensors format, which PyTorch reads with
/// <c>safetensors.torch.load_file</c>. Names are PyTorch's <c>state_dict</c> keys
/// (<c>conv1.weight</c>, <c>layer1.0.bn1.running_mean</c>, <c>layer1.0.bn1.num_batches_tracked</c>).
/// </summary>
public static class Safetensors
{
    /// <summary>The reserved header key that holds the string-to-string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>
    /// The largest header safetensors itself accepts (its <c>MAX_HEADER_SIZE</c>, 100 MB); a length
    /// beyond it means a corrupt or foreign file, not a huge model.
    /// </summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/> atomically: the bytes go to a temporary
    /// file in the same folder (<c>&lt;name&gt;.tmp-&lt;random&gt;</c>), are flushed to disk, and the temporary
    /// file is then renamed over <paramref name="path"/>. On any failure the temporary file is deleted, so
    /// <paramref name="path"/> holds either its old content or the whole new checkpoint, never part of one.
    /// </summary>
    /// <param name="path">Destination file; an existing file is replaced whole.</param>
    /// <param name="tensors">Tensors in the order their data is laid out.</param>
    /// <param name="metadata">Optional string-to-string metadata (e.g. <c>{"format": "pt"}</c>).</param>
    /// <exception cref="ArgumentException">The path is empty, a tensor is null, two tensors share a name, or a metadata key or value is null.</exception>
    /// <exception cref="IOException">The folder does not exist, the disk is full, or the rename fails.</exception>
    /// <exception cref="UnauthorizedAccessException">The folder or destination cannot be written.</exception>
    public static void Save(string path, IReadOnlyList<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Validate and build the header before any file exists.
        byte[] header = SafetensorsWriter.BuildHeader(tensors, metadata);
        string full = System.IO.Path.GetFullPath(path);
        string folder = System.IO.Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' names no file", nameof(path));
        string temp = System.IO.Path.Combine(folder, $"{System.IO.Path.GetFileName(full)}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
        bool created = false;
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                created = true;
                SafetensorsWriter.WriteTo(fs, header, tensors);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            if (created) TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// The bytes <see cref="Save"/> would write, as a writer for a caller that places the file itself (a checkpoint set's
    /// commit); the header is built, and so validated, now.
    /// </summary>
    /// <exception cref="ArgumentException">As for <see cref="Save"/>.</exception>
    internal static Action<Stream> Writer(IReadOnlyList<NamedArray> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        byte[] header = SafetensorsWriter.BuildHeader(tensors, metadata);
        return stream => SafetensorsWriter.WriteTo(stream, header, tensors);
    }

    /// <summary>Reads and validates a whole safetensors file into memory.</summary>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors; the message names the file, the byte offset and what was expected.</exception>
    /// <exception cref="NotSupportedException">The tensor data is larger than one .NET array can hold (about 2 GiB).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static SafetensorsFile Load(string path) => SafetensorsReader.Read(path);

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (IOException) { /* the original exception matters more; a folder that vanished took the file with it */ }
        catch (UnauthorizedAccessException) { }
    }
}

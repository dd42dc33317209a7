namespace DeepTrain.Data;

/// <summary>
/// A data file exists but cannot be read: no permission, a folder where a file should be, or an I/O error
/// while reading. The message names the file and the reason, e.g.
/// <c>cannot read data file 'data/mnist/train-images-idx3-ubyte.gz': Access to the path … is denied.</c>
/// </summary>
public sealed class DataFileAccessException : DeepTrainException
{
    /// <summary>Creates the exception for <paramref name="filePath"/>, keeping the underlying error as the inner exception.</summary>
    /// <param name="filePath">The file that cannot be read.</param>
    /// <param name="inner">What the operating system reported.</param>
    public DataFileAccessException(string filePath, Exception inner)
        : base($"cannot read data file '{filePath}': {Reason(filePath, inner)}", inner)
    {
        FilePath = filePath;
    }

    /// <summary>The file, as it was given to the reader.</summary>
    public string FilePath { get; }

    private static string Reason(string path, Exception inner) =>
        Directory.Exists(path) ? "it is a folder, expected a file" : inner.Message;

    /// <summary>Opens <paramref name="path"/> for reading; a missing file stays a <see cref="FileNotFoundException"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">Its folder does not exist.</exception>
    /// <exception cref="DataFileAccessException">It exists but cannot be opened.</exception>
    internal static FileStream Open(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException && e is not FileNotFoundException and not DirectoryNotFoundException)
        {
            throw new DataFileAccessException(path, e);
        }
    }

    /// <summary>Runs a read on <paramref name="path"/>, turning I/O and permission failures into this exception.</summary>
    internal static T Guard<T>(string path, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException) { throw new DataFileAccessException(path, e); }
    }
}

namespace DeepTrain.Data;

/// <summary>
/// Reads the binary version of CIFAR-10 (https://www.cs.toronto.edu/~kriz/cifar.html):
/// each record is 1 label byte followed by 3072 pixel bytes — 1024 red, 1024 green, 1024 blue,
/// each a row-major 32×32 plane — which is already one (C, H, W) image. Training data is
/// <c>data_batch_1.bin</c> .. <c>data_batch_5.bin</c>, test data <c>test_batch.bin</c>; class
/// names come from <c>batches.meta.txt</c> when present.
/// </summary>
public static class Cifar10Reader
{
    /// <summary>Bytes per record: 1 label + 3×32×32 pixels.</summary>
    public const int RecordSize = 1 + PixelsPerImage;
    private const int PixelsPerImage = 3 * 32 * 32;

    /// <summary>The ten CIFAR-10 classes in label order.</summary>
    public static IReadOnlyList<string> StandardClassNames { get; } =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>File names of the training batches.</summary>
    public static IReadOnlyList<string> TrainFiles { get; } =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

    /// <summary>File names of the test batch.</summary>
    public static IReadOnlyList<string> TestFiles { get; } = ["test_batch.bin"];

    /// <summary>Loads the training or test split from <c>cifar-10-batches-bin</c>.</summary>
    /// <param name="directory">The folder that holds the <c>.bin</c> files.</param>
    /// <param name="train">The five training batches (50 000 images) or the test batch (10 000).</param>
    /// <exception cref="FileNotFoundException">A batch file does not exist.</exception>
    /// <exception cref="DataFormatException">A file is truncated or holds a label above 9.</exception>
    /// <exception cref="DataFileAccessException">A file exists but cannot be read.</exception>
    public static Dataset Load(string directory, bool train)
    {
        var files = (train ? TrainFiles : TestFiles).Select(f => Path.Combine(directory, f)).ToArray();
        return LoadFiles(files, train ? "cifar10/train" : "cifar10/test", ReadClassNames(directory));
    }

    /// <summary>Loads the given batch files, in order, as one dataset.</summary>
    /// <param name="files">CIFAR-10 binary batch files.</param>
    /// <param name="name">Dataset name.</param>
    /// <param name="classNames">Ten class names; <see cref="StandardClassNames"/> when null.</param>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="DataFormatException">A file's size is not a multiple of <see cref="RecordSize"/>, or a label is above 9.</exception>
    /// <exception cref="DataFileAccessException">A file exists but cannot be read (permissions, a folder in its place, an I/O error).</exception>
    public static Dataset LoadFiles(IReadOnlyList<string> files, string name, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        long total = 0;
        var lengths = new long[files.Count];
        for (int f = 0; f < files.Count; f++)
        {
            var info = new FileInfo(files[f]);
            if (Directory.Exists(files[f])) throw new DataFileAccessException(files[f], new IOException("a folder, not a file"));
            if (!info.Exists) throw new FileNotFoundException($"CIFAR-10 batch file not found: {files[f]}", files[f]);
            lengths[f] = info.Length;
            long rest = info.Length % RecordSize;
            if (rest != 0)
            {
                long start = info.Length - rest;
                throw new DataFormatException(files[f], start,
                    $"file is {info.Length} bytes, not a multiple of {RecordSize} (1 label + 3x32x32 pixels): record {start / RecordSize} is cut off after {rest} bytes");
            }
            total += info.Length / RecordSize;
        }
        if (total * PixelsPerImage > Array.MaxLength)
            throw new ArgumentException($"{total} CIFAR-10 images do not fit one array", nameof(files));

        var pixels = new byte[total * PixelsPerImage];
        var labels = new int[total];
        // At most 512 records at a time, and no more than the largest file holds: memory follows the files.
        var chunk = new byte[RecordSize * (int)Math.Min(512, lengths.Length == 0 ? 0 : lengths.Max() / RecordSize)];
        int image = 0;
        for (int f = 0; f < files.Count; f++)
        {
            using var s = DataFileAccessException.Open(files[f]);
            long records = lengths[f] / RecordSize;
            for (long r = 0; r < records;)
            {
                int n = (int)Math.Min(records - r, chunk.Length / RecordSize);
                int got = DataFileAccessException.Guard(files[f], () => s.ReadAtLeast(chunk.AsSpan(0, n * RecordSize), n * RecordSize, throwOnEndOfStream: false));
                if (got < n * RecordSize)   // the file shrank since we measured it
                    throw new DataFormatException(files[f], r * RecordSize + got, $"file ends early, expected {lengths[f]} bytes");
                for (int i = 0; i < n; i++, r++, image++)
                {
                    var rec = chunk.AsSpan(i * RecordSize, RecordSize);
                    if (rec[0] > 9)
                        throw new DataFormatException(files[f], r * RecordSize, $"label {rec[0]} in record {r}, expected 0..9");
                    labels[image] = rec[0];
                    rec[1..].CopyTo(pixels.AsSpan(image * PixelsPerImage, PixelsPerImage));
                }
            }
        }
        return new Dataset(name, 3, 32, 32, 10, pixels, labels, classNames ?? StandardClassNames);
    }

    /// <summary>The first ten non-empty lines of <c>batches.meta.txt</c>, or the standard names.</summary>
    internal static IReadOnlyList<string> ReadClassNames(string directory)
    {
        string meta = Path.Combine(directory, "batches.meta.txt");
        if (!File.Exists(meta)) return StandardClassNames;
        var names = File.ReadLines(meta).Select(l => l.Trim()).Where(l => l.Length > 0).Take(10).ToArray();
        return names.Length == 10 ? names : StandardClassNames;
    }
}

using System.Text;

namespace DeepTrain.Data;

/// <summary>
/// Finds and loads the datasets the trainer knows by name: <c>mnist</c>, <c>fashion-mnist</c>
/// and <c>cifar10</c>. Folders are searched in this order, and the first that holds every file
/// the split needs wins:
/// <list type="number">
/// <item>the data directory passed in, and its dataset-named subfolders — and nothing else when one is passed;</item>
/// <item>otherwise the dataset's subfolders of the root named by the environment variable <c>DEEPTRAIN_DATA</c>;</item>
/// <item>then the system folders (<c>/usr/share/datasets/fashion-mnist</c>, as Debian's
/// <c>dataset-fashion-mnist</c> installs it; <c>/usr/share/datasets/mnist</c>) and <c>./data/…</c>.</item>
/// </list>
/// IDX files may be gzip-compressed (<c>train-images-idx3-ubyte.gz</c>) or not (<c>train-images-idx3-ubyte</c>).
/// </summary>
public static class DatasetCatalog
{
    /// <summary>The environment variable that names a root folder of datasets.</summary>
    public const string DataRootVariable = "DEEPTRAIN_DATA";

    /// <summary>The dataset names <see cref="Load(string, string?, bool)"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["mnist", "fashion-mnist", "cifar10"];

    private static readonly string[] FashionClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
    private static readonly string[] DigitClassNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>Loads the training or test split of a named dataset.</summary>
    /// <param name="name"><c>mnist</c>, <c>fashion-mnist</c> or <c>cifar10</c> (case, '-' and '_' are ignored).</param>
    /// <param name="dataDir">A folder to search instead of the defaults, or null.</param>
    /// <param name="train">The training split, or the test split.</param>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    /// <exception cref="FileNotFoundException">No searched folder holds the files; the message lists the files, the folders and where to get them.</exception>
    /// <exception cref="DataFormatException">A file was found but is malformed.</exception>
    /// <exception cref="IOException">A file cannot be read.</exception>
    public static Dataset Load(string name, string? dataDir, bool train)
        => Load(name, dataDir, train, Environment.GetEnvironmentVariable(DataRootVariable));

    /// <summary>
    /// <see cref="Load(string, string?, bool)"/> with the <c>DEEPTRAIN_DATA</c> value given, and for tests a stand-in for
    /// <see cref="ReadProblem"/> (root reads every folder whatever its mode, so an unreadable one must be injected).
    /// </summary>
    internal static Dataset Load(string name, string? dataDir, bool train, string? dataRoot, Func<string, string?>? readProblem = null)
    {
        var spec = Find(name);
        var folders = SearchFolders(spec, dataDir, dataRoot);
        foreach (var folder in folders)
        {
            var files = spec.Resolve(folder, train);
            if (files is null) continue;
            return spec.Key == "cifar10"
                ? Cifar10Reader.LoadFiles(files, $"cifar10/{(train ? "train" : "test")}", Cifar10Reader.ReadClassNames(folder))
                : IdxReader.Load(files[0], files[1], $"{spec.Key}/{(train ? "train" : "test")}", 10,
                    spec.Key == "mnist" ? DigitClassNames : FashionClassNames);
        }
        throw NotFound(spec, folders, train, readProblem ?? ReadProblem);
    }

    /// <summary>Why <paramref name="folder"/>, which exists, cannot be listed (no permission, an I/O error), or null if it can.</summary>
    private static string? ReadProblem(string folder)
    {
        try
        {
            using var entries = Directory.EnumerateFileSystemEntries(folder).GetEnumerator();
            entries.MoveNext();
            return null;
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException) { return e.Message; }
    }

    /// <summary>The folders <see cref="Load(string, string?, bool)"/> searches for <paramref name="name"/>, in order.</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    public static IReadOnlyList<string> SearchFolders(string name, string? dataDir)
        => SearchFolders(Find(name), dataDir, Environment.GetEnvironmentVariable(DataRootVariable));

    private static List<string> SearchFolders(Spec spec, string? dataDir, string? dataRoot)
    {
        var list = new List<string>();
        void Add(string path)
        {
            string full = Path.GetFullPath(path);
            if (!list.Contains(full)) list.Add(full);
        }
        if (!string.IsNullOrEmpty(dataDir))
        {
            Add(dataDir);
            foreach (var sub in spec.Subfolders) Add(Path.Combine(dataDir, sub));
            return list;
        }
        if (!string.IsNullOrEmpty(dataRoot))
            foreach (var sub in spec.Subfolders) Add(Path.Combine(dataRoot, sub));
        foreach (var d in spec.Defaults) Add(d);
        return list;
    }

    private static Spec Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().ToLowerInvariant().Replace("-", "").Replace("_", "");
        return key switch
        {
            "mnist" => Mnist,
            "fashionmnist" => Fashion,
            "cifar10" => Cifar,
            _ => throw new ArgumentException($"unknown dataset '{name}', expected one of: {string.Join(", ", Names)}", nameof(name)),
        };
    }

    private static FileNotFoundException NotFound(Spec spec, List<string> folders, bool train, Func<string, string?> readProblem)
    {
        var files = spec.Files(train);
        var sb = new StringBuilder();
        sb.Append($"{spec.Key} ({(train ? "train" : "test")} split) not found. Expected files:\n");
        foreach (var f in files)
            sb.Append(spec.Idx ? $"  {f}.gz (or uncompressed {f})\n" : $"  {f}\n");
        sb.Append("Searched folders:\n");
        foreach (var folder in folders)
        {
            if (!Directory.Exists(folder)) { sb.Append($"  {folder} (does not exist)\n"); continue; }
            // A folder that cannot be listed hides its files from File.Exists: say so rather than call them missing.
            if (readProblem(folder) is { } problem) { sb.Append($"  {folder} (cannot read: {problem})\n"); continue; }
            var missing = files.Where(f => !File.Exists(Path.Combine(folder, f)) && !(spec.Idx && File.Exists(Path.Combine(folder, f + ".gz"))));
            sb.Append($"  {folder} (missing: {string.Join(", ", missing)})\n");
        }
        sb.Append(spec.Download);
        sb.Append($"\nPass a data directory, or set {DataRootVariable} to a folder that holds {string.Join(" or ", spec.Subfolders.Select(s => s + "/"))}.");
        string first = Path.Combine(folders.Count > 0 ? folders[0] : ".", files[0] + (spec.Idx ? ".gz" : ""));
        return new FileNotFoundException(sb.ToString(), first);
    }

    private static readonly Spec Mnist = new("mnist", Idx: true,
        Subfolders: ["mnist", "MNIST/raw"],
        Defaults: ["/usr/share/datasets/mnist", "/usr/share/mnist", "data/mnist", "data/MNIST/raw"],
        Download: "Download the four *-ubyte.gz files from https://ossci-datasets.s3.amazonaws.com/mnist/ (a mirror of http://yann.lecun.com/exdb/mnist/).");

    private static readonly Spec Fashion = new("fashion-mnist", Idx: true,
        Subfolders: ["fashion-mnist", "FashionMNIST/raw"],
        Defaults: ["/usr/share/datasets/fashion-mnist", "data/fashion-mnist", "data/FashionMNIST/raw"],
        Download: "Download the four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist (data/fashion/), or on Debian/Ubuntu: apt-get install dataset-fashion-mnist (installs /usr/share/datasets/fashion-mnist).");

    private static readonly Spec Cifar = new("cifar10", Idx: false,
        Subfolders: ["cifar10", "cifar-10-batches-bin", "cifar10/cifar-10-batches-bin"],
        Defaults: ["data/cifar-10-batches-bin"],
        Download: "Download and unpack https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (the binary version; it unpacks to cifar-10-batches-bin/).");

    /// <summary>How one dataset is laid out on disk.</summary>
    private sealed record Spec(string Key, bool Idx, string[] Subfolders, string[] Defaults, string Download)
    {
        public IReadOnlyList<string> Files(bool train) => Idx
            ? (train ? ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"] : ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
            : (train ? Cifar10Reader.TrainFiles : Cifar10Reader.TestFiles);

        /// <summary>Full paths of every needed file in <paramref name="folder"/> (gzip preferred), or null if one is missing.</summary>
        public string[]? Resolve(string folder, bool train)
        {
            var names = Files(train);
            var paths = new string[names.Count];
            for (int i = 0; i < names.Count; i++)
            {
                string p = Path.Combine(folder, names[i]);
                if (Idx && File.Exists(p + ".gz")) p += ".gz";
                else if (!File.Exists(p)) return null;
                paths[i] = p;
            }
            return paths;
        }
    }
}

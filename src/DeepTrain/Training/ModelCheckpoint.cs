using DeepTrain.Backends;
using DeepTrain.Checkpoints;
using DeepTrain.Modeling;
using DeepTrain.Layers;

namespace DeepTrain.Training;

/// <summary>
/// A model's weights as a safetensors file with PyTorch state_dict names ("conv1.weight",
/// "layer1.0.bn1.running_mean", "layer1.0.bn1.num_batches_tracked"), so
/// <c>model.load_state_dict(safetensors.torch.load_file(path))</c> works for the matching PyTorch module.
/// Files are written atomically (a temporary name, then a rename).
/// </summary>
public static class ModelCheckpoint
{
    private const string BatchesTracked = "num_batches_tracked";

    /// <summary>
    /// Writes every parameter and buffer of <paramref name="model"/>, and metadata that describes it (<see cref="CheckpointInfo"/>:
    /// the model and its arguments, input shape, classes, and what <paramref name="description"/> adds), so
    /// <see cref="LoadModel"/> can rebuild it. <paramref name="steps"/> becomes each batch norm's num_batches_tracked.
    /// </summary>
    /// <param name="model">The model.</param>
    /// <param name="path">Destination file, written atomically.</param>
    /// <param name="metadata">Extra metadata entries (epoch, data set, …); the <c>deeptrain.*</c> keys are the library's.</param>
    /// <param name="steps">Optimizer steps so far.</param>
    /// <param name="description">The input normalisation, class names, layout and precision to record; null: none, NCHW, fp32.</param>
    /// <exception cref="ArgumentException"><paramref name="metadata"/> sets a <c>deeptrain.*</c> key.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Save(Model model, string path, IReadOnlyDictionary<string, string>? metadata = null, long steps = 0, CheckpointDescription? description = null)
    {
        var (arrays, meta) = Contents(model, metadata, steps, description);
        Safetensors.Save(path, arrays, meta);
    }

    /// <summary>
    /// Loads a checkpoint into a ready model on <paramref name="backend"/>, with no data set: the model is rebuilt from the
    /// file's metadata (<see cref="CheckpointInfo.Read"/>, then <see cref="CheckpointInfo.CreateModel"/>). Use
    /// <see cref="CheckpointInfo.Read"/> directly for the normalisation and class names too. The caller owns the model.
    /// </summary>
    /// <param name="path">A <c>model.safetensors</c>.</param>
    /// <param name="backend">Where the model's parameters live.</param>
    /// <param name="options">Values for fields a file written before format 1 does not record; null: none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="backend"/> is null.</exception>
    /// <exception cref="CheckpointMetadataException">A required field is missing and not supplied (the message names it and the <see cref="CheckpointLoadOptions"/> property), a value is malformed, or the model it describes does not fit the tensors.</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static Model LoadModel(string path, IBackend backend, CheckpointLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        return CheckpointInfo.Read(path, options).CreateModel(backend);
    }

    /// <summary>The tensors and metadata <see cref="Save"/> writes.</summary>
    /// <remarks><paramref name="staging"/> holds the host copies across calls (a run's commits); null: fresh ones.</remarks>
    internal static (List<NamedArray> Arrays, Dictionary<string, string> Metadata) Contents(Model model, IReadOnlyDictionary<string, string>? metadata, long steps,
        CheckpointDescription? description = null, CheckpointStaging? staging = null)
    {
        staging ??= new CheckpointStaging();
        var arrays = new List<NamedArray>();
        foreach (var p in model.Parameters.InGraphOrder)
            arrays.Add(staging.Float32(model.Backend, p.Name, p.Value));
        foreach (var b in model.Parameters.Buffers)
            arrays.Add(staging.Float32(model.Backend, b.Name, b.Value));
        foreach (var n in model.Graph.Nodes)
            if (n.Layer is BatchNorm)
                arrays.Add(NamedArray.FromInt64($"{n.Layer.Name}.{BatchesTracked}", [steps]));
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["format"] = "pt", ["deeptrain_model"] = model.Name };
        foreach (var (key, value) in CheckpointInfo.Describe(model.Graph, description))
            if (!meta.TryAdd(key, value))
                throw new ArgumentException($"metadata key '{key}' is the library's own: it describes the model (pass a CheckpointDescription for what it records)", nameof(metadata));
        return (arrays, meta);
    }

    /// <summary>
    /// Loads every parameter and buffer of <paramref name="model"/> from <paramref name="path"/>. Every tensor
    /// is checked before any is copied, so a checkpoint that does not fit leaves the model unchanged.
    /// </summary>
    /// <exception cref="CheckpointMismatchException">The first tensor that is missing, has another shape or dtype, or is not part of the model.</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors.</exception>
    public static void Load(Model model, string path)
    {
        var file = Safetensors.Load(path);
        var expected = new HashSet<string>();
        var copies = new List<(float[] Data, Tensors.Tensor Dst)>();
        foreach (var p in model.Parameters.InGraphOrder)
        {
            file.Expect(p.Name, Tensors.DType.Float32, p.Value.Shape.Dims);
            copies.Add((file.GetFloat32(p.Name), p.Value));
            expected.Add(p.Name);
        }
        foreach (var b in model.Parameters.Buffers)
        {
            file.Expect(b.Name, Tensors.DType.Float32, b.Value.Shape.Dims);
            copies.Add((file.GetFloat32(b.Name), b.Value));
            expected.Add(b.Name);
        }
        foreach (var name in file.Names)
            if (!expected.Contains(name) && !name.EndsWith("." + BatchesTracked, StringComparison.Ordinal))
                throw new CheckpointMismatchException(path, name, $"checkpoint '{path}': tensor '{name}' is not part of model '{model.Name}'");
        foreach (var (data, dst) in copies) model.Backend.CopyFromHost<float>(data, dst);
        model.Parameters.SyncWorkingCopy();   // 16-bit plans read the rounded copy of what was just loaded
    }

    /// <summary>
    /// Fine-tuning: copies every tensor whose name and shape match from <paramref name="path"/> into
    /// <paramref name="model"/> and reports the rest — tensors the checkpoint lacks (left as initialised),
    /// tensors the model lacks (ignored), and same-named tensors of another shape (skipped, e.g. a
    /// classifier with a different class count). PyTorch's <c>load_state_dict(strict=False)</c>, with the shapes checked.
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors.</exception>
    public static LoadReport LoadMatching(Model model, string path)
    {
        var file = Safetensors.Load(path);
        var matched = new List<string>();
        var missing = new List<string>();
        var mismatched = new List<string>();
        var known = new HashSet<string>();
        void Try(string name, Tensors.Tensor dst)
        {
            known.Add(name);
            if (!file.TryGetValue(name, out var info)) { missing.Add(name); return; }
            if (info.DType != SafetensorsDType.F32 || !info.Shape.Dims.SequenceEqual(dst.Shape.Dims))
            {
                mismatched.Add($"{name}: checkpoint {info.DType.Name()} {info.Shape}, model F32 {dst.Shape}");
                return;
            }
            model.Backend.CopyFromHost<float>(file.GetFloat32(name), dst);
            matched.Add(name);
        }
        foreach (var p in model.Parameters.InGraphOrder) Try(p.Name, p.Value);
        foreach (var b in model.Parameters.Buffers) Try(b.Name, b.Value);
        model.Parameters.SyncWorkingCopy();
        var unexpected = file.Names.Where(n => !known.Contains(n) && !n.EndsWith("." + BatchesTracked, StringComparison.Ordinal)).ToList();
        var nonFinite = matched.Select(n => NonFiniteTensor.Count(file, n)).OfType<NonFiniteTensor>().ToList();
        return new LoadReport(matched, missing, unexpected, mismatched) { NonFinite = nonFinite };
    }

    /// <summary>
    /// The floating-point tensors of <paramref name="path"/> that hold NaN or infinite values, in file order: a diverged
    /// run's weights load without error but predict nothing, so a caller warns about them (<c>deeptrain eval</c> does).
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<NonFiniteTensor> FindNonFinite(string path)
    {
        var file = Safetensors.Load(path);
        return file.Names.Select(n => NonFiniteTensor.Count(file, n)).OfType<NonFiniteTensor>().ToList();
    }

    /// <summary>The checkpoint's metadata (model, data set, epoch, …) without loading tensors into a model.</summary>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path) => Safetensors.Load(path).Metadata;
}

/// <summary>What <see cref="ModelCheckpoint.LoadMatching"/> loaded and what it did not.</summary>
public sealed record LoadReport(IReadOnlyList<string> Matched, IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> ShapeMismatched)
{
    /// <summary>The loaded tensors that hold NaN or infinite values (a diverged run's weights); empty when all are finite.</summary>
    public IReadOnlyList<NonFiniteTensor> NonFinite { get; init; } = [];

    /// <inheritdoc />
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder($"loaded {Matched.Count} tensors");
        if (Missing.Count > 0) sb.Append($"; not in the checkpoint, left as initialised: {string.Join(", ", Missing)}");
        if (ShapeMismatched.Count > 0) sb.Append($"; skipped for shape: {string.Join("; ", ShapeMismatched)}");
        if (Unexpected.Count > 0) sb.Append($"; in the checkpoint but not the model: {string.Join(", ", Unexpected)}");
        return sb.ToString();
    }
}

using System.Globalization;
using System.Text.Json;
using DeepTrain.Backends;
using DeepTrain.Checkpoints;
using DeepTrain.Data;
using DeepTrain.Modeling;
using DeepTrain.Mixed;
using DeepTrain.Zoo;
using DeepTrain.Tensors;

namespace DeepTrain.Training;

/// <summary>
/// What a checkpoint says about its model — enough to rebuild it and feed it without the training data: the built-in model
/// and its arguments, the input shape, layout, classes and their names, the input normalisation and the precision.
/// <see cref="Read"/> parses it from <c>model.safetensors</c>'s metadata; <see cref="CreateModel"/> then builds the model
/// on any backend and loads the weights. The keys (format 1; every value a string, so PyTorch's safetensors reads the file):
/// <code>
/// deeptrain.format_version  "1"
/// deeptrain.model           "resnet20"                                   a ModelZoo name
/// deeptrain.model_args      {"in_channels":1,"classes":10,"size":28}     ModelZoo.Create's arguments
/// deeptrain.input_shape     "1x28x28"                                    C×H×W of one sample
/// deeptrain.layout          "NCHW"
/// deeptrain.classes         "10"
/// deeptrain.class_names     ["T-shirt/top","Trouser",…]                  when the data set names them
/// deeptrain.normalization   {"mean":[0.286],"std":[0.353]}               of x/255, per channel; when known
/// deeptrain.precision       "fp32"                                       the training precision (the weights are fp32)
/// </code>
/// A graph built by hand (no <see cref="ModelGraph.Spec"/>) gets every key but <c>deeptrain.model</c> and
/// <c>deeptrain.model_args</c>. Files written before format 1 lack the keys: <see cref="Read"/> takes the CLI's older
/// <c>model</c>, <c>input</c> and <c>classes</c> entries where present and the caller's <see cref="CheckpointLoadOptions"/>
/// for the rest.
/// </summary>
public sealed record CheckpointInfo
{
    /// <summary>The format version this library writes and the newest it reads.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Metadata key of the format version.</summary>
    public const string FormatVersionKey = "deeptrain.format_version";
    /// <summary>Metadata key of the built-in model's name.</summary>
    public const string ModelKey = "deeptrain.model";
    /// <summary>Metadata key of the model's build arguments (JSON).</summary>
    public const string ModelArgsKey = "deeptrain.model_args";
    /// <summary>Metadata key of the per-sample input shape ("CxHxW").</summary>
    public const string InputShapeKey = "deeptrain.input_shape";
    /// <summary>Metadata key of the activation layout ("NCHW" or "NHWC").</summary>
    public const string LayoutKey = "deeptrain.layout";
    /// <summary>Metadata key of the class count.</summary>
    public const string ClassesKey = "deeptrain.classes";
    /// <summary>Metadata key of the class names (a JSON array of strings).</summary>
    public const string ClassNamesKey = "deeptrain.class_names";
    /// <summary>Metadata key of the input normalisation (JSON: per-channel mean and std of x/255).</summary>
    public const string NormalizationKey = "deeptrain.normalization";
    /// <summary>Metadata key of the training precision ("fp32", "fp16", "bf16").</summary>
    public const string PrecisionKey = "deeptrain.precision";

    /// <summary>The built-in model and its arguments.</summary>
    public required ModelSpec Model { get; init; }
    /// <summary>One name per class, or null when neither the file nor the caller names them.</summary>
    public IReadOnlyList<string>? ClassNames { get; init; }
    /// <summary>The input normalisation, or null when neither the file nor the caller gives one (see <see cref="RequireNormalization"/>).</summary>
    public Normalization? Normalization { get; init; }
    /// <summary>The layout the model was trained in.</summary>
    public Layout Layout { get; init; } = Layout.NCHW;
    /// <summary>The precision the model was trained at (the stored weights are fp32 either way).</summary>
    public Precision Precision { get; init; } = Precision.Float32;
    /// <summary>The file's format version (0: written before checkpoints described themselves).</summary>
    public int FormatVersion { get; init; } = CurrentFormatVersion;
    /// <summary>The checkpoint file this was read from.</summary>
    public required string Path { get; init; }
    /// <summary>Every metadata entry of the file, the keys above and the rest (epoch, data set, …).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The per-sample input shape (C, H, W).</summary>
    public Shape InputShape => Model.InputShape;
    /// <summary>The number of classes.</summary>
    public int Classes => Model.Classes;

    /// <summary>
    /// Reads what <paramref name="path"/> records about its model. Fields the file lacks come from <paramref name="options"/>;
    /// layout and precision default to NCHW and fp32; class names and normalisation stay null when neither has them.
    /// </summary>
    /// <param name="path">A <c>model.safetensors</c>.</param>
    /// <param name="options">Values for fields the file does not record (older files); null: none.</param>
    /// <exception cref="ArgumentException"><paramref name="options"/> supplies a value that does not fit (an unknown model, a shape that is not (C, H, W), a count that disagrees).</exception>
    /// <exception cref="CheckpointMetadataException">A required field (model, input shape, classes) is missing and not supplied — the message names the key and the <see cref="CheckpointLoadOptions"/> property that supplies it — or a value is malformed, names no built-in model, or disagrees with another.</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static CheckpointInfo Read(string path, CheckpointLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Parse(path, Safetensors.Load(path).Metadata, options ?? new CheckpointLoadOptions());
    }

    /// <summary>
    /// Builds the model on <paramref name="backend"/> and loads the checkpoint's weights into it: ready to compile an
    /// evaluation plan, with no data set involved. The caller owns (disposes) the model.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="backend"/> is null.</exception>
    /// <exception cref="CheckpointMetadataException">The model the metadata describes does not fit the file's tensors (the message names the tensor).</exception>
    /// <exception cref="CheckpointFormatException">The file is not valid safetensors (it changed since <see cref="Read"/>).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public Model CreateModel(IBackend backend) => Build(backend, forwardOnly: false);

    /// <summary><see cref="CreateModel(IBackend)"/> without gradient memory: a forward-only model for inference.</summary>
    internal Model CreateForwardOnlyModel(IBackend backend) => Build(backend, forwardOnly: true);

    private Model Build(IBackend backend, bool forwardOnly)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ModelGraph graph;
        try { graph = ModelZoo.Create(Model); }
        catch (Exception e) when (e is ArgumentException or Layers.LayerShapeException)
        {
            throw new CheckpointMetadataException(Path, ModelArgsKey, $"checkpoint '{Path}': model '{Model.Name}' cannot be built from {ModelArgsKey} {ArgsJson(Model)}: {e.Message}", inner: e);
        }
        var model = forwardOnly ? Modeling.Model.ForwardOnly(graph, backend) : new Model(graph, backend);
        try
        {
            ModelCheckpoint.Load(model, Path);
            return model;
        }
        catch (CheckpointMismatchException e)
        {
            model.Dispose();
            throw new CheckpointMetadataException(Path, ModelArgsKey,
                $"checkpoint '{Path}': the model its metadata describes ({ModelKey} '{Model.Name}', {ModelArgsKey} {ArgsJson(Model)}) does not fit its tensors: {e.Message}", inner: e);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The input normalisation, which evaluation and inference need.</summary>
    /// <exception cref="CheckpointMetadataException">The file records none and the caller supplied none; the message says how to supply it.</exception>
    public Normalization RequireNormalization()
        => Normalization ?? throw Missing(Path, NormalizationKey, nameof(CheckpointLoadOptions.Normalization), "its input normalisation");

    /// <summary>The metadata entries that describe <paramref name="graph"/> and how it is fed.</summary>
    internal static Dictionary<string, string> Describe(ModelGraph graph, CheckpointDescription? description)
    {
        var d = description ?? new CheckpointDescription();
        var meta = new Dictionary<string, string>
        {
            [FormatVersionKey] = Str(CurrentFormatVersion),
            [LayoutKey] = d.Layout.ToString(),
            [PrecisionKey] = d.Precision.Name(),
        };
        if (graph.Spec is { } spec)
        {
            meta[ModelKey] = spec.Name;
            meta[ModelArgsKey] = ArgsJson(spec);
        }
        if (graph.InputShape.Rank == 3) meta[InputShapeKey] = string.Join('x', graph.InputShape.Dims.ToArray());
        if (graph.OutputShape.Rank == 1) meta[ClassesKey] = Str(graph.OutputShape.Dims[0]);
        if (d.ClassNames is { } names) meta[ClassNamesKey] = JsonSerializer.Serialize(names);
        if (d.Normalization is { } n) meta[NormalizationKey] = JsonSerializer.Serialize(new { mean = n.Mean, std = n.Std });
        return meta;
    }

    private static CheckpointInfo Parse(string path, IReadOnlyDictionary<string, string> m, CheckpointLoadOptions o)
    {
        int version = 0;
        if (m.TryGetValue(FormatVersionKey, out var v))
        {
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out version) || version < 1)
                throw Bad(path, FormatVersionKey, v, "expected a positive integer");
            if (version > CurrentFormatVersion)
                throw Bad(path, FormatVersionKey, v, $"this DeepTrain reads format {CurrentFormatVersion} and older; the file was written by a newer one");
        }

        // The model: its name, then its arguments — recorded, or from the input shape and class count.
        string modelKey = m.ContainsKey(ModelKey) ? ModelKey : "model";
        string? recorded = m.GetValueOrDefault(modelKey);
        string name = recorded ?? o.Model ?? throw Missing(path, ModelKey, nameof(CheckpointLoadOptions.Model), "its model");
        ModelInfo zoo;
        try { zoo = ModelZoo.Find(name); }
        catch (ArgumentException e) when (recorded is not null) { throw Bad(path, modelKey, name, e.Message, e); }   // the caller's own name keeps its ArgumentException
        Shape? shape = m.TryGetValue(InputShapeKey, out var s) ? ParseShape(path, InputShapeKey, s)
            : m.TryGetValue("input", out s) ? ParseShape(path, "input", s) : null;
        int? classes = m.TryGetValue(ClassesKey, out var k) ? ParseCount(path, ClassesKey, k)
            : m.TryGetValue("classes", out k) ? ParseCount(path, "classes", k) : null;
        ModelSpec spec;
        if (m.TryGetValue(ModelArgsKey, out var args))
        {
            spec = ParseArgs(path, zoo.Name, args);
            if (shape is { } given && given != spec.InputShape)
                throw Bad(path, InputShapeKey, s!, $"{ModelArgsKey} {args} gives {Dims(spec.InputShape)}");
            if (classes is { } c && c != spec.Classes)
                throw Bad(path, ClassesKey, k!, $"{ModelArgsKey} {args} gives {spec.Classes} classes");
        }
        else
        {
            var input = shape ?? o.InputShape ?? throw Missing(path, InputShapeKey, nameof(CheckpointLoadOptions.InputShape), "its input shape");
            int count = classes ?? o.Classes ?? throw Missing(path, ClassesKey, nameof(CheckpointLoadOptions.Classes), "its class count");
            if (input.Rank != 3 || input.Dims[1] != input.Dims[2])
                throw new ArgumentException($"CheckpointLoadOptions.InputShape {input} must be (C, H, W) with H = W for the built-in model '{zoo.Name}'", nameof(o));
            spec = new ModelSpec(zoo.Name, input.Dims[0], count, input.Dims[1]);
        }

        IReadOnlyList<string>? names = o.ClassNames;
        if (m.TryGetValue(ClassNamesKey, out var cn))
        {
            names = Json<string[]>(path, ClassNamesKey, cn);
            if (names is null || names.Count != spec.Classes || names.Any(x => x is null))
                throw Bad(path, ClassNamesKey, cn, $"expected a JSON array of {spec.Classes} strings, one per class");
        }
        else if (names is not null && names.Count != spec.Classes)
            throw new ArgumentException($"CheckpointLoadOptions.ClassNames has {names.Count} names; the model has {spec.Classes} classes", nameof(o));

        Normalization? norm = o.Normalization;
        if (m.TryGetValue(NormalizationKey, out var nj))
        {
            var n = Json<NormalizationJson>(path, NormalizationKey, nj);
            if (n?.Mean is null || n.Std is null || n.Mean.Length != spec.InChannels || n.Std.Length != spec.InChannels)
                throw Bad(path, NormalizationKey, nj, $"expected {{\"mean\":[…],\"std\":[…]}} with {spec.InChannels} values each, one per input channel");
            try { norm = new Normalization(n.Mean, n.Std); }
            catch (ArgumentException e) { throw Bad(path, NormalizationKey, nj, e.Message, e); }
        }
        else if (norm is not null && norm.Channels != spec.InChannels)
            throw new ArgumentException($"CheckpointLoadOptions.Normalization has {norm.Channels} channels; the model takes {spec.InChannels}", nameof(o));

        var layout = o.Layout ?? Layout.NCHW;
        if (m.TryGetValue(LayoutKey, out var l))
            layout = Enum.GetValues<Layout>().Cast<Layout?>().FirstOrDefault(x => x.ToString() == l)
                ?? throw Bad(path, LayoutKey, l, $"expected one of {string.Join(", ", Enum.GetNames<Layout>())}");
        var precision = o.Precision ?? Precision.Float32;
        if (m.TryGetValue(PrecisionKey, out var p))
        {
            try { precision = PrecisionInfo.Parse(p); }
            catch (Exception e) when (e is FormatException or ArgumentException) { throw Bad(path, PrecisionKey, p, $"expected one of {string.Join(", ", PrecisionInfo.Names)}", e); }
        }
        return new CheckpointInfo
        {
            Model = spec, ClassNames = names, Normalization = norm, Layout = layout, Precision = precision,
            FormatVersion = version, Path = path, Metadata = m,
        };
    }

    private sealed record NormalizationJson(float[]? Mean, float[]? Std);

    private static readonly JsonSerializerOptions s_json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static T? Json<T>(string path, string key, string value)
    {
        try { return JsonSerializer.Deserialize<T>(value, s_json); }
        catch (JsonException e) { throw Bad(path, key, value, $"not valid JSON ({e.Message})", e); }
    }

    private sealed record ModelArgs(int? InChannels, int? Classes, int? Size);

    private static ModelSpec ParseArgs(string path, string name, string value)
    {
        var a = Json<ModelArgs>(path, ModelArgsKey, value);
        if (a is not { InChannels: > 0 and var c, Classes: > 0 and var k, Size: > 0 and var s })
            throw Bad(path, ModelArgsKey, value, "expected {\"in_channels\":C,\"classes\":K,\"size\":S} with positive integers");
        return new ModelSpec(name, c, k, s);
    }

    private static string ArgsJson(ModelSpec s) => JsonSerializer.Serialize(new ModelArgs(s.InChannels, s.Classes, s.Size), s_json);

    private static Shape ParseShape(string path, string key, string value)
    {
        var parts = value.Split('x');
        if (parts.Length != 3) throw Bad(path, key, value, $"has {parts.Length} dimension{(parts.Length == 1 ? "" : "s")}, expected C×H×W such as \"1x28x28\"");
        var dims = new int[3];
        for (int i = 0; i < 3; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]) || dims[i] < 1)
                throw Bad(path, key, value, "expected C×H×W of positive integers such as \"1x28x28\"");
        return Shape.Of(dims[0], dims[1], dims[2]);
    }

    private static int ParseCount(string path, string key, string value)
        => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n : throw Bad(path, key, value, "expected a positive integer");

    private static string Dims(Shape s) => string.Join('x', s.Dims.ToArray());

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static CheckpointMetadataException Bad(string path, string key, string value, string detail, Exception? inner = null)
        => new(path, key, $"checkpoint '{path}': metadata '{key}' is {JsonSerializer.Serialize(value)}: {detail}", inner: inner);

    private static CheckpointMetadataException Missing(string path, string key, string option, string what)
        => new(path, key, $"checkpoint '{path}' does not record {what} (metadata '{key}'; it was written before checkpoints described themselves, or without it): supply it as CheckpointLoadOptions.{option}",
            $"CheckpointLoadOptions.{option}");
}

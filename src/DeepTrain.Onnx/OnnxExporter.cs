using System.Globalization;
using System.Text.Json;
using DeepTrain.Backends;
using DeepTrain.Modeling;
using DeepTrain.Onnx.Proto;
using DeepTrain.Tensors;
using DeepTrain.Training;
using Google.Protobuf;

namespace DeepTrain.Onnx;

/// <summary>
/// Writes a DeepTrain model as an ONNX model in evaluation form (docs/onnx.md): batch norm with its running statistics
/// (folded into the convolution before it by default), dropout removed, opset 17 by default, float32. The graph has one
/// input, <see cref="InputName"/>, of shape (batch, C, H, W), and one output, <see cref="OutputName"/>, of shape
/// (batch, classes): the logits. The batch dimension is symbolic (<see cref="BatchDimension"/>), so any batch size runs.
/// </summary>
public static class OnnxExporter
{
    /// <summary>The graph input's name.</summary>
    public const string InputName = "input";

    /// <summary>The graph output's name: the logits, before softmax.</summary>
    public const string OutputName = "logits";

    /// <summary>The symbolic name of the first (batch) dimension of input and output.</summary>
    public const string BatchDimension = "batch";

    /// <summary>Writes <paramref name="model"/> to <paramref name="destination"/>.</summary>
    /// <param name="model">The model; its current weights are written (read from its backend, fp32).</param>
    /// <param name="destination">A writable stream.</param>
    /// <param name="options">Opset, batch-norm folding, the normalisation to put into the graph, metadata; null: the defaults.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> or <paramref name="destination"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The opset is not supported.</exception>
    /// <exception cref="ArgumentException">The normalisation's channel count differs from the model's input, or the metadata sets a <c>deeptrain.*</c> key.</exception>
    /// <exception cref="OnnxExportException">A layer has no ONNX mapping (the message names it and its kind).</exception>
#pragma warning disable RS0026 // a Stream and a path overload, as System.IO's own APIs have; options grow inside OnnxExportOptions, never as parameters
    public static void Export(Model model, Stream destination, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ToProto(model, options).WriteTo(destination);
    }

    /// <summary>Writes <paramref name="model"/> to the file <paramref name="path"/> (atomically: a temporary name, then a rename).</summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty, or as <see cref="Export(Model, Stream, OnnxExportOptions?)"/>.</exception>
    /// <exception cref="OnnxExportException">A layer has no ONNX mapping.</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    public static void Export(Model model, string path, OnnxExportOptions? options = null)
#pragma warning restore RS0026
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var proto = ToProto(model, options);   // fails before any file exists
        string tmp = path + ".tmp";
        try
        {
            using (var f = File.Create(tmp)) proto.WriteTo(f);
            File.Move(tmp, path, overwrite: true);
        }
        finally { File.Delete(tmp); }
    }

    /// <summary>
    /// Exports a checkpoint written by DeepTrain (<c>model.safetensors</c>): rebuilds its model on the CPU from its
    /// metadata, and puts the input normalisation it records into the graph, so the ONNX model takes pixel values in [0, 1].
    /// <paramref name="options"/>' normalisation and class names, when set, replace the checkpoint's.
    /// </summary>
    /// <exception cref="Checkpoints.CheckpointMetadataException">The checkpoint does not describe its model.</exception>
    /// <exception cref="Checkpoints.CheckpointFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="FileNotFoundException">The checkpoint does not exist.</exception>
    /// <exception cref="OnnxExportException">A layer has no ONNX mapping.</exception>
    /// <exception cref="IOException">A file cannot be read or written.</exception>
    public static void ExportCheckpoint(string checkpointPath, string onnxPath, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        ArgumentException.ThrowIfNullOrEmpty(onnxPath);
        var info = CheckpointInfo.Read(checkpointPath);
        options ??= new OnnxExportOptions();
        options = options with { Normalization = options.Normalization ?? info.Normalization, ClassNames = options.ClassNames ?? info.ClassNames };
        using var backend = BackendFactory.Create(Device.Cpu);
        using var model = info.CreateModel(backend);
        Export(model, onnxPath, options);
    }

    /// <summary>The ONNX model for <paramref name="model"/>.</summary>
    internal static ModelProto ToProto(Model model, OnnxExportOptions? options)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxExportOptions();
        options.Validate();
        var proto = new ModelProto
        {
            IrVersion = IrVersion(options.Opset),
            ProducerName = "DeepTrain",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0",
            DocString = $"{model.Name} in evaluation form, exported by DeepTrain (docs/onnx.md)",
            Graph = new OnnxGraphBuilder(model, options).Build(),
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = options.Opset });
        foreach (var (key, value) in Metadata(model, options)) proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return proto;
    }

    /// <summary>The IR version that introduced <paramref name="opset"/> (ONNX's docs/Versioning.md table).</summary>
    private static long IrVersion(int opset) => opset switch { <= 18 => 8, <= 20 => 9, _ => 10 };

    private static IEnumerable<(string, string)> Metadata(Model model, OnnxExportOptions options)
    {
        var graph = model.Graph;
        yield return ("deeptrain.model", graph.Spec?.Name ?? graph.Name);
        yield return ("deeptrain.input_shape", string.Join(',', graph.InputShape.Dims.ToArray()));
        yield return ("deeptrain.classes", graph.OutputShape.Elements.ToString(CultureInfo.InvariantCulture));
        yield return ("deeptrain.batch_norm", options.FoldBatchNorm ? "folded" : "nodes");
        if (options.Normalization is { } n)
        {
            yield return ("deeptrain.normalization", JsonSerializer.Serialize(new Dictionary<string, IReadOnlyList<float>> { ["mean"] = n.Mean, ["std"] = n.Std }));
            yield return ("deeptrain.input", "pixels/255; the graph normalises them (Sub mean, Div std)");
        }
        else yield return ("deeptrain.input", "already normalised; the graph holds no normalisation");
        if (options.ClassNames is { } names) yield return ("deeptrain.class_names", JsonSerializer.Serialize(names));
        foreach (var (key, value) in options.Metadata ?? new Dictionary<string, string>()) yield return (key, value);
    }
}

using DeepTrain.Layers;
using DeepTrain.Modeling;
using DeepTrain.Onnx.Proto;
using DeepTrain.Tensors;

namespace DeepTrain.Onnx;

/// <summary>
/// Walks a model graph in forward order and writes the evaluation form of each layer (OnnxGraphBuilder.Layers.cs):
/// optional input normalisation first, batch norms folded into the convolution before them where that convolution's
/// output feeds nothing else, dropout removed. ONNX value names are the DeepTrain layer names ("layer1.0.conv1"),
/// except the graph's input and output (<see cref="OnnxExporter.InputName"/>, <see cref="OnnxExporter.OutputName"/>).
/// </summary>
internal sealed partial class OnnxGraphBuilder
{
    private readonly ModelGraph _graph;
    private readonly OnnxExportOptions _options;
    private readonly ModelWeights _weights;
    private readonly OnnxGraphWriter _w;
    private readonly Shape[] _shapes;          // every value's shape at batch 1
    private readonly string?[] _names;         // ONNX name of each DeepTrain value, once written
    private readonly List<GraphNode>[] _readers;
    private readonly HashSet<GraphNode> _done = new(ReferenceEqualityComparer.Instance);

    public OnnxGraphBuilder(Model model, OnnxExportOptions options)
    {
        _graph = model.Graph;
        _options = options;
        _weights = new ModelWeights(model);
        _w = new OnnxGraphWriter(_graph.Name);
        _w.Unique(OnnxExporter.InputName);
        _w.Unique(OnnxExporter.OutputName);
        _shapes = _graph.InferShapes(1);
        _names = new string?[_graph.ValueCount];
        _readers = new List<GraphNode>[_graph.ValueCount];
        for (int v = 0; v < _readers.Length; v++) _readers[v] = [];
        foreach (var n in _graph.Nodes)
            foreach (int i in n.Inputs) _readers[i].Add(n);
    }

    /// <summary>The whole graph: input, nodes, initializers, output.</summary>
    public GraphProto Build()
    {
        int[] sample = _graph.InputShape.Dims.ToArray();
        _w.Graph.Input.Add(OnnxGraphWriter.BatchedFloat(OnnxExporter.InputName, OnnxExporter.BatchDimension, sample, InputDoc()));
        _names[0] = _options.Normalization is { } norm ? Normalize(norm) : OnnxExporter.InputName;
        foreach (var n in _graph.Nodes)
            if (_done.Add(n)) Emit(n);
        int output = _graph.Output.Id;
        if (_names[output] != OnnxExporter.OutputName)   // the output is the input, or a removed layer's alias of another value
            _w.Node("Identity", _w.Unique("output"), [Name(output)], OnnxExporter.OutputName);
        _w.Graph.Output.Add(OnnxGraphWriter.BatchedFloat(OnnxExporter.OutputName, OnnxExporter.BatchDimension,
            _graph.OutputShape.Dims.ToArray(), "the model's logits (before softmax), one row per sample"));
        return _w.Graph;
    }

    private string InputDoc() => _options.Normalization is null
        ? "images (batch, C, H, W), already normalised per channel ((x/255 − mean)/std), as DeepTrain's plan input"
        : "images (batch, C, H, W) as pixel values scaled to [0, 1] (byte/255); the graph normalises them per channel";

    /// <summary>(x − mean)/std per channel, as <see cref="Data.Normalization"/> computes it (a Sub, then a Div).</summary>
    private string Normalize(Data.Normalization norm)
    {
        var shape = _graph.InputShape;
        int c = shape.Rank == 3 ? shape.Dims[0] : 1;   // a per-sample (C, H, W): Shape.C is dimension 1 of a batched shape
        if (norm.Channels != c)
            throw new ArgumentException($"OnnxExportOptions.Normalization has {norm.Channels} channel(s); model '{_graph.Name}' takes input {shape} ({c} channel(s))", nameof(OnnxExportOptions.Normalization));
        long[] dims = shape.Rank == 3 ? [c, 1, 1] : [1];
        string mean = _w.Float("input.mean", norm.Mean.ToArray(), dims);
        string std = _w.Float("input.std", norm.Std.ToArray(), dims);
        string centred = _w.Unique("input.centred"), normalized = _w.Unique("input.normalized");
        _w.Node("Sub", _w.Unique("input.sub_mean"), [OnnxExporter.InputName, mean], centred);
        _w.Node("Div", _w.Unique("input.div_std"), [centred, std], normalized);
        return normalized;
    }

    /// <summary>The ONNX name of value <paramref name="v"/> (already written).</summary>
    private string Name(int v) => _names[v] ?? throw new InvalidOperationException($"value {v} of model '{_graph.Name}' was read before it was written");

    /// <summary>Names the value <paramref name="v"/> that <paramref name="layer"/>'s node is about to write.</summary>
    private string Define(int v, Layer layer)
        => _names[v] = v == _graph.Output.Id ? OnnxExporter.OutputName : _w.Unique(layer.Name);

    /// <summary>The batch norm that reads <paramref name="n"/>'s output and nothing else does, when folding is on.</summary>
    private GraphNode? FoldableBatchNorm(GraphNode n)
    {
        if (!_options.FoldBatchNorm || n.Output == _graph.Output.Id || _readers[n.Output].Count != 1) return null;
        var reader = _readers[n.Output][0];
        return reader.Layer is BatchNorm bn && bn.Kind == "BatchNorm2d" ? reader : null;
    }

    private OnnxExportException Unsupported(Layer layer, string why)
        => new(layer.Name, layer.Kind, $"{layer.Kind} '{layer.Name}': {why}");
}

using DeepTrain.Layers;
using DeepTrain.Tensors;

namespace DeepTrain.Modeling;

/// <summary>A value in a model graph: the data input or one layer's output.</summary>
public readonly record struct Node(int Id);

/// <summary>One layer application: the layer, the values it reads and the value it produces.</summary>
public sealed record GraphNode(Layer Layer, int[] Inputs, int Output);

/// <summary>
/// A static directed acyclic graph of layers, built in topological order by construction: a layer can only
/// read values that already exist. Node i produces value i + 1; value 0 is the data input. Shapes are
/// checked as layers are added (batch 1), so a model that does not fit fails where it is built, naming
/// the layer. Nothing walks this graph recursively.
/// </summary>
public sealed class ModelGraph
{
    private readonly List<GraphNode> _nodes = [];
    private readonly List<Shape> _sampleShapes = [];
    private readonly Stack<string> _scopes = new();
    private readonly HashSet<string> _names = [];
    private readonly HashSet<Layer> _layers = new(ReferenceEqualityComparer.Instance);
    private int _output = -1;

    /// <summary>Creates an empty graph whose data input has per-sample shape <paramref name="inputShape"/> (C, H, W) or (features).</summary>
    public ModelGraph(string name, Shape inputShape)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (inputShape.Rank is not (1 or 3)) throw new ArgumentException($"model '{name}': input shape {inputShape} must be (C, H, W) or (features)", nameof(inputShape));
        Name = name;
        InputShape = inputShape;
        _sampleShapes.Add(inputShape.Prepend(1));
    }

    /// <summary>The model's name ("resnet20").</summary>
    public string Name { get; }
    /// <summary>Per-sample input shape.</summary>
    public Shape InputShape { get; }
    /// <summary>The built-in model and arguments this graph was built from (<see cref="Zoo.ModelZoo.Create(Zoo.ModelSpec)"/> sets it); null for a graph built by hand.</summary>
    public Zoo.ModelSpec? Spec { get; internal set; }
    /// <summary>The data input.</summary>
    public Node Input => new(0);
    /// <summary>The layers in forward order.</summary>
    public IReadOnlyList<GraphNode> Nodes => _nodes;
    /// <summary>Number of values (data input plus one per layer).</summary>
    public int ValueCount => _nodes.Count + 1;
    /// <summary>The value the loss reads: the one set by <see cref="SetOutput"/>, else the last layer's.</summary>
    public Node Output => new(_output >= 0 ? _output : _nodes.Count);
    /// <summary>Per-sample output shape.</summary>
    public Shape OutputShape => _sampleShapes[Output.Id].DropFirst();

    /// <summary>
    /// Names layers added inside the returned scope with a dotted prefix, as PyTorch's module tree does
    /// ("layer1" then "0" then "conv1" → "layer1.0.conv1").
    /// </summary>
    public IDisposable Scope(string prefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        _scopes.Push(prefix);
        return new ScopeExit(_scopes);
    }

    /// <summary>Applies <paramref name="layer"/> to <paramref name="inputs"/> and returns its output.</summary>
    /// <exception cref="ArgumentException">The name is taken, the layer was already added, or an input is not a value of this graph.</exception>
    /// <exception cref="LayerShapeException">The inputs do not fit the layer.</exception>
    public Node Apply(string name, Layer layer, params Node[] inputs)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        string full = _scopes.Count == 0 ? name : string.Join('.', _scopes.Reverse()) + "." + name;
        if (!_names.Add(full)) throw new ArgumentException($"model '{Name}': a layer named '{full}' already exists", nameof(name));
        if (!_layers.Add(layer)) throw new ArgumentException($"model '{Name}': {layer} was already added; create a new layer object for '{full}'", nameof(layer));
        layer.Name = full;
        if (inputs.Length != layer.InputCount) throw new LayerShapeException($"{layer.Kind} '{full}': takes {layer.InputCount} input(s), got {inputs.Length}");
        var shapes = new Shape[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i].Id < 0 || inputs[i].Id > _nodes.Count) throw new ArgumentException($"{layer.Kind} '{full}': input {i} is not a value of model '{Name}'", nameof(inputs));
            shapes[i] = _sampleShapes[inputs[i].Id];
        }
        _sampleShapes.Add(layer.OutputShape(shapes));
        _nodes.Add(new GraphNode(layer, Array.ConvertAll(inputs, n => n.Id), _nodes.Count + 1));
        return new Node(_nodes.Count);
    }

    /// <summary>Marks <paramref name="node"/> as the value the loss reads.</summary>
    public void SetOutput(Node node) => _output = node.Id;

    /// <summary>Infers every value's shape at batch size <paramref name="batch"/>, in forward order.</summary>
    /// <exception cref="LayerShapeException">A layer rejects its inputs.</exception>
    public Shape[] InferShapes(int batch)
    {
        var shapes = new Shape[ValueCount];
        shapes[0] = InputShape.Prepend(batch);
        var ins = new Shape[4];
        foreach (var n in _nodes)
        {
            if (ins.Length < n.Inputs.Length) ins = new Shape[n.Inputs.Length];
            for (int i = 0; i < n.Inputs.Length; i++) ins[i] = shapes[n.Inputs[i]];
            shapes[n.Output] = n.Layer.OutputShape(ins.AsSpan(0, n.Inputs.Length));
        }
        return shapes;
    }

    private sealed class ScopeExit(Stack<string> scopes) : IDisposable
    {
        private bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            scopes.Pop();
        }
    }
}

using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Graph;

/// <summary>
/// A graph bound to a backend: its parameters, gradients and buffers live in one <see cref="ParameterSet"/>
/// on that backend. Compile it into plans (one for training, one for evaluation, at any batch size);
/// the plans share the parameters. Dispose the plans before the model.
/// </summary>
public sealed class Model : IDisposable
{
    /// <summary>
    /// Binds <paramref name="graph"/> to <paramref name="backend"/> and initialises the parameters from
    /// <paramref name="seed"/>. <paramref name="groups"/> gives parameters their own learning-rate scale,
    /// weight decay or freezing, by name prefix (first match wins).
    /// </summary>
    /// <exception cref="ArgumentException">A group matches no parameter, or has a negative learning-rate scale or decay.</exception>
    public Model(ModelGraph graph, IBackend backend, ulong seed = 0, IReadOnlyList<ParameterGroupRule>? groups = null)
    {
        foreach (var g in groups ?? [])
            if (!(g.LrScale >= 0) || g.WeightDecay is < 0)
                throw new ArgumentException($"parameter group '{g.Prefix}': the learning-rate scale and weight decay must be ≥ 0, got {g.LrScale} and {g.WeightDecay}", nameof(groups));
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(backend);
        Graph = graph;
        Backend = backend;
        Parameters = new ParameterSet(backend, graph.Nodes.Select(n => n.Layer).ToArray(), groups);
        Parameters.Initialize(seed);
    }

    /// <summary>The layer graph.</summary>
    public ModelGraph Graph { get; }
    /// <summary>The backend every plan of this model computes on.</summary>
    public IBackend Backend { get; }
    /// <summary>Parameters, gradients and buffers.</summary>
    public ParameterSet Parameters { get; }
    /// <summary>The model's name.</summary>
    public string Name => Graph.Name;

    /// <summary>
    /// Compiles an execution plan for <paramref name="batchSize"/> samples at <paramref name="precision"/>. A 16-bit
    /// plan stores activations in 16 bits and makes the parameters' 16-bit working copy (see
    /// <see cref="ParameterSet.WorkingCopy"/>); the data input, the logits and the loss stay fp32.
    /// </summary>
    /// <exception cref="LayerShapeException">A layer rejects its input at this size.</exception>
    /// <exception cref="NotSupportedException">The backend cannot run this precision (the message says why).</exception>
    /// <exception cref="InvalidOperationException">Another plan of this model uses another 16-bit precision.</exception>
    public Plan Compile(int batchSize, bool training, Loss loss, Layout layout = Layout.NCHW, Precision precision = Precision.Float32)
    {
        if (!Backend.SupportsPrecision(precision, out string reason))
            throw new NotSupportedException($"model '{Name}': {Backend.Description} cannot train at {precision.Name()}: {reason}");
        var memory = Planner.Build(Graph, batchSize, training, layout, precision);
        if (precision != Precision.Float32) Parameters.EnsureWorkingCopy(precision.ActivationDType());
        return new Plan(this, memory, loss);
    }

    /// <summary>Trainable and buffer scalar counts of a graph, without allocating it.</summary>
    public static (long Trainable, long Buffers) Count(ModelGraph graph)
    {
        long p = 0, b = 0;
        foreach (var n in graph.Nodes)
        {
            foreach (var s in n.Layer.Parameters) p += s.Shape.Elements;
            foreach (var s in n.Layer.Buffers) b += s.Shape.Elements;
        }
        return (p, b);
    }

    /// <inheritdoc />
    public void Dispose() => Parameters.Dispose();
}

using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Modeling;

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

    /// <summary>
    /// A forward-only model (inference): its parameter set has no gradient allocation, and only evaluation and
    /// forward-only plans compile. The parameters start initialised from seed 0; load weights before use.
    /// </summary>
    internal static Model ForwardOnly(ModelGraph graph, IBackend backend) => new(graph, backend, gradients: false);

    private Model(ModelGraph graph, IBackend backend, bool gradients)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(backend);
        Graph = graph;
        Backend = backend;
        Parameters = new ParameterSet(backend, graph.Nodes.Select(n => n.Layer).ToArray(), null, gradients);
        Parameters.Initialize(0);
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
    /// <exception cref="InsufficientMemoryForPlanException">The plan's activation arena and input need more memory than the backend reports available; nothing was allocated.</exception>
    /// <exception cref="InvalidOperationException">A training plan of a forward-only model (it has no gradients).</exception>
    public Plan Compile(int batchSize, bool training, Loss loss, Layout layout = Layout.NCHW, Precision precision = Precision.Float32)
    {
        ArgumentNullException.ThrowIfNull(loss);
        if (training && !Parameters.HasGradients)
            throw new InvalidOperationException($"model '{Name}' is forward-only (made for inference): it has no gradients, so it compiles no training plan");
        return new Plan(this, PlanMemory(batchSize, training, layout, precision), loss, Backend);
    }

    /// <summary>Whether plans compiled from now on fuse layer pairs (<see cref="TrainingFusion"/>); null: as <see cref="TrainingFusion.Variable"/> says.</summary>
    internal bool? Fusion { get; set; }

    /// <summary>
    /// The memory plan of a plan about to be compiled, after the checks <see cref="Compile(int, bool, Loss, Layout, Precision)"/>
    /// makes (precision supported, the plan fits), with the 16-bit working copy made when needed. Inference contexts call it
    /// for each plan size, then build forward-only plans over one shared arena.
    /// </summary>
    internal MemoryPlan PlanMemory(int batchSize, bool training, Layout layout, Precision precision)
    {
        if (!Backend.SupportsPrecision(precision, out string reason))
            throw new NotSupportedException($"model '{Name}': {Backend.Description} cannot {(training ? "train" : "run")} at {precision.Name()}: {reason}");
        var memory = Planner.Build(Graph, batchSize, training, layout, precision, Fusion ?? TrainingFusion.Enabled);
        EnsureFits(memory, batchSize);
        if (precision != Precision.Float32) Parameters.EnsureWorkingCopy(precision.ActivationDType());
        return memory;
    }

    /// <summary>
    /// Refuses a plan whose own allocations (the activation arena and the data input) exceed what the backend
    /// reports available, before allocating: the planner knows the bytes, so a batch too large is a sentence with
    /// both figures rather than an out-of-memory error from deep inside the allocator.
    /// </summary>
    private void EnsureFits(MemoryPlan memory, int batchSize)
    {
        if (Backend.AvailableMemoryBytes is not { } available) return;
        long input = memory.Shapes[0].Elements * sizeof(float) + (memory.ConvertsInput ? memory.InputBytes : 0);
        long planned = memory.ArenaBytes + input;
        if (planned <= available) return;
        // The largest single activation says where the memory goes.
        var largest = Graph.Nodes.MaxBy(n => memory.Shapes[n.Output].Elements)!;
        throw new InsufficientMemoryForPlanException(
            $"model '{Name}' at batch size {batchSize} ({(memory.Training ? "training" : "evaluation")}, {memory.Precision.Name()}) plans " +
            $"{Size(planned)} ({planned} bytes: activation arena {memory.ArenaBytes}, input {input}; largest activation " +
            $"'{largest.Layer.Name}' {memory.Shapes[largest.Output]}), but {Backend.Description} has {Size(available)} ({available} bytes) " +
            "available; expected the plan to fit: use a smaller batch size",
            batchSize, planned, available);
    }

    private static string Size(long b) => b >= 1L << 30 ? $"{b / (double)(1L << 30):F2} GiB" : $"{b / (double)(1L << 20):F2} MiB";

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

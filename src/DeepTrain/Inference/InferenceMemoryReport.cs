using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Mixed;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Inference;

/// <summary>
/// The memory an <see cref="InferenceSession"/> holds at most, in bytes, known before anything is allocated: the weights
/// (parameters, batch-norm buffers, a 16-bit copy at fp16/bf16) once, and per execution context one activation arena and one
/// input buffer sized for the largest plan, plus the largest convolution workspace the backend reports; on a CUDA device each
/// context also pins host staging (<see cref="CudaStagingBytes"/>). A CPU session also keeps its convolutions' weights prepared
/// once for the kernels (<see cref="PreparedWeights"/>).
/// </summary>
/// <param name="Weights">Parameters and buffers (fp32), shared by every context.</param>
/// <param name="WorkingCopy">The 16-bit copy of the weights (0 at fp32).</param>
/// <param name="ContextBytes">One context: arena, input and workspace.</param>
/// <param name="Contexts">How many contexts may exist (<see cref="InferenceSessionOptions.MaxConcurrency"/>).</param>
/// <param name="PlanSizes">The compiled batch sizes.</param>
public sealed record InferenceMemoryReport(long Weights, long WorkingCopy, long ContextBytes, int Contexts, IReadOnlyList<int> PlanSizes)
{
    /// <summary>Weights once plus every context: the session's bound.</summary>
    public long Total => Weights + WorkingCopy + PreparedWeights + (long)Contexts * ContextBytes;

    /// <summary>
    /// On the CPU: the convolutions' weights as the kernels read them, made once at load and shared by every context (each
    /// convolution's packed GEMM operand, and each 3×3 stride-1 ungrouped one's Winograd transform, ~1.8× its weights); 0 on
    /// other devices.
    /// </summary>
    public long PreparedWeights { get; init; }

    /// <summary>
    /// Pinned (page-locked) host bytes one context holds on a CUDA device: staging for the largest plan's input and output,
    /// fp32. Host memory, so not in <see cref="Total"/>; a CPU session pins nothing.
    /// </summary>
    public long CudaStagingBytes { get; init; }

    /// <summary>The report for <paramref name="graph"/> under <paramref name="options"/>; <paramref name="backend"/> sizes convolution workspaces (null: none counted).</summary>
    /// <exception cref="ArgumentException">The options are out of range.</exception>
    public static InferenceMemoryReport For(ModelGraph graph, InferenceSessionOptions options, IBackend? backend = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(options);
        var sizes = options.ResolvePlanSizes();
        // A fusing session plans (and holds weights for) the folded graph.
        if (options.FuseLayers && InferenceFusion.Applies(graph)) graph = InferenceFusion.RewriteGraph(graph).Graph;
        var layout = options.Layout ?? Layout.NCHW;
        var memories = sizes.Select(n => Planner.Build(graph, n, training: false, layout, options.Precision)).ToArray();
        var (pf, bf) = ParameterSet.PlannedFloats(graph.Nodes.Select(n => n.Layer));
        long workspace = MemoryReport.For(graph, memories[^1], 0, backend).Workspace;
        long context = Math.Max(memories.Max(m => m.ArenaBytes), 1) + memories.Max(m => m.InputBytes + MemoryPlan.Alignment) + workspace;
        long working = options.Precision == Mixed.Precision.Float32 ? 0 : pf * options.Precision.ActivationDType().Size();
        var (stageIn, stageOut) = InferenceContext.StagingBytesFor(graph, memories);
        return new InferenceMemoryReport((pf + bf) * 4, working, context, options.MaxConcurrency, sizes)
        {
            CudaStagingBytes = Backends.Cuda.CudaStaging.BytesFor(stageIn, stageOut),
            PreparedWeights = options.Device.Kind == DeviceKind.Cpu ? InferenceSession.PreparedWeightFloats(graph) * sizeof(float) : 0,
        };
    }
}

using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Inference;

/// <summary>
/// How an <see cref="InferenceSession"/> runs: where, at what precision and layout, the largest batch, the compiled plan
/// sizes and how many requests may run at once. Memory is bounded by these: the weights once, plus
/// <see cref="MaxConcurrency"/> execution contexts, each holding one arena for its largest plan size and, on a GPU, pinned
/// host staging for that plan's input and logits (<see cref="InferenceMemoryReport.For"/>; <c>deeptrain plan --eval</c> prints it).
/// </summary>
public sealed record InferenceSessionOptions
{
    /// <summary>The device a session loaded from a checkpoint runs on (default: the CPU). A session made from a model uses the model's backend.</summary>
    public Device Device { get; init; } = Device.Cpu;

    /// <summary>The precision activations are stored in (default fp32); fp16 and bf16 plans read a 16-bit copy of the weights.</summary>
    public Precision Precision { get; init; } = Precision.Float32;

    /// <summary>The activation layout; null: the layout the checkpoint records (NCHW for a model).</summary>
    public Layout? Layout { get; init; }

    /// <summary>The largest batch one <c>Run</c> accepts (default 64).</summary>
    public int MaxBatchSize { get; init; } = 64;

    /// <summary>
    /// How many <c>Run</c> calls compute at once, each in its own execution context (default: the processor count, at most 8);
    /// further callers wait for a context.
    /// </summary>
    public int MaxConcurrency { get; init; } = Math.Min(Environment.ProcessorCount, 8);

    /// <summary>
    /// The batch sizes plans are compiled for, ascending, the last equal to <see cref="MaxBatchSize"/>; a request is padded
    /// up to the next one. Null: 1, 8 and <see cref="MaxBatchSize"/> (those not above it).
    /// </summary>
    public IReadOnlyList<int>? PlanBatchSizes { get; init; }

    /// <summary>Logits or probabilities (default logits).</summary>
    public InferenceOutput Output { get; init; } = InferenceOutput.Logits;

    /// <summary>
    /// Fold each batch norm into the convolution before it, add a residual (the other input of an Add that reads only a
    /// convolution) and apply a ReLU that follows either in the convolution's epilogue (default true), as ONNX Runtime and
    /// PyTorch's inference optimisers do. The session then serves a folded copy of
    /// the weights (a session made from a model holds that copy beside the model's; a loaded session keeps only the copy); the
    /// logits differ from the unfolded evaluation plan's by rounding only. False: the model's layers run as they are.
    /// </summary>
    public bool FuseLayers { get; init; } = true;

    /// <summary>Coalesce concurrent small requests into one forward pass; null (default): every request runs on its own.</summary>
    public DynamicBatchingOptions? DynamicBatching { get; init; }

    /// <summary>The plan sizes these options give, checked.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the property and what was expected.</exception>
    internal int[] ResolvePlanSizes()
    {
        if (MaxBatchSize < 1) throw Bad(nameof(MaxBatchSize), $"is {MaxBatchSize}; expected at least 1");
        if (MaxConcurrency < 1) throw Bad(nameof(MaxConcurrency), $"is {MaxConcurrency}; expected at least 1");
        if (DynamicBatching is { } d)
        {
            if (d.MaxDelay < TimeSpan.Zero || d.MaxDelay > TimeSpan.FromSeconds(10))
                throw Bad("DynamicBatching.MaxDelay", $"is {d.MaxDelay}; expected between 0 and 10 s");
            if (d.MaxBatchSize is { } m && (m < 1 || m > MaxBatchSize))
                throw Bad("DynamicBatching.MaxBatchSize", $"is {m}; expected 1 to MaxBatchSize ({MaxBatchSize})");
        }
        int[] sizes = PlanBatchSizes?.ToArray() ?? new[] { 1, 8, MaxBatchSize }.Where(s => s <= MaxBatchSize).Distinct().ToArray();
        if (sizes.Length == 0) throw Bad(nameof(PlanBatchSizes), "is empty; expected ascending batch sizes ending at MaxBatchSize");
        for (int i = 0; i < sizes.Length; i++)
            if (sizes[i] < 1 || (i > 0 && sizes[i] <= sizes[i - 1]))
                throw Bad(nameof(PlanBatchSizes), $"is [{string.Join(", ", sizes)}]; expected positive sizes in ascending order");
        if (sizes[^1] != MaxBatchSize)
            throw Bad(nameof(PlanBatchSizes), $"ends at {sizes[^1]}; expected it to end at MaxBatchSize ({MaxBatchSize}), the plan that serves the largest request");
        return sizes;
    }

    private static ArgumentException Bad(string property, string detail)
        => new($"InferenceSessionOptions.{property} {detail}", "options");
}

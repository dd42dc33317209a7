using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>What a layer's backward reads besides the gradient of its output.</summary>
[Flags]
public enum Saved
{
    /// <summary>Nothing (Add, AvgPool, Dropout: the mask is regenerated from its seed).</summary>
    None = 0,
    /// <summary>The forward inputs (Conv2d, Linear, BatchNorm).</summary>
    Inputs = 1,
    /// <summary>The forward output (ReLU, Sigmoid, Tanh).</summary>
    Output = 2,
}

/// <summary>A trainable tensor a layer declares: its name within the layer, shape and initialiser.</summary>
/// <param name="Name">Local name, e.g. "weight"; the full name is "&lt;layer&gt;.weight" as in a PyTorch state_dict.</param>
/// <param name="Shape">Shape, e.g. (K, C/groups, KH, KW).</param>
/// <param name="Init">Initialiser.</param>
/// <param name="FanIn">Fan-in for the initialiser.</param>
/// <param name="FanOut">Fan-out for the initialiser.</param>
/// <param name="Decay">
/// Whether weight decay applies. The rule, stated once: weights of Conv2d and Linear decay; biases and
/// batch-norm γ/β do not, unless an optimizer is told otherwise.
/// </param>
public sealed record ParamSpec(string Name, Shape Shape, Init Init, int FanIn, int FanOut, bool Decay);

/// <summary>A non-trainable state tensor (batch-norm running statistics) with its initial value.</summary>
public sealed record BufferSpec(string Name, Shape Shape, float InitialValue);

/// <summary>
/// One node type of a model graph. A layer declares its output shape, its parameters and buffers, what
/// its backward needs saved and whether it may overwrite its input; it computes only through the
/// backend handed to it in a <see cref="Step"/>. Layers hold hyper-parameters, never tensors: the
/// same layer object can be compiled into several plans (training and evaluation).
/// </summary>
public abstract class Layer
{
    /// <summary>Full dotted name in the model ("layer1.0.conv1"), set when it is added to a graph.</summary>
    public string Name { get; internal set; } = "";

    /// <summary>The type name PyTorch users know ("Conv2d").</summary>
    public virtual string Kind => GetType().Name;

    /// <summary>Number of inputs (2 for Add).</summary>
    public virtual int InputCount => 1;

    /// <summary>
    /// The output shape for these input shapes (batch dimension included). Throws
    /// <see cref="LayerShapeException"/> naming this layer when an input does not fit.
    /// </summary>
    public abstract Shape OutputShape(ReadOnlySpan<Shape> inputs);

    /// <summary>Trainable parameters, in the order <see cref="Step.Param"/> indexes them.</summary>
    public virtual IReadOnlyList<ParamSpec> Parameters => [];

    /// <summary>Non-trainable state, in the order <see cref="Step.Buffer"/> indexes them.</summary>
    public virtual IReadOnlyList<BufferSpec> Buffers => [];

    /// <summary>Scratch tensors saved from forward to backward (e.g. batch-norm's batch mean and 1/σ).</summary>
    public virtual IReadOnlyList<Shape> AuxShapes(ReadOnlySpan<Shape> inputs) => [];

    /// <summary>What backward reads.</summary>
    public virtual Saved Saves => Saved.Inputs;

    /// <summary>
    /// True when forward may write its output over its (single) input and backward may write the input
    /// gradient over the output gradient: element-wise layers whose backward needs only y, or nothing.
    /// </summary>
    public virtual bool MayRunInPlace => false;

    /// <summary>
    /// True when backward must write an input gradient even for the model's data input, because the
    /// backend computes it together with the parameter gradients (batch norm).
    /// </summary>
    public virtual bool RequiresInputGradient => false;

    /// <summary>
    /// True when the output is the input's bytes seen with another shape (Flatten): sharing the buffer
    /// changes no value, so the planner may alias even an input that backward still reads.
    /// </summary>
    public virtual bool IsView => false;

    /// <summary>
    /// True when, in a 16-bit plan, forward and backward read this layer's parameters from the model's 16-bit
    /// working copy (convolution and linear weights, as autocast casts them); false keeps them in fp32 (batch
    /// norm's γ and β, PReLU's slopes). Gradients are fp32 either way.
    /// </summary>
    public virtual bool UsesWorkingCopy => false;

    /// <summary>Computes the output from the inputs.</summary>
    public abstract void Forward(Step s);

    /// <summary>Computes the input and parameter gradients from the output gradient.</summary>
    public abstract void Backward(Step s);

    /// <summary>Throws a <see cref="LayerShapeException"/> for this layer.</summary>
    protected LayerShapeException ShapeError(string message) => new($"{Kind} '{Name}': {message}");

    /// <summary>Checks the input count and that input 0 has <paramref name="rank"/> dimensions.</summary>
    protected void ExpectRank(ReadOnlySpan<Shape> inputs, int rank)
    {
        if (inputs.Length != InputCount) throw ShapeError($"takes {InputCount} input(s), got {inputs.Length}");
        if (inputs[0].Rank != rank) throw ShapeError($"input has shape {inputs[0]}, expected {rank} dimensions {(rank == 4 ? "(N, C, H, W)" : "(N, features)")}");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Kind} '{Name}'";
}

using DeepTrain.Layers;
using DeepTrain.Mixed;
using DeepTrain.Tensors;

namespace DeepTrain.Modeling;

/// <summary>What a planned buffer holds.</summary>
public enum BufferKind
{
    /// <summary>A layer output (or a chain of outputs computed in place over each other).</summary>
    Activation,
    /// <summary>The gradient of an activation.</summary>
    Gradient,
    /// <summary>Scratch saved by a layer from forward to backward.</summary>
    Saved,
}

/// <summary>
/// One buffer of the arena: its size, the plan steps during which it must hold its contents (inclusive),
/// its element type and its byte offset. Time runs forward 0..L−1, the loss at L, backward L+1..2L (node i's backward at 2L − i).
/// </summary>
public sealed record PlannedBuffer(BufferKind Kind, long Bytes, int Birth, int Death, string Description, DType DType = DType.Float32)
{
    /// <summary>Byte offset in the arena, set by the packer.</summary>
    public long Offset { get; internal set; } = -1;
}

/// <summary>
/// The static memory plan of one (graph, batch, mode, layout): every value's shape, which values share a
/// buffer because a layer runs in place, every buffer's lifetime and its offset in one arena packed by
/// lifetime. Computed without touching a device, so <c>deeptrain plan</c> can print it.
/// </summary>
public sealed class MemoryPlan
{
    /// <summary>Arena alignment of every buffer (cuDNN and AVX-512 alike are happy with 256).</summary>
    public const int Alignment = 256;

    internal MemoryPlan() { }

    /// <summary>Batch size.</summary>
    public int BatchSize { get; internal init; }
    /// <summary>Whether the plan trains (keeps what backward needs, has gradients).</summary>
    public bool Training { get; internal init; }
    /// <summary>Layout of rank-4 activations.</summary>
    public Layout Layout { get; internal init; }
    /// <summary>The precision activations and activation gradients are stored in.</summary>
    public Precision Precision { get; internal init; }
    /// <summary>Every value's shape (value 0 is the data).</summary>
    public Shape[] Shapes { get; internal init; } = [];
    /// <summary>Activation buffer index per value (−1 for the data input, which lives outside the arena).</summary>
    public int[] ValueBuffer { get; internal init; } = [];
    /// <summary>Gradient buffer index per value, or −1 when the value needs no gradient.</summary>
    public int[] GradBuffer { get; internal init; } = [];
    /// <summary>Saved-scratch buffer indices per node.</summary>
    public int[][] AuxBuffers { get; internal init; } = [];
    /// <summary>Saved-scratch shapes per node, parallel to <see cref="AuxBuffers"/>: the layer's own, and a fused batch norm's saved scale.</summary>
    internal Shape[][] AuxShapes { get; init; } = [];
    /// <summary>Per node: a batch norm that runs fused with the ReLU reading its output (<see cref="TrainingFusion"/>).</summary>
    internal bool[] FusedRelu { get; init; } = [];
    /// <summary>Per node: a ReLU whose work its batch norm's step does.</summary>
    internal bool[] FusedIntoProducer { get; init; } = [];
    /// <summary>Number of batch norm + ReLU pairs a training plan runs as one step each (on backends that fuse them; see <c>docs/architecture.md</c>).</summary>
    public int FusedCount => FusedRelu.Count(b => b);
    /// <summary>Per node and input slot: whether backward adds to the input's gradient (another consumer wrote it first).</summary>
    public bool[][] Accumulate { get; internal init; } = [];
    /// <summary>Per node: whether it runs in place over its input.</summary>
    public bool[] InPlace { get; internal init; } = [];
    /// <summary>All buffers with their offsets.</summary>
    public IReadOnlyList<PlannedBuffer> Buffers { get; internal init; } = [];
    /// <summary>Bytes of the packed arena.</summary>
    public long ArenaBytes { get; internal init; }
    /// <summary>Bytes the same buffers would need without sharing by lifetime (each its own allocation).</summary>
    public long UnpackedBytes { get; internal init; }
    /// <summary>Bytes of the data-input tensor (kept outside the arena so the next batch can be copied in early).</summary>
    public long InputBytes { get; internal init; }

    /// <summary>
    /// True when the network reads its input in another form than the host writes it (fp32, NCHW: the data's
    /// format): an NHWC plan or a 16-bit plan. The plan then converts <c>Plan.Input</c> into a second buffer
    /// of <see cref="NetworkInputDType"/> in <see cref="Layout"/> with one backend copy at the start of every
    /// forward; <see cref="InputBytes"/> counts both.
    /// </summary>
    public bool ConvertsInput => (Layout != Layout.NCHW && Shapes[0].Rank == 4) || Precision != Mixed.Precision.Float32;

    /// <summary>The element type the first layer reads: the plan's activation type.</summary>
    public DType NetworkInputDType => Precision.ActivationDType();

    /// <summary>Number of layers that run in place.</summary>
    public int InPlaceCount => InPlace.Count(b => b);
}

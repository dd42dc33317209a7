using DeepTrain.Backends;
using DeepTrain.Tensors;

namespace DeepTrain.Layers;

/// <summary>
/// Everything one layer of one compiled plan computes with: the backend and the views of its inputs,
/// output, gradients, parameters, buffers and saved scratch. Built once at compile time, so a training
/// step allocates nothing. All tensors are views into memory owned by the plan or the model.
/// </summary>
public sealed class Step
{
    internal Step(IBackend backend, ExecutionState state, Layer layer, int index)
    {
        Backend = backend;
        State = state;
        Layer = layer;
        Index = index;
    }

    /// <summary>The backend to compute with.</summary>
    public IBackend Backend { get; }
    /// <summary>The layer.</summary>
    public Layer Layer { get; }
    /// <summary>Position of the layer in the plan's forward order.</summary>
    public int Index { get; }
    internal ExecutionState State { get; }

    internal Tensor[] Inputs = [];
    internal Tensor Output = null!;
    internal Tensor? OutputGrad;
    internal Tensor?[] InputGrads = [];
    internal bool[] AccumulateInputGrads = [];
    internal Tensor[] Params = [];
    internal Tensor[] Grads = [];
    internal Tensor[] Buffers = [];
    internal Tensor[] Aux = [];

    /// <summary>
    /// Set by the planner on a training plan's batch norm whose output only a ReLU reads (<see cref="Modeling.MemoryPlan"/>'s
    /// fused pairs): the two run as one step where <see cref="FusionRuns"/>. Where it does not, each runs its own.
    /// </summary>
    internal bool FusedRelu;
    /// <summary>Set on that ReLU's step: its forward and backward are done by its producer's step where <see cref="FusionRuns"/>.</summary>
    internal bool FusedIntoProducer;

    /// <summary>
    /// True when this step is half of a fused batch norm + ReLU pair that runs fused now: a training pass on the CPU backend,
    /// fp32 NCHW, without sync batch norm (whose exchange is built from unfused operations) and not switched off for the
    /// run (<see cref="ExecutionState.Unfused"/>). Both steps of a pair answer alike: same backend, state and output buffer.
    /// </summary>
    internal bool FusionRuns => (FusedRelu || FusedIntoProducer) && State.Training && !State.Unfused && State.SyncBatchNorm is null
        && Backend is Backends.Cpu.CpuBackend && Backends.Cpu.CpuBackend.FusesBatchNormRelu(Output);

    /// <summary>True in a training plan (batch statistics, dropout active); false in evaluation.</summary>
    public bool Training => State.Training;

    /// <summary>Training steps taken so far (0 during the first).</summary>
    public long Iteration => State.Iteration;

    /// <summary>A seed unique to this layer and iteration (dropout masks), derived from the run's seed.</summary>
    public ulong Seed => Utils.Rng.Derive(State.Seed, (ulong)Iteration * 65537UL + (ulong)Index);

    /// <summary>True when parameter gradients must be added to (gradient accumulation) rather than overwritten.</summary>
    public bool AccumulateParamGrads => State.AccumulateParamGrads;

    /// <summary>Input <paramref name="i"/>.</summary>
    public Tensor In(int i) => Inputs[i];
    /// <summary>The output.</summary>
    public Tensor Out(int i = 0) => Output;
    /// <summary>Gradient of the loss with respect to the output.</summary>
    public Tensor GradOut(int i = 0) => OutputGrad ?? throw new InvalidOperationException($"{Layer}: no output gradient in an evaluation plan");
    /// <summary>Where the gradient of input <paramref name="i"/> goes, or null when that input needs none (the data).</summary>
    public Tensor? GradIn(int i) => InputGrads[i];
    /// <summary>True when the gradient of input <paramref name="i"/> must be added (the input feeds several layers).</summary>
    public bool AccumulateGradIn(int i) => AccumulateInputGrads[i];
    /// <summary>Parameter <paramref name="i"/> in <see cref="Layer.Parameters"/> order.</summary>
    public Tensor Param(int i) => Params[i];
    /// <summary>Gradient of parameter <paramref name="i"/>.</summary>
    public Tensor Grad(int i) => Grads[i];
    /// <summary>Buffer <paramref name="i"/> in <see cref="Layer.Buffers"/> order.</summary>
    public Tensor Buffer(int i) => Buffers[i];
    /// <summary>Saved scratch tensor <paramref name="i"/> in <see cref="Layer.AuxShapes"/> order.</summary>
    public Tensor SavedAux(int i) => Aux[i];
}

/// <summary>Run-wide state shared by every step of a plan.</summary>
public sealed class ExecutionState
{
    /// <summary>Training or evaluation.</summary>
    public bool Training { get; set; }
    /// <summary>Completed training iterations.</summary>
    public long Iteration { get; set; }
    /// <summary>The run's seed (dropout masks).</summary>
    public ulong Seed { get; set; }
    /// <summary>Add parameter gradients instead of overwriting them (micro-batch accumulation).</summary>
    public bool AccumulateParamGrads { get; set; }
    /// <summary>Batch-norm statistics over every rank's batch (data parallel with sync batch norm), or null: this batch's.</summary>
    internal ISyncBatchNorm? SyncBatchNorm { get; set; }
    /// <summary>Run fused layer pairs as their separate layers (<see cref="Step.FusionRuns"/>): observers that read every layer's own output set it.</summary>
    internal bool Unfused { get; set; }
}

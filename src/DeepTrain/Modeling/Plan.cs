using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Losses;
using DeepTrain.Memory;
using DeepTrain.Tensors;

namespace DeepTrain.Modeling;

/// <summary>
/// A compiled model: the steps in forward order with every tensor view prepared, one arena holding all
/// activations, gradients and saved scratch as the <see cref="MemoryPlan"/> packed them, and the loss.
/// Running a step allocates nothing. The plan owns its arena and input; it must be disposed before
/// its model. A forward-only plan (<see cref="ForwardOnly"/>, what inference compiles) has no loss, target
/// or loss scalars. A plan is used by one thread at a time; plans of one model may run concurrently on a
/// backend that allows it (the CPU backend), since they only read the shared parameters.
/// </summary>
public sealed class Plan : IDisposable
{
    private readonly Step[] _steps;
    private readonly Tensor? _networkInput;
    private readonly DeviceBuffer _arena, _io;
    private readonly Loss? _loss;
    private readonly Tensor? _target, _lossValue, _correct;

    private readonly bool _ownsBuffers;

    /// <param name="model">The model whose parameters the plan reads.</param>
    /// <param name="memory">The memory plan.</param>
    /// <param name="loss">The loss; null for a forward-only plan.</param>
    /// <param name="backend">The backend to run on (the model's, or one on its device).</param>
    /// <param name="shared">
    /// Forward-only plans of one inference context: the arena and input buffers, at least as large as this plan needs,
    /// shared with the context's other plans (it runs one at a time) and owned by the caller. Null: the plan allocates its own.
    /// </param>
    internal Plan(Model model, MemoryPlan memory, Loss? loss, IBackend backend, (DeviceBuffer Arena, DeviceBuffer Io)? shared = null)
    {
        if (shared is not null && loss is not null) throw new ArgumentException("only forward-only plans share buffers", nameof(shared));
        _ownsBuffers = shared is null;
        Model = model;
        Memory = memory;
        _loss = loss;
        Backend = backend;
        var nodes = model.Graph.Nodes;
        var shapes = memory.Shapes;
        var layout = memory.Layout;
        State = new ExecutionState { Training = memory.Training };

        var outShape = shapes[model.Graph.Output.Id];
        // Data input, target, and the loss's two scalars live outside the arena: the host writes the first
        // two before a step, and the scalars are read after it.
        // The host writes Input as the data come, fp32 NCHW; an NHWC or 16-bit network reads a converted copy
        // placed after it (see MemoryPlan.ConvertsInput), which every forward refreshes with one backend copy.
        long hostIn = Align(shapes[0].Elements * DType.Float32.Size());
        // A forward-only plan (no loss) has the input alone.
        long inBytes = Align(memory.InputBytes);
        long tgtBytes = loss is null ? 0 : Align(loss.TargetShape(outShape).Elements * loss.TargetDType.Size());
        _io = shared?.Io ?? backend.Allocate(inBytes + (loss is null ? 0 : tgtBytes + MemoryPlan.Alignment));
        Input = new Tensor(_io, 0, shapes[0], DType.Float32, Layout.NCHW);
        _networkInput = memory.ConvertsInput ? new Tensor(_io, hostIn, shapes[0], memory.NetworkInputDType, layout) : null;
        if (loss is not null)
        {
            _target = new Tensor(_io, inBytes, loss.TargetShape(outShape), loss.TargetDType);
            _lossValue = new Tensor(_io, inBytes + tgtBytes, Shape.Of(1));
            _correct = new Tensor(_io, inBytes + tgtBytes + 4, Shape.Of(1));
        }

        _arena = shared?.Arena ?? backend.Allocate(Math.Max(memory.ArenaBytes, 1));
        Tensor View(int buffer, Shape shape) => new(_arena, memory.Buffers[buffer].Offset, shape, memory.Buffers[buffer].DType, layout);
        bool reduced = memory.Precision != Mixed.Precision.Float32;
        var values = new Tensor[shapes.Length];
        var grads = new Tensor?[shapes.Length];
        values[0] = _networkInput ?? Input;
        for (int v = 1; v < shapes.Length; v++) values[v] = View(memory.ValueBuffer[v], shapes[v]);
        for (int v = 0; v < shapes.Length; v++) if (memory.GradBuffer[v] >= 0) grads[v] = View(memory.GradBuffer[v], shapes[v]);

        _steps = new Step[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            var n = nodes[i];
            var ps = model.Parameters.Of(n.Layer);
            var layerAux = memory.AuxShapes[i];
            _steps[i] = new Step(backend, State, n.Layer, i)
            {
                Inputs = n.Inputs.Select(v => values[v]).ToArray(),
                Output = values[n.Output],
                OutputGrad = grads[n.Output],
                InputGrads = n.Inputs.Select(v => grads[v]).ToArray(),
                AccumulateInputGrads = memory.Accumulate[i],
                // 16-bit plans: convolution and linear weights from the working copy; gradients stay fp32 masters'.
                Params = ps.Select(p => reduced && n.Layer.UsesWorkingCopy ? model.Parameters.WorkingValue(p) : p.Value).ToArray(),
                Grads = memory.Training ? ps.Select(p => p.Grad).ToArray() : [],
                Buffers = model.Parameters.BuffersOf(n.Layer).Select(b => b.Value).ToArray(),
                Aux = memory.AuxBuffers[i].Select((b, k) => View(b, layerAux[k])).ToArray(),
                FusedRelu = memory.FusedRelu[i],
                FusedIntoProducer = memory.FusedIntoProducer[i],
            };
        }
        Output = values[model.Graph.Output.Id];
        OutputGrad = grads[model.Graph.Output.Id];
    }

    /// <summary>The model this plan runs.</summary>
    public Model Model { get; }
    /// <summary>The backend the plan computes on: the model's, or (an inference context on the GPU) one of its own on the same device.</summary>
    internal IBackend Backend { get; }
    /// <summary>True for a plan without a loss (compiled for inference): <see cref="Target"/>, <see cref="LossValue"/> and <see cref="Correct"/> do not exist.</summary>
    public bool ForwardOnly => _loss is null;
    /// <summary>Shapes, lifetimes and offsets.</summary>
    public MemoryPlan Memory { get; }
    /// <summary>Run-wide state (training flag, iteration, seed).</summary>
    public ExecutionState State { get; }
    /// <summary>The data batch the next step reads, (N, C, H, W) or (N, features), fp32 in NCHW order whatever the plan's layout and precision (the plan converts it).</summary>
    public Tensor Input { get; }
    /// <summary>The loss's target: labels (N) for cross-entropy, else the output's shape.</summary>
    /// <exception cref="InvalidOperationException">A forward-only plan.</exception>
    public Tensor Target => _target ?? throw NoLoss(nameof(Target));
    /// <summary>The model's output (logits), valid from <see cref="Forward"/> until the next step's forward.</summary>
    public Tensor Output { get; }
    /// <summary>Gradient of the loss with respect to the output (training plans).</summary>
    public Tensor? OutputGrad { get; }
    /// <summary>The mean loss of the last step (one fp32 on the device).</summary>
    /// <exception cref="InvalidOperationException">A forward-only plan.</exception>
    public Tensor LossValue => _lossValue ?? throw NoLoss(nameof(LossValue));
    /// <summary>Correct predictions of the last step (one fp32 holding a count), for classification losses.</summary>
    /// <exception cref="InvalidOperationException">A forward-only plan.</exception>
    public Tensor Correct => _correct ?? throw NoLoss(nameof(Correct));
    /// <summary>The batch size.</summary>
    public int BatchSize => Memory.BatchSize;
    /// <summary>The loss.</summary>
    /// <exception cref="InvalidOperationException">A forward-only plan.</exception>
    public Loss Loss => _loss ?? throw NoLoss(nameof(Loss));

    private InvalidOperationException NoLoss(string member)
        => new($"model '{Model.Name}': this plan is forward-only (compiled for inference, without a loss); it has no {member}");

    /// <summary>
    /// When set, every layer's forward and backward time is added here (synchronising the backend after
    /// each layer, so timings are exact but the run is slower). Index: the layer's forward position.
    /// </summary>
    public LayerTimings? Profile { get; set; }

    /// <summary>
    /// Runs every layer forward, checking the data and then each output for NaN and ±∞; throws at the first
    /// layer that produces one, naming it. Every earlier output was checked, so that layer's inputs were
    /// finite. Slow (copies each output to the host): for diagnosis, not for training.
    /// </summary>
    /// <exception cref="NonFiniteException">The data or a layer's output holds a non-finite value.</exception>
    public void ForwardChecked()
    {
        var data = new float[Input.Elements];
        Backend.CopyToHost<float>(Input, data);
        int badInput = Array.FindIndex(data, x => !float.IsFinite(x));
        if (badInput >= 0)
            throw new NonFiniteException(_steps[0].Layer, $"the data input {Input.Shape} holds {data[badInput]} at element {badInput}, before any layer ran");
        // Diagnosis runs on the rank that found the problem alone: batch norm uses this rank's statistics, since an
        // exchange with ranks that are not diagnosing would wait for them.
        var sync = State.SyncBatchNorm;
        State.SyncBatchNorm = null;
        try
        {
            ForwardObserved((s, output) =>
            {
                int bad = Array.FindIndex(output, x => !float.IsFinite(x));
                if (bad >= 0)
                    throw new NonFiniteException(s.Layer,
                        $"{s.Layer}: output element {bad} of {s.Out().Shape} is {output[bad]} (its inputs: finite); the first non-finite value in the forward pass");
            });
        }
        finally { State.SyncBatchNorm = sync; }
    }

    /// <summary>
    /// Runs every layer forward and hands each step and its output, copied to the host, to
    /// <paramref name="observe"/> (statistics, debugging). Slow: not for training. Fused layer pairs run as their two layers
    /// (each output is observed), so this is not the forward a <see cref="Backward"/> may follow: run <see cref="Forward"/> first.
    /// </summary>
    public void ForwardObserved(Action<Step, float[]> observe)
    {
        ConvertInput();
        // Each layer's own output is observed: fused pairs run as their two layers.
        bool unfused = State.Unfused;
        State.Unfused = true;
        try
        {
            foreach (var s in _steps)
            {
                s.Layer.Forward(s);
                observe(s, Backend.ReadFloats(s.Output));
            }
        }
        finally { State.Unfused = unfused; }
    }

    /// <summary>Runs every layer forward.</summary>
    public void Forward()
    {
        var steps = _steps;
        ConvertInput();
        if (Profile is { } prof) { for (int i = 0; i < steps.Length; i++) prof.Time(steps[i], forward: true); return; }
        for (int i = 0; i < steps.Length; i++) steps[i].Layer.Forward(steps[i]);
    }

    /// <summary>Refreshes the network's converted input from <see cref="Input"/> (NHWC or 16-bit plans only).</summary>
    private void ConvertInput()
    {
        if (_networkInput is not null) Backend.Copy(Input, _networkInput);
    }

    /// <summary>Computes the loss (and, in a training plan, its gradient times <paramref name="scale"/>).</summary>
    /// <exception cref="InvalidOperationException">A forward-only plan.</exception>
    public void ComputeLoss(float scale = 1f)
        => Loss.Compute(Backend, Output, Target, LossValue, OutputGrad, Loss.CountsCorrect ? Correct : null, scale);

    /// <summary>Runs every layer backward in reverse order; parameter gradients land in the model's flat gradient buffer.</summary>
    /// <exception cref="InvalidOperationException">This is an evaluation plan.</exception>
    public void Backward()
    {
        if (!Memory.Training) throw new InvalidOperationException($"model '{Model.Name}': Backward on an evaluation plan; compile with training: true");
        var steps = _steps;
        var after = AfterBackwardStep;
        if (Profile is { } prof) { for (int i = steps.Length - 1; i >= 0; i--) { prof.Time(steps[i], forward: false); after?.Invoke(i, steps[i].Layer); } return; }
        if (after is not null) { for (int i = steps.Length - 1; i >= 0; i--) { steps[i].Layer.Backward(steps[i]); after(i, steps[i].Layer); } return; }
        for (int i = steps.Length - 1; i >= 0; i--) steps[i].Layer.Backward(steps[i]);
    }

    /// <summary>
    /// Called after each layer's backward with its step index and layer, when that layer's parameter gradients are final
    /// (data parallelism starts a bucket's all-reduce there). Null, the default, costs nothing.
    /// </summary>
    internal Action<int, Layer>? AfterBackwardStep { get; set; }

    /// <summary>
    /// Forward, loss and backward for the batch in <see cref="Input"/> and <see cref="Target"/>, with the loss gradient
    /// multiplied by <paramref name="lossScale"/>, or (in fp32, before backward rounds anything to 16 bits) by the dynamic
    /// loss scale held on the device in <paramref name="scalerState"/> (a <see cref="Mixed.LossScalerState"/>) when given,
    /// so no host synchronisation is needed.
    /// </summary>
    public void TrainStep(float lossScale = 1f, Tensor? scalerState = null)
    {
        Forward();
        ComputeLoss(lossScale);
        BackwardFromLoss(scalerState);
    }

    /// <summary>
    /// The second half of a training step, after <see cref="Forward"/> and a loss wrote <see cref="OutputGrad"/>
    /// (the plan's own <see cref="ComputeLoss"/> or a caller's, e.g. CutMix's mixed labels): multiplies the
    /// loss gradient by the device-side loss scale when <paramref name="scalerState"/> is given, runs
    /// <see cref="Backward"/> and counts the iteration.
    /// </summary>
    public void BackwardFromLoss(Tensor? scalerState)
    {
        if (scalerState is not null && OutputGrad is not null) Backend.MultiplyByLossScale(OutputGrad, scalerState);
        Backward();
        State.Iteration++;
    }

    private static long Align(long b) => (b + MemoryPlan.Alignment - 1) / MemoryPlan.Alignment * MemoryPlan.Alignment;

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_ownsBuffers) return;
        _arena.Dispose();
        _io.Dispose();
    }
}

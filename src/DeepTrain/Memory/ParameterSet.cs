using DeepTrain.Backends;
using DeepTrain.Layers;
using DeepTrain.Tensors;
using DeepTrain.Utils;

namespace DeepTrain.Memory;

/// <summary>A trainable tensor of a model: its PyTorch-style name, its value and gradient views, and whether it decays.</summary>
public sealed record ParameterEntry(string Name, Layer Layer, int Index, ParamSpec Spec, Tensor Value, long Offset)
{
    private readonly Tensor? _grad;

    internal ParameterEntry(string name, Layer layer, int index, ParamSpec spec, Tensor value, Tensor? grad, long offset)
        : this(name, layer, index, spec, value, offset) => _grad = grad;

    /// <summary>The gradient view (in the set's flat gradient allocation).</summary>
    /// <exception cref="InvalidOperationException">The set was made without gradients (a forward-only model).</exception>
    public Tensor Grad => _grad ?? throw new InvalidOperationException($"parameter '{Name}' has no gradient: its model is forward-only (made for inference)");

    /// <summary>Whether <see cref="Grad"/> exists.</summary>
    public bool HasGrad => _grad is not null;
}

/// <summary>A non-trainable state tensor (batch-norm running statistics).</summary>
public sealed record BufferEntry(string Name, Layer Layer, int Index, BufferSpec Spec, Tensor Value);

/// <summary>
/// A model's parameters, gradients and buffers on one backend, each kind in one flat allocation so a
/// fused optimizer or an all-reduce sees one span. Parameters are laid out by group (see
/// <see cref="ParameterGroupRule"/>) and, within a group, those that take weight decay first, so every
/// set of tensors sharing optimizer settings is one contiguous range (<see cref="Groups"/>). Every tensor starts on a 256-byte
/// boundary (what cuDNN and vector loads like); the padding between tensors stays zero in values and
/// gradients, so optimizers may run over it harmlessly.
/// </summary>
public sealed class ParameterSet : IDisposable
{
    private const int AlignFloats = 64;   // 256 bytes
    private readonly DeviceBuffer _values, _buffers;
    private readonly DeviceBuffer? _grads;

    /// <param name="backend">Where the memory lives.</param>
    /// <param name="layers">The layers, in graph order.</param>
    /// <param name="rules">Parameter groups by name prefix.</param>
    /// <param name="gradients">False for a forward-only set (inference): no gradient allocation at all.</param>
    internal ParameterSet(IBackend backend, IReadOnlyList<Layer> layers, IReadOnlyList<ParameterGroupRule>? rules = null, bool gradients = true)
    {
        Backend = backend;
        rules ??= [];
        var bufs = new List<(Layer, int, BufferSpec)>();
        // Each parameter goes to the first rule whose prefix matches its name (rule order), else to the
        // default; within each, decayed tensors first. Each (rule, decay) pair is one contiguous group.
        var keyed = new List<(int Rule, int Decay, int Order, Layer L, int I, ParamSpec S)>();
        foreach (var layer in layers)
        {
            for (int i = 0; i < layer.Parameters.Count; i++)
            {
                var spec = layer.Parameters[i];
                string name = $"{layer.Name}.{spec.Name}";
                int rule = -1;
                for (int r = 0; r < rules.Count && rule < 0; r++) if (rules[r].Matches(name)) rule = r;
                keyed.Add((rule < 0 ? int.MaxValue : rule, spec.Decay ? 0 : 1, keyed.Count, layer, i, spec));
            }
            for (int i = 0; i < layer.Buffers.Count; i++) bufs.Add((layer, i, layer.Buffers[i]));
        }
        foreach (var rule in rules)
            if (!keyed.Any(k => k.Rule != int.MaxValue && rules[k.Rule] == rule))
                throw new ArgumentException($"parameter group '{rule.Prefix}' matches no parameter; names look like '{(keyed.Count > 0 ? $"{keyed[0].L.Name}.{keyed[0].S.Name}" : "conv1.weight")}'", nameof(rules));

        long offset = 0;
        var layoutList = new List<(Layer L, int I, ParamSpec S, long Off)>();
        var groups = new List<ParameterGroup>();
        foreach (var g in keyed.OrderBy(k => k.Rule).ThenBy(k => k.Decay).ThenBy(k => k.Order).GroupBy(k => (k.Rule, k.Decay)))
        {
            long start = offset;
            foreach (var (_, _, _, l, i, spec) in g)
            {
                layoutList.Add((l, i, spec, offset));
                offset += Align(spec.Shape.Elements);
                Count += spec.Shape.Elements;
            }
            groups.Add(new ParameterGroup(start, offset - start, g.Key.Decay == 0, g.Key.Rule == int.MaxValue ? null : rules[g.Key.Rule]));
        }
        Groups = groups;
        TotalFloats = offset;
        _values = backend.Allocate(Math.Max(offset, 1) * 4);
        _grads = gradients ? backend.Allocate(Math.Max(offset, 1) * 4) : null;
        Entries = layoutList.Select(e => new ParameterEntry($"{e.L.Name}.{e.S.Name}", e.L, e.I, e.S,
            new Tensor(_values, e.Off * 4, e.S.Shape), _grads is null ? null : new Tensor(_grads, e.Off * 4, e.S.Shape), e.Off)).ToList();

        long boff = 0;
        var bufList = new List<(Layer, int, BufferSpec, long)>();
        foreach (var (l, i, s) in bufs)
        {
            bufList.Add((l, i, s, boff));
            boff += Align(s.Shape.Elements);
            BufferCount += s.Shape.Elements;
        }
        _buffers = backend.Allocate(Math.Max(boff, 1) * 4);
        Buffers = bufList.Select(b => new BufferEntry($"{b.Item1.Name}.{b.Item3.Name}", b.Item1, b.Item2, b.Item3, new Tensor(_buffers, b.Item4 * 4, b.Item3.Shape))).ToList();
        BufferFloats = boff;
        foreach (var b in Buffers) backend.Fill(b.Value, b.Spec.InitialValue);
        var rank = layers.Select((l, i) => (l, i)).ToDictionary(t => t.l, t => t.i);   // layers compare by reference
        InGraphOrder = Entries.OrderBy(e => rank[e.Layer]).ThenBy(e => e.Index).ToArray();
        _byLayer = Entries.ToLookup(e => e.Layer);
        _buffersByLayer = Buffers.ToLookup(e => e.Layer);
    }

    private readonly ILookup<Layer, ParameterEntry> _byLayer;
    private readonly ILookup<Layer, BufferEntry> _buffersByLayer;

    /// <summary>Floats the flat parameter and buffer allocations of these layers take, padding included, without allocating.</summary>
    public static (long ParameterFloats, long BufferFloats) PlannedFloats(IEnumerable<Layer> layers)
    {
        long p = 0, b = 0;
        foreach (var l in layers)
        {
            foreach (var s in l.Parameters) p += Align(s.Shape.Elements);
            foreach (var s in l.Buffers) b += Align(s.Shape.Elements);
        }
        return (p, b);
    }

    private static long Align(long n) => (n + AlignFloats - 1) / AlignFloats * AlignFloats;

    /// <summary>The backend the memory belongs to.</summary>
    public IBackend Backend { get; }
    /// <summary>Trainable tensors, decayed ones first.</summary>
    public IReadOnlyList<ParameterEntry> Entries { get; }
    /// <summary>Trainable tensors in the order the graph declares them (a PyTorch state_dict's order).</summary>
    public IReadOnlyList<ParameterEntry> InGraphOrder { get; }
    /// <summary>Buffers (running statistics).</summary>
    public IReadOnlyList<BufferEntry> Buffers { get; }
    /// <summary>Number of trainable scalars (padding excluded).</summary>
    public long Count { get; }
    /// <summary>Number of buffer scalars (padding excluded).</summary>
    public long BufferCount { get; }
    /// <summary>Length of the flat parameter allocation in floats (padding included).</summary>
    public long TotalFloats { get; }
    /// <summary>
    /// Contiguous ranges of the flat buffers that share their optimizer settings: one per (group rule, decay
    /// flag), in layout order. Without rules: the decayed tensors, then the rest.
    /// </summary>
    public IReadOnlyList<ParameterGroup> Groups { get; }
    /// <summary>Length of the flat buffer allocation in floats.</summary>
    public long BufferFloats { get; }
    /// <summary>Bytes of parameter values.</summary>
    public long ValueBytes => _values.Bytes;
    /// <summary>Bytes of gradients (0 in a forward-only set).</summary>
    public long GradBytes => _grads?.Bytes ?? 0;
    /// <summary>Whether the set has gradients (false for a forward-only model made for inference).</summary>
    public bool HasGradients => _grads is not null;
    /// <summary>Bytes of buffers.</summary>
    public long BufferBytes => _buffers.Bytes;

    private Tensor? _allValues, _allGrads;

    /// <summary>All parameter values as one flat fp32 tensor (made once: a training step allocates no views).</summary>
    public Tensor AllValues => _allValues ??= new(_values, 0, Shape.Of(checked((int)TotalFloats)));
    /// <summary>All gradients as one flat fp32 tensor (made once).</summary>
    /// <exception cref="InvalidOperationException">The set has no gradients (forward-only).</exception>
    public Tensor AllGrads => _allGrads ??= new(Grads(), 0, Shape.Of(checked((int)TotalFloats)));

    private DeviceBuffer Grads() => _grads ?? throw new InvalidOperationException("this model is forward-only (made for inference): it has no gradients");

    private Tensor? _allBuffers;

    /// <summary>All buffers (running statistics) as one flat fp32 tensor, padding included (made once; data parallelism
    /// broadcasts and averages it in one call).</summary>
    internal Tensor AllBuffers => _allBuffers ??= new(_buffers, 0, Shape.Of(checked((int)Math.Max(BufferFloats, 1))));

    /// <summary>Views of group <paramref name="g"/>'s values and gradients.</summary>
    public (Tensor Values, Tensor Grads) View(ParameterGroup g)
    {
        var shape = Shape.Of(checked((int)g.Count));
        return (new Tensor(_values, g.Start * 4, shape), new Tensor(Grads(), g.Start * 4, shape));
    }

    private DeviceBuffer? _working;
    private Dictionary<ParameterGroup, Tensor>? _workingGroups;
    private Dictionary<ParameterEntry, Tensor>? _workingEntries;

    /// <summary>
    /// The 16-bit working copy of every parameter (one flat allocation laid out like <see cref="AllValues"/>), which
    /// 16-bit plans read for the layers that <see cref="Layer.UsesWorkingCopy"/>; null until a 16-bit plan is compiled.
    /// The fp32 values stay the master weights: optimizers update them and write the copy in the same pass.
    /// </summary>
    public Tensor? WorkingCopy { get; private set; }

    /// <summary>
    /// Makes the working copy in <paramref name="dtype"/> (Float16 or BFloat16) if it does not exist, and fills it from
    /// the master weights. A model has at most one working precision.
    /// </summary>
    /// <exception cref="InvalidOperationException">A working copy of another type exists (plans of one model share one 16-bit precision).</exception>
    public void EnsureWorkingCopy(DType dtype)
    {
        if (dtype is not (DType.Float16 or DType.BFloat16)) throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "the working copy is Float16 or BFloat16");
        if (WorkingCopy is { } existing)
        {
            if (existing.DType != dtype)
                throw new InvalidOperationException($"the model's parameters already have a {existing.DType} working copy; every plan of one model must use the same 16-bit precision, not also {dtype}");
            return;
        }
        _working = Backend.Allocate(Math.Max(TotalFloats, 1) * dtype.Size());
        WorkingCopy = new Tensor(_working, 0, Shape.Of(checked((int)TotalFloats)), dtype);
        _workingGroups = Groups.ToDictionary(g => g, g => new Tensor(_working, g.Start * dtype.Size(), Shape.Of(checked((int)g.Count)), dtype));
        _workingEntries = Entries.ToDictionary(e => e, e => new Tensor(_working, e.Offset * dtype.Size(), e.Spec.Shape, dtype));
        SyncWorkingCopy();
    }

    /// <summary>The working copy of group <paramref name="g"/>, or null without a working copy (allocation-free).</summary>
    public Tensor? WorkingView(ParameterGroup g) => _workingGroups?[g];

    /// <summary>The working copy of one parameter.</summary>
    /// <exception cref="InvalidOperationException">There is no working copy.</exception>
    public Tensor WorkingValue(ParameterEntry e)
        => _workingEntries?[e] ?? throw new InvalidOperationException($"parameter '{e.Name}' has no 16-bit working copy; compile a 16-bit plan first");

    /// <summary>Rounds every master weight into the working copy (after initialising, loading or an optimizer that does not write it); a no-op without one.</summary>
    public void SyncWorkingCopy()
    {
        if (WorkingCopy is { } w) Backend.Copy(AllValues, w);
    }

    /// <summary>The parameters of <paramref name="layer"/>, in its declaration order.</summary>
    public ParameterEntry[] Of(Layer layer) => _byLayer[layer].OrderBy(e => e.Index).ToArray();
    /// <summary>The buffers of <paramref name="layer"/>, in its declaration order.</summary>
    public BufferEntry[] BuffersOf(Layer layer) => _buffersByLayer[layer].OrderBy(e => e.Index).ToArray();

    /// <summary>
    /// Initialises every parameter from its spec with one seeded generator, in graph order (so the
    /// result does not depend on the decay grouping), and resets the buffers.
    /// </summary>
    public void Initialize(ulong seed)
    {
        var rng = new Rng(seed);
        foreach (var e in InGraphOrder)
        {
            var host = new float[e.Spec.Shape.Elements];
            e.Spec.Init.Fill(host, e.Spec.FanIn, e.Spec.FanOut, rng);
            Backend.CopyFromHost<float>(host, e.Value);
        }
        foreach (var b in Buffers) Backend.Fill(b.Value, b.Spec.InitialValue);
        SyncWorkingCopy();
    }


    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGrad() => Backend.Fill(AllGrads, 0f);

    /// <inheritdoc />
    public void Dispose()
    {
        _values.Dispose();
        _grads?.Dispose();
        _buffers.Dispose();
        _working?.Dispose();
    }
}

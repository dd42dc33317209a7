using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Memory;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Inference;

/// <summary>
/// One execution context of an <see cref="InferenceSession"/>: a forward-only plan per plan size, all over one arena and one
/// input buffer (the context runs one plan at a time, so the largest plan's arena serves every size), and views of the first
/// n rows of each plan's input and output, made once so a run allocates nothing. On the CPU the context computes on the
/// session's backend (it is safe for concurrent callers) and copies straight between the caller's spans and the plan. On the
/// GPU it owns a backend of its own on the same device (its own stream, cuDNN and cuBLAS handles and workspace), reads the
/// session's weights, and owns pinned host staging (<see cref="CudaStaging"/>) sized for its largest plan's input and output
/// (<see cref="StagingBytesFor"/>): a run is one asynchronous copy in, the forward pass, one asynchronous copy out and one
/// stream synchronisation. Used by one thread at a time.
/// </summary>
internal sealed class InferenceContext : IDisposable
{
    private readonly IBackend _backend;
    private readonly bool _ownsBackend;
    private readonly DeviceBuffer _arena, _io;
    private readonly Plan[] _plans;
    private readonly Tensor[][] _inputRows, _outputRows;   // [plan][n − 1]: the first n rows
    private readonly CudaStaging? _staging;                 // GPU only: pinned input and output of the largest plan

    internal InferenceContext(Model model, IReadOnlyList<int> sizes, Layout layout, Mixed.Precision precision, Func<IBackend>? ownBackend)
    {
        _backend = ownBackend?.Invoke() ?? model.Backend;
        _ownsBackend = ownBackend is not null;
        try
        {
            var memories = sizes.Select(n => model.PlanMemory(n, training: false, layout, precision)).ToArray();
            _arena = _backend.Allocate(Math.Max(memories.Max(m => m.ArenaBytes), 1));
            _io = _backend.Allocate(memories.Max(m => m.InputBytes + MemoryPlan.Alignment));
            _plans = memories.Select(m => new Plan(model, m, null, _backend, (_arena, _io))).ToArray();
            _inputRows = _plans.Select(p => Rows(p.Input)).ToArray();
            _outputRows = _plans.Select(p => Rows(p.Output)).ToArray();
            // Only with a backend of its own: Dispose frees the pinned memory after disposing that backend waited for its stream.
            if (_ownsBackend && _backend is CudaBackend cuda)
            {
                var (inputBytes, outputBytes) = StagingBytesFor(model.Graph, memories);
                _staging = new CudaStaging(cuda, inputBytes, outputBytes);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Set when a run threw: the pool then disposes the context instead of keeping it.</summary>
    public bool Faulted { get; set; }

    /// <summary>Device bytes this context holds: the shared arena and input buffer.</summary>
    public long Bytes => _arena.Bytes + _io.Bytes;

    /// <summary>Pinned host bytes this context holds (GPU contexts; 0 on the CPU, which stages nothing).</summary>
    public long StagingBytes => _staging?.Bytes ?? 0;

    /// <summary>
    /// The staging a context needs for plans <paramref name="memories"/> of <paramref name="graph"/>: the most bytes any plan's
    /// host input ((N, …) fp32, as the caller passes it, whatever the plan's layout and precision) and output (the logits, fp32
    /// at every precision) take. Not <see cref="MemoryPlan.InputBytes"/>, which also counts an NHWC or 16-bit plan's converted
    /// copy on the device.
    /// </summary>
    internal static (long InputBytes, long OutputBytes) StagingBytesFor(ModelGraph graph, IReadOnlyList<MemoryPlan> memories)
    {
        long input = 0, output = 0;
        foreach (var m in memories)
        {
            input = Math.Max(input, m.Shapes[0].Elements * sizeof(float));
            output = Math.Max(output, m.Shapes[graph.Output.Id].Elements * sizeof(float));
        }
        return (input, output);
    }

    /// <summary>Views of the first 1..N rows of a (N, …) tensor.</summary>
    private static Tensor[] Rows(Tensor t)
    {
        var rows = new Tensor[t.Shape.N];
        for (int n = 1; n <= rows.Length; n++) rows[n - 1] = new Tensor(t.Buffer, t.ByteOffset, t.Shape.WithBatch(n), t.DType, t.Layout);
        return rows;
    }

    /// <summary>
    /// Runs <paramref name="rows"/> samples through the smallest plan that holds them: copies them into its first rows (the
    /// padding rows keep whatever an earlier run left; in evaluation every row is computed independently of the others),
    /// runs forward and copies the first rows' logits into <paramref name="output"/>. Checked by the session.
    /// </summary>
    public void Run(ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        int p = 0;
        while (_plans[p].BatchSize < rows) p++;
        var logits = _outputRows[p][rows - 1];
        output = output[..(int)logits.Elements];   // the caller's span may be longer
        if (_staging is { } staging)
        {
            staging.Stage(input, _inputRows[p][rows - 1]);
            _plans[p].Forward();
            staging.Fetch(logits, output);
            return;
        }
        _backend.CopyFromHost(input, _inputRows[p][rows - 1]);
        _plans[p].Forward();
        _backend.CopyToHost(logits, output);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var p in _plans ?? []) p.Dispose();
        _arena?.Dispose();
        _io?.Dispose();
        if (_ownsBackend) _backend.Dispose();
        // After the backend waited for its stream: a run that threw may have left a copy from or to the pinned memory queued.
        _staging?.Dispose();
    }
}

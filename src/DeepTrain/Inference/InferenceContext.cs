using DeepTrain.Backends;
using DeepTrain.Memory;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Inference;

/// <summary>
/// One execution context of an <see cref="InferenceSession"/>: a forward-only plan per plan size, all over one arena and one
/// input buffer (the context runs one plan at a time, so the largest plan's arena serves every size), and views of the first
/// n rows of each plan's input and output, made once so a run allocates nothing. On the CPU the context computes on the
/// session's backend (it is safe for concurrent callers); on the GPU it owns a backend of its own on the same device (its own
/// stream, cuDNN and cuBLAS handles and workspace) and reads the session's weights. Used by one thread at a time.
/// </summary>
internal sealed class InferenceContext : IDisposable
{
    private readonly IBackend _backend;
    private readonly bool _ownsBackend;
    private readonly DeviceBuffer _arena, _io;
    private readonly Plan[] _plans;
    private readonly Tensor[][] _inputRows, _outputRows;   // [plan][n − 1]: the first n rows

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
        _backend.CopyFromHost(input, _inputRows[p][rows - 1]);
        _plans[p].Forward();
        var logits = _outputRows[p][rows - 1];
        _backend.CopyToHost(logits, output[..(int)logits.Elements]);   // the caller's span may be longer
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var p in _plans ?? []) p.Dispose();
        _arena?.Dispose();
        _io?.Dispose();
        if (_ownsBackend) _backend.Dispose();
    }
}

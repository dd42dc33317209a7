using DeepTrain.Layers;
using DeepTrain.Memory;
using DeepTrain.Modeling;
using DeepTrain.Tensors;

namespace DeepTrain.Distributed;

/// <summary>
/// PyTorch DDP's reducer: gradients averaged across ranks in buckets of about <see cref="DistributedOptions.BucketBytes"/>,
/// filled in reverse layer order, each bucket's all-reduce started the moment backward has made all its gradients final,
/// so communication runs while the earlier layers' backward computes.
/// <para>
/// A bucket is a staging tensor of its own: when its last layer's backward has run, its gradients are copied into it
/// (parameters are laid out by optimizer group in the flat gradient buffer, not by layer, so a bucket is not contiguous
/// there) and its in-place sum starts; <see cref="Finish"/> waits for each bucket and writes sum / N back into the
/// gradients, which the optimizer then reads. Buckets start in bucket order on every rank (MPI's rule: collectives are
/// matched by order), and every in-flight request is tested after each backward layer, which is what advances Open
/// MPI's non-blocking collectives when no progress thread runs.
/// </para>
/// </summary>
internal sealed class GradientBuckets : IDisposable
{
    private readonly Backends.IBackend _backend;
    private readonly ICollectives _collectives;
    private readonly DistributedOptions _options;
    private readonly Bucket[] _buckets;
    private readonly Dictionary<Layer, (int Bucket, int Count)[]> _byLayer;
    private readonly DeviceBuffer _staging;
    private int _nextToStart;

    private sealed class Bucket(ParameterEntry[] entries, Tensor staging, Tensor[] slices)
    {
        public ParameterEntry[] Entries { get; } = entries;
        public Tensor Staging { get; } = staging;
        public Tensor[] Slices { get; } = slices;
        public int Pending { get; set; }
        public ICollectiveRequest? Request { get; set; }
    }

    public GradientBuckets(Model model, ICollectives collectives, DistributedOptions options)
    {
        (_backend, _collectives, _options) = (model.Backend, collectives, options);
        // Reverse layer order: the graph's last parameters are final first in backward.
        var reversed = model.Parameters.InGraphOrder.Reverse().ToArray();
        var groups = new List<List<ParameterEntry>>();
        long bytes = 0;
        foreach (var e in reversed)
        {
            long b = e.Grad.Elements * sizeof(float);
            if (groups.Count == 0 || (bytes + b > options.BucketBytes && groups[^1].Count > 0)) { groups.Add([]); bytes = 0; }
            groups[^1].Add(e);
            bytes += b;
        }
        long total = reversed.Sum(e => e.Grad.Elements);
        _staging = model.Backend.Allocate(Math.Max(total, 1) * sizeof(float));
        long offset = 0;
        _buckets = new Bucket[groups.Count];
        for (int i = 0; i < groups.Count; i++)
        {
            long start = offset;
            var slices = groups[i].Select(e => { var t = new Tensor(_staging, offset * sizeof(float), e.Grad.Shape); offset += e.Grad.Elements; return t; }).ToArray();
            _buckets[i] = new Bucket(groups[i].ToArray(), new Tensor(_staging, start * sizeof(float), Shape.Of(checked((int)(offset - start)))), slices);
        }
        _byLayer = _buckets.SelectMany((bk, i) => bk.Entries.Select(e => (e.Layer, Bucket: i)))
            .GroupBy(x => x.Layer).ToDictionary(g => g.Key, g => g.GroupBy(x => x.Bucket).Select(b => (b.Key, b.Count())).ToArray());
    }

    /// <summary>
    /// Time the host spent in <see cref="Finish"/> after backward: starting the buckets not yet started (their copies)
    /// and waiting for every bucket's all-reduce. With overlap, what backward hid is not in it; without, all of it is.
    /// </summary>
    public TimeSpan WaitTime => TimeSpan.FromTicks(_waitTicks * TimeSpan.TicksPerSecond / System.Diagnostics.Stopwatch.Frequency);
    private long _waitTicks;

    /// <summary>The number of buckets.</summary>
    public int Count => _buckets.Length;

    /// <summary>The gradient floats of each bucket, in start order.</summary>
    public IReadOnlyList<long> BucketFloats => _buckets.Select(b => b.Staging.Elements).ToArray();

    /// <summary>Test hook: (bucket, backward step index at its start; -1 when started after backward ended). Not a timing.</summary>
    internal Action<int, int>? BucketStarted { get; set; }

    /// <summary>Test hook: called once backward has run its last layer, before <see cref="Finish"/> starts what remains.</summary>
    internal Action? BackwardEnded { get; set; }

    /// <summary>Arms the buckets for one backward whose gradients are final (the last micro-batch of a step).</summary>
    public void Begin()
    {
        foreach (var b in _buckets) { b.Pending = b.Entries.Length; b.Request = null; }
        _nextToStart = 0;
    }

    /// <summary>After backward step <paramref name="stepIndex"/> ran <paramref name="layer"/>: its gradients are final.</summary>
    public void OnBackwardStep(int stepIndex, Layer layer)
    {
        if (_byLayer.TryGetValue(layer, out var hits))
        {
            foreach (var (bucket, count) in hits) _buckets[bucket].Pending -= count;
            if (_options.OverlapWithBackward)
                while (_nextToStart < _buckets.Length && _buckets[_nextToStart].Pending <= 0) Start(_nextToStart++, stepIndex);
        }
        for (int i = 0; i < _nextToStart; i++) _buckets[i].Request?.Test();
    }

    /// <summary>Starts every bucket not yet started, waits for all, and writes the averaged gradients back.</summary>
    /// <exception cref="CollectiveTimeoutException">A bucket did not complete within the timeout.</exception>
    public void Finish()
    {
        BackwardEnded?.Invoke();
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        while (_nextToStart < _buckets.Length) Start(_nextToStart++, -1);
        var backend = _backend;
        float inv = 1f / _collectives.Size;
        foreach (var b in _buckets)
        {
            b.Request!.Wait(_options.Timeout);
            b.Request.Dispose();
            b.Request = null;
            for (int i = 0; i < b.Entries.Length; i++) backend.Axpby(inv, b.Slices[i], 0f, b.Entries[i].Grad);
        }
        _waitTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
    }

    private void Start(int index, int stepIndex)
    {
        var b = _buckets[index];
        var backend = _backend;
        for (int i = 0; i < b.Entries.Length; i++) backend.Copy(b.Entries[i].Grad, b.Slices[i]);
        // The CPU backend's copy is synchronous; a GPU all-reduce is ordered after it by an event on the stream.
        b.Request = _collectives.StartAllReduceSum(b.Staging);
        BucketStarted?.Invoke(index, stepIndex);
    }

    public void Dispose()
    {
        foreach (var b in _buckets) { if (b.Request is { } r && r.Test()) r.Dispose(); }
        _staging.Dispose();
    }
}

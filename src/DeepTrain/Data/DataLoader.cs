using System.Runtime.ExceptionServices;

namespace DeepTrain.Data;

/// <summary>
/// Feeds a <see cref="Dataset"/> to the trainer as normalised, optionally augmented batches.
/// <para>
/// Determinism: one seed drives everything. Epoch e's order is a Fisher–Yates permutation drawn
/// from (seed, e); the augmentation of the image at position p of that order is drawn from
/// (seed, e, p) by its own SplitMix64 generator, and batch k's CutMix from (seed, e, k). No generator is shared between threads, so
/// the batches of an epoch are the same bit for bit whatever the worker count or timing.
/// </para>
/// <para>
/// Pipelining: worker threads fill whole batches into a ring of <c>prefetch + 2</c> pinned
/// batches while the consumer trains. A worker may prepare batch k once the consumer has asked
/// for batch k − prefetch, so the ring holds the current batch, the one before it (still intact
/// for an asynchronous device copy) and up to <c>prefetch</c> batches ahead. A steady-state
/// epoch allocates no large arrays. With <c>workers = 0</c> the consumer's thread fills each
/// batch when it is asked for.
/// </para>
/// <para>
/// Lifetime: one epoch is enumerated at a time. Abandoning the enumeration (break, exception)
/// stops the workers before the enumerator's Dispose returns; <see cref="Dispose"/> ends the
/// worker threads.
/// </para>
/// </summary>
public sealed class DataLoader : IDisposable
{
    private readonly Batch[] _ring;
    private readonly int[] _ready;          // per ring slot: index of the batch that is ready there, or −1
    private readonly int[] _order;          // this epoch's permutation of image indices
    private readonly object _gate = new();
    private readonly Normalization _unit;   // x/255: the pixel space of the float augmentation steps
    private Thread[]? _threads;

    // Guarded by _gate.
    private bool _disposed, _enumerating, _active;
    private int _epoch, _next, _current, _busy;
    private Exception? _error;

    /// <summary>Creates a loader; worker threads start with the first epoch.</summary>
    /// <param name="dataset">The images.</param>
    /// <param name="batchSize">Images per batch.</param>
    /// <param name="shuffle">Draw a fresh seeded permutation every epoch; otherwise dataset order.</param>
    /// <param name="normalization">Per-channel normalisation; its channel count must match the dataset's.</param>
    /// <param name="augmentation">Augmentation (crop, flip, affine, jitter, erasing per image; CutMix per batch), or null for none (evaluation).</param>
    /// <param name="seed">Seed of the shuffle and the augmentation.</param>
    /// <param name="dropLast">Drop a final partial batch instead of padding it.</param>
    /// <param name="workers">Worker threads; 0 prepares batches on the consumer's thread.</param>
    /// <param name="prefetch">Batches prepared ahead of the current one (at least 1).</param>
    /// <param name="shard">This rank's share of each epoch in a data-parallel job (<see cref="DatasetShard"/>), or null for all of it.</param>
    /// <exception cref="ArgumentNullException">The dataset or the normalisation is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">batchSize or prefetch is not positive, workers is negative, the shard is invalid, or an augmentation value is outside its range (<see cref="AugmentationOptions.Validate"/>).</exception>
    /// <exception cref="ArgumentException">The normalisation's channel count differs from the dataset's, or the augmentation does not suit the images (saturation on non-RGB data).</exception>
    public DataLoader(Dataset dataset, int batchSize, bool shuffle, Normalization normalization, AugmentationOptions? augmentation,
        ulong seed, bool dropLast = false, int workers = 2, int prefetch = 2, DatasetShard? shard = null)
    {
        shard?.Validate();
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(normalization);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(prefetch);
        augmentation?.Validate(dataset.Channels, dataset.Name);
        if (normalization.Channels != dataset.Channels)
            throw new ArgumentException($"DataLoader '{dataset.Name}': normalisation has {normalization.Channels} channels, expected {dataset.Channels}", nameof(normalization));
        if ((long)batchSize * dataset.SampleSize > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batchSize), $"DataLoader '{dataset.Name}': a batch of {batchSize} images of {dataset.SampleSize} floats does not fit one array");
        Dataset = dataset;
        BatchSize = batchSize;
        Shuffle = shuffle;
        Normalization = normalization;
        Augmentation = augmentation;
        Seed = seed;
        DropLast = dropLast;
        Workers = workers;
        Prefetch = prefetch;
        Shard = shard;
        Samples = shard is { } sh ? sh.Length(dataset.Count, equal: dropLast) : dataset.Count;
        BatchesPerEpoch = dropLast ? Samples / batchSize : (Samples + batchSize - 1) / batchSize;
        _ring = new Batch[prefetch + 2];
        bool mixing = augmentation is { HasCutMix: true };
        for (int i = 0; i < _ring.Length; i++) _ring[i] = new Batch(batchSize, dataset.Channels, dataset.Height, dataset.Width, mixing);
        _unit = Normalization.Identity(dataset.Channels);
        _ready = new int[_ring.Length];
        _order = new int[dataset.Count];
    }

    /// <summary>The images.</summary>
    public Dataset Dataset { get; }
    /// <summary>This rank's share of each epoch, or null for all of it.</summary>
    public DatasetShard? Shard { get; }
    /// <summary>Samples an epoch draws from (the shard's length, or the whole set).</summary>
    public int Samples { get; }
    /// <summary>Images per batch.</summary>
    public int BatchSize { get; }
    /// <summary>Whether each epoch is shuffled.</summary>
    public bool Shuffle { get; }
    /// <summary>The normalisation applied to every image.</summary>
    public Normalization Normalization { get; }
    /// <summary>The augmentation, or null.</summary>
    public AugmentationOptions? Augmentation { get; }
    /// <summary>Seed of the shuffle and the augmentation.</summary>
    public ulong Seed { get; }
    /// <summary>Whether a final partial batch is dropped.</summary>
    public bool DropLast { get; }
    /// <summary>Worker threads (0: batches are made on the consumer's thread).</summary>
    public int Workers { get; }
    /// <summary>Batches prepared ahead of the current one.</summary>
    public int Prefetch { get; }
    /// <summary>Batches each epoch yields.</summary>
    public int BatchesPerEpoch { get; }

    /// <summary>
    /// The batches of epoch <paramref name="epoch"/>, in order. A batch is valid until the
    /// consumer asks for the batch after the next one. Only one epoch may be enumerated at a time.
    /// </summary>
    /// <param name="epoch">Epoch number (0, 1, …); it selects the permutation and the augmentation.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="epoch"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The loader is disposed (also thrown during enumeration).</exception>
    /// <exception cref="InvalidOperationException">Another epoch is being enumerated (thrown when enumeration starts).</exception>
    public IEnumerable<Batch> Epoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        return Run(epoch);
    }

    private IEnumerable<Batch> Run(int epoch)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_enumerating)
                throw new InvalidOperationException($"DataLoader '{Dataset.Name}': epoch {_epoch} is still being enumerated; finish or dispose it before starting epoch {epoch}");
            _enumerating = true;
        }
        try
        {
            // No worker is active here, so the order and the ring are ours.
            for (int i = 0; i < _order.Length; i++) _order[i] = i;
            if (Shuffle) SplitMix64.For(Seed, SplitMix64.ShuffleStream, (ulong)epoch).Shuffle(_order);
            lock (_gate)
            {
                _epoch = epoch;
                _next = 0;
                _current = -1;
                _error = null;
                Array.Fill(_ready, -1);
                if (Workers > 0)
                {
                    StartThreads();
                    _active = true;
                    Monitor.PulseAll(_gate);
                }
            }
            for (int k = 0; k < BatchesPerEpoch; k++)
            {
                Batch batch = _ring[k % _ring.Length];
                if (Workers == 0)
                {
                    ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
                    Fill(batch, k, epoch);
                }
                else
                {
                    lock (_gate)
                    {
                        ObjectDisposedException.ThrowIf(_disposed, this);
                        _current = k;                 // releases batch k − 1 and lets workers reach k + prefetch
                        Monitor.PulseAll(_gate);
                        while (_ready[k % _ring.Length] != k)
                        {
                            if (_error is not null) ExceptionDispatchInfo.Throw(_error);
                            ObjectDisposedException.ThrowIf(_disposed, this);
                            Monitor.Wait(_gate);
                        }
                    }
                }
                yield return batch;
            }
        }
        finally
        {
            lock (_gate)
            {
                _active = false;
                Monitor.PulseAll(_gate);
                while (_busy > 0) Monitor.Wait(_gate);   // no worker touches the ring after this
                _enumerating = false;
            }
        }
    }

    /// <summary>Worker threads still running (for tests of shutdown).</summary>
    internal int LiveWorkers => _threads?.Count(t => t.IsAlive) ?? 0;

    private void StartThreads()
    {
        if (_threads is not null) return;
        _threads = new Thread[Workers];
        for (int i = 0; i < Workers; i++)
        {
            _threads[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"DataLoader worker {i} ({Dataset.Name})" };
            _threads[i].Start();
        }
    }

    private void WorkerLoop()
    {
        while (true)
        {
            int k, epoch;
            lock (_gate)
            {
                while (!(_active && _next < BatchesPerEpoch && _next <= _current + Prefetch))
                {
                    if (_disposed) return;
                    Monitor.Wait(_gate);
                }
                k = _next++;
                epoch = _epoch;
                _busy++;
            }
            Exception? error = null;
            try { Fill(_ring[k % _ring.Length], k, epoch); }
            catch (Exception e) { error = e; }
            lock (_gate)
            {
                _busy--;
                if (error is not null) { _error ??= error; _active = false; }
                else _ready[k % _ring.Length] = k;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Writes batch <paramref name="k"/> of <paramref name="epoch"/> into <paramref name="batch"/>.</summary>
    private void Fill(Batch batch, int k, int epoch)
    {
        var ds = Dataset;
        int s = ds.SampleSize, start = k * BatchSize;
        int count = Math.Min(BatchSize, Samples - start);
        var shard = Shard;
        var aug = Augmentation;
        for (int i = 0; i < count; i++)
        {
            // A shard's i-th sample sits at a global position of the epoch's permutation, which also seeds its augmentation.
            int position = shard is { } sh ? sh.GlobalPosition(start + i) : start + i, index = _order[position];
            var src = ds.Pixels.AsSpan(index * s, s);
            var dst = batch.Images.AsSpan(i * s, s);
            batch.Labels[i] = ds.Labels[index];
            if (aug is null || aug.IsPerImageIdentity)
                Normalization.Apply(src, dst);
            else
                ImageAugmenter.Apply(aug, Seed, epoch, position, src, dst, ds.Channels, ds.Height, ds.Width, Normalization, _unit);
        }
        batch.Images.AsSpan(count * s).Clear();
        batch.Labels.AsSpan(count).Clear();
        batch.LabelsB.AsSpan(count).Clear();
        if (aug is { HasCutMix: true }) CutMix.Apply(aug, Seed, epoch, k, batch, count);
        else
        {
            batch.Labels.AsSpan(0, count).CopyTo(batch.LabelsB);
            batch.Lambda = 1f;
            batch.IsMixed = false;
        }
        batch.Count = count;
        batch.Index = k;
        batch.Epoch = epoch;
    }

    /// <summary>
    /// Stops and joins the worker threads. An enumeration in progress on another thread ends with
    /// <see cref="ObjectDisposedException"/>. Safe to call more than once.
    /// </summary>
    public void Dispose()
    {
        Thread[]? threads;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            Monitor.PulseAll(_gate);
            threads = _threads;
        }
        if (threads is null) return;
        foreach (var t in threads)
            if (t != Thread.CurrentThread) t.Join();
    }
}

using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Data;
using DeepTrain.Layers;
using DeepTrain.Modeling;
using DeepTrain.Tensors;
using DeepTrain.Training;
using Microsoft.Extensions.ObjectPool;

namespace DeepTrain.Inference;

/// <summary>
/// Serves predictions from a trained model: forward-only plans (no loss, gradients or optimizer state) at a few batch sizes,
/// in execution contexts rented from a pool for each call and returned after it, all reading one read-only copy of the weights.
/// </summary>
/// <remarks>
/// <para>Thread safety: <see cref="Run(ReadOnlySpan{float}, Span{float})"/>, <see cref="RunAsync"/>, <see cref="Predict"/>,
/// <see cref="Normalize"/> and every property are safe to call from many threads at once; up to
/// <see cref="InferenceSessionOptions.MaxConcurrency"/> calls compute at the same time and the rest wait. <see cref="Dispose"/>
/// is not: call it once, after the last call has returned (it waits for calls in flight).</para>
/// <para>Results: a request of n samples runs in the smallest plan of at least n (<see cref="PlanBatchSizes"/>), padded; each
/// sample's output depends only on that sample and the plan size, so concurrent, padded and batched calls give the same bits as
/// the same input run alone at the same plan size.</para>
/// <para>Allocation: after warm-up, <see cref="Run(ReadOnlySpan{float}, Span{float})"/> without dynamic batching allocates no
/// managed memory. Lifetime: the session owns what it loaded (<see cref="Load"/>); a session made from a model does not own the
/// model, which must outlive it.</para>
/// <para>What a context holds: a forward-only plan per plan size over one activation arena and one input buffer. On the CPU
/// contexts compute on the model's backend and copy directly between the caller's spans and the plan. On a GPU each context
/// also owns a backend of its own on the model's device (its stream, cuDNN and cuBLAS handles, workspace) and pinned
/// (page-locked) host staging for its largest plan's input and logits
/// (<see cref="InferenceMemoryReport.CudaStagingBytes"/>): a run copies the input into it, queues the copy to the device, the
/// forward pass and the copy back on the context's stream, waits once, and copies the logits out.</para>
/// </remarks>
public sealed class InferenceSession : IDisposable
{
    private readonly Model _model;            // what the contexts run: the folded copy when layers are fused, else the given model
    private readonly bool _ownsModel, _ownsFolded;
    private readonly int[] _sizes;
    private readonly SemaphoreSlim _slots;
    private readonly ObjectPool<InferenceContext> _pool;
    private readonly DynamicBatcher? _batcher;
    private readonly string[] _names;
    private int _disposed;

    /// <summary>
    /// A session over <paramref name="model"/> on the model's backend. The session reads the model's parameters and never writes
    /// them; the caller keeps ownership of the model (dispose it after the session).
    /// </summary>
    /// <param name="model">The model, weights loaded.</param>
    /// <param name="options">Options; <see cref="InferenceSessionOptions.Device"/> is ignored (the model's backend decides).</param>
    /// <param name="classNames">One name per class for <see cref="Predict"/>; null: the indices.</param>
    /// <param name="normalization">The input normalisation for <see cref="Normalize"/>; null: none known.</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is out of range, the model's output is not (classes), or the class names do not match it.</exception>
    /// <exception cref="Memory.InsufficientMemoryForPlanException">The largest plan does not fit in the memory the backend has.</exception>
    public InferenceSession(Model model, InferenceSessionOptions? options = null, IReadOnlyList<string>? classNames = null, Normalization? normalization = null)
        : this(model, options ?? new InferenceSessionOptions(), classNames, normalization, ownsModel: false) { }

    private InferenceSession(Model model, InferenceSessionOptions options, IReadOnlyList<string>? classNames, Normalization? normalization, bool ownsModel)
    {
        ArgumentNullException.ThrowIfNull(model);
        _sizes = options.ResolvePlanSizes();
        var output = model.Graph.OutputShape;
        if (output.Rank != 1) throw new ArgumentException($"model '{model.Name}': output {output} is not (classes); an inference session serves classifiers", nameof(model));
        if (classNames is not null && classNames.Count != output[0])
            throw new ArgumentException($"{classNames.Count} class names for model '{model.Name}' with {output[0]} classes; expected one per class", nameof(classNames));
        if (normalization is not null && model.Graph.InputShape.Rank == 3 && normalization.Channels != model.Graph.InputShape[0])
            throw new ArgumentException($"normalisation of {normalization.Channels} channels for model '{model.Name}' taking {model.Graph.InputShape[0]}", nameof(normalization));
        (_model, _ownsModel, Options, Normalization) = (model, ownsModel, options, normalization);
        if (options.FuseLayers && InferenceFusion.Applies(model.Graph))
        {
            // Weights once: a loaded session keeps only the folded copy (its backend stays, the session disposes it).
            _model = InferenceFusion.Fold(model);
            _ownsFolded = true;
            if (ownsModel) model.Dispose();
            model = _model;
        }
        // The model is the session's own (loaded, or the folded copy): its weights never change, so on the CPU each
        // convolution's packed GEMM operand and each 3×3 convolution's Winograd transform are made here once and shared by every
        // context.
        if ((ownsModel || _ownsFolded) && model.Backend is CpuBackend) PrepareConvWeights(model);
        _names = classNames?.ToArray() ?? Enumerable.Range(0, output[0]).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Layout = options.Layout ?? Layout.NCHW;
        SampleSize = checked((int)model.Graph.InputShape.Elements);
        Classes = output[0];
        // On the CPU every context computes on the model's backend (safe for concurrent callers); elsewhere each context owns a
        // backend of its own on the model's device (its own stream and handles), after the weights are on the device.
        Func<IBackend>? own = model.Backend is CpuBackend ? null : () => BackendFactory.Create(model.Backend.Device);
        model.Backend.Synchronize();
        var policy = new InferenceContextPolicy(() => new InferenceContext(model, _sizes, Layout, options.Precision, own));
        _pool = new DefaultObjectPoolProvider { MaximumRetained = options.MaxConcurrency }.Create(policy);
        _slots = new SemaphoreSlim(options.MaxConcurrency, options.MaxConcurrency);
        // One context now: the plans compile (and a plan too large for the memory fails) here, not in the first request.
        try { _pool.Return(_pool.Get()); }
        catch
        {
            if (_ownsFolded) _model.Dispose();
            throw;
        }
        if (options.DynamicBatching is { } batching)
            _batcher = new DynamicBatcher(this, batching.MaxBatchSize ?? options.MaxBatchSize, batching.MaxDelay);
    }

    /// <summary>
    /// Loads a self-describing checkpoint (<see cref="CheckpointInfo"/>) onto <see cref="InferenceSessionOptions.Device"/> as a
    /// forward-only model (no gradient memory), with its class names and normalisation. The session owns the model.
    /// </summary>
    /// <param name="path">A <c>model.safetensors</c>.</param>
    /// <param name="options">Options; null: the defaults.</param>
    /// <param name="loadOptions">Values for fields an older checkpoint does not record; null: none.</param>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    /// <exception cref="Checkpoints.CheckpointMetadataException">The checkpoint does not describe its model, or the description does not fit its tensors.</exception>
    /// <exception cref="Checkpoints.CheckpointFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidOperationException">The device cannot be used (the message says why).</exception>
    public static InferenceSession Load(string path, InferenceSessionOptions? options = null, CheckpointLoadOptions? loadOptions = null)
    {
        options ??= new InferenceSessionOptions();
        options.ResolvePlanSizes();
        var info = CheckpointInfo.Read(path, loadOptions);
        var backend = BackendFactory.Create(options.Device);
        Model? model = null;
        try
        {
            model = info.CreateForwardOnlyModel(backend);
            var session = new InferenceSession(model, options with { Layout = options.Layout ?? info.Layout }, info.ClassNames, info.Normalization, ownsModel: true);
            session.Checkpoint = info;
            return session;
        }
        catch
        {
            model?.Dispose();
            backend.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Gives every fp32 convolution of <paramref name="model"/> its weights packed for the im2col GEMM, every 3×3 stride-1
    /// ungrouped one its Winograd-transformed weights too, and every small one the direct kernel's layout
    /// (<see cref="DirectFits"/>; <see cref="PreparedWeightFloats"/> counts all three).
    /// </summary>
    internal static void PrepareConvWeights(Model model)
    {
        var shapes = model.Graph.InferShapes(1);
        foreach (var node in model.Graph.Nodes)
            if (node.Layer is Conv2d conv && model.Parameters.Of(conv)[0].Value is { DType: DType.Float32 } w)
            {
                conv.GemmWeights = CpuGemmWeights.Of(w, conv.Spec.Groups);
                if (WinogradFits(conv)) conv.WinogradWeights = CpuWinogradWeights.Of(w);
                if (DirectFits(conv, shapes[node.Output])) conv.DirectWeights = CpuDirectWeights.Of(w);
            }
    }

    private static bool WinogradFits(Conv2d conv)
        => conv is { KernelH: 3, KernelW: 3, Spec: { StrideH: 1, StrideW: 1, DilationH: 1, DilationW: 1, Groups: 1 } };

    /// <summary>
    /// Whether a convolution gets the direct kernel's weights: a spatial (not 1×1) kernel the direct path fits, whose one-image
    /// output is small enough that a batch-1 call takes that path (<see cref="CpuBackend"/>'s rule; docs/architecture.md).
    /// </summary>
    private static bool DirectFits(Conv2d conv, Tensors.Shape y)
        => CpuDirectConv.Available && conv.KernelH * conv.KernelW > 1 && CpuDirectWeights.Applies(conv.OutChannels, conv.Spec.Groups)
            && (long)y.H * y.W <= CpuBackend.DirectMaxPixels;

    /// <summary>
    /// Floats a CPU session holds beside the weights for <paramref name="graph"/>'s convolutions (<see cref="PrepareConvWeights"/>):
    /// the packed GEMM operand of each, the Winograd transform of each 3×3 stride-1 ungrouped one, the direct kernel's layout of
    /// each small one (<see cref="DirectFits"/>).
    /// </summary>
    internal static long PreparedWeightFloats(ModelGraph graph)
    {
        long floats = 0;
        var shapes = graph.InferShapes(1);
        foreach (var node in graph.Nodes)
            if (node.Layer is Conv2d conv)
            {
                int crs = conv.InChannels / conv.Spec.Groups * conv.KernelH * conv.KernelW;
                floats += CpuGemmWeights.Floats(conv.OutChannels, crs, conv.Spec.Groups);
                if (WinogradFits(conv)) floats += CpuWinogradWeights.Floats(conv.OutChannels, conv.InChannels);
                if (DirectFits(conv, shapes[node.Output])) floats += CpuDirectWeights.Floats(conv.OutChannels, crs);
            }
        return floats;
    }

    /// <summary>The model the session reads (tests look at its parameter set).</summary>
    internal Model Model => _model;

    /// <summary>The options the session runs with.</summary>
    public InferenceSessionOptions Options { get; }
    /// <summary>What the checkpoint records (null for a session made from a model).</summary>
    public CheckpointInfo? Checkpoint { get; private set; }
    /// <summary>The model's name.</summary>
    public string ModelName => _model.Name;
    /// <summary>Where the session computes.</summary>
    public Device Device => _model.Backend.Device;
    /// <summary>The plans' activation layout.</summary>
    public Layout Layout { get; }
    /// <summary>One sample's shape, (C, H, W) or (features).</summary>
    public Shape InputShape => _model.Graph.InputShape;
    /// <summary>Floats per sample in <c>Run</c>'s input.</summary>
    public int SampleSize { get; }
    /// <summary>Outputs per sample (classes).</summary>
    public int Classes { get; }
    /// <summary>One name per class (the checkpoint's, else the indices).</summary>
    public IReadOnlyList<string> ClassNames => _names;
    /// <summary>The input normalisation, when known.</summary>
    public Normalization? Normalization { get; }
    /// <summary>The largest batch <c>Run</c> accepts.</summary>
    public int MaxBatchSize => _sizes[^1];
    /// <summary>The compiled plan sizes, ascending.</summary>
    public IReadOnlyList<int> PlanBatchSizes => _sizes;
    /// <summary>The plan size a request of <paramref name="samples"/> runs at (the smallest that holds it).</summary>
    /// <exception cref="ArgumentOutOfRangeException">samples is below 1 or above <see cref="MaxBatchSize"/>.</exception>
    public int PlanSizeFor(int samples)
    {
        if (samples < 1 || samples > MaxBatchSize)
            throw new ArgumentOutOfRangeException(nameof(samples), samples, $"expected 1 to MaxBatchSize ({MaxBatchSize}) samples");
        int p = 0;
        while (_sizes[p] < samples) p++;
        return _sizes[p];
    }

    /// <summary>
    /// Runs a batch: <paramref name="input"/> holds n samples of <see cref="SampleSize"/> normalised floats each ((N, C, H, W),
    /// 1 ≤ n ≤ <see cref="MaxBatchSize"/>); <paramref name="output"/> receives n × <see cref="Classes"/> logits or probabilities
    /// (<see cref="InferenceSessionOptions.Output"/>). Thread-safe; allocation-free after warm-up without dynamic batching.
    /// </summary>
    /// <returns>n, the number of samples.</returns>
    /// <exception cref="ArgumentException">The input is empty or not a whole number of samples, holds more than <see cref="MaxBatchSize"/>, or the output is too short; the message names the argument and the expected size.</exception>
    /// <exception cref="ObjectDisposedException">The session is disposed.</exception>
    public int Run(ReadOnlySpan<float> input, Span<float> output)
    {
        int rows = Check(input.Length, output.Length);
        if (_batcher is not null && rows <= _batcher.MaxBatchSize) _batcher.Run(input, rows, output[..(rows * Classes)]);
        else RunDirect(input, rows, output);
        return rows;
    }

    /// <summary>
    /// <see cref="Run(ReadOnlySpan{float}, Span{float})"/> for asynchronous callers (ASP.NET handlers): waits for an execution
    /// context (or the batcher) without blocking a thread, and stops waiting when <paramref name="cancellationToken"/> is cancelled.
    /// A forward pass that has started runs to its end. Thread-safe.
    /// </summary>
    /// <returns>n, the number of samples.</returns>
    /// <exception cref="ArgumentException">As <see cref="Run(ReadOnlySpan{float}, Span{float})"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled before the forward pass started.</exception>
    public async Task<int> RunAsync(ReadOnlyMemory<float> input, Memory<float> output, CancellationToken cancellationToken = default)
    {
        int rows = Check(input.Length, output.Length);
        if (_batcher is not null && rows <= _batcher.MaxBatchSize)
        {
            await _batcher.RunAsync(input, rows, output[..(rows * Classes)], cancellationToken).ConfigureAwait(false);
            return rows;
        }
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try { RunInSlot(input.Span, rows, output.Span); }
        finally { _slots.Release(); }
        return rows;
    }

    /// <summary>
    /// Runs <paramref name="input"/> (n samples, as <see cref="Run(ReadOnlySpan{float}, Span{float})"/>) and returns, per sample,
    /// the best class and the <paramref name="topK"/> most probable with their names and softmax probabilities. Allocates its
    /// result (a convenience; use <c>Run</c> on a hot path). Thread-safe.
    /// </summary>
    /// <exception cref="ArgumentException">As <c>Run</c>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="topK"/> is below 1.</exception>
    public Prediction[] Predict(ReadOnlySpan<float> input, int topK = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(topK, 1);
        var output = new float[Math.Max(input.Length / Math.Max(SampleSize, 1), 1) * Classes];
        int rows = Run(input, output);
        var result = new Prediction[rows];
        for (int i = 0; i < rows; i++)
        {
            var row = output.AsSpan(i * Classes, Classes);
            if (Options.Output == InferenceOutput.Logits) Softmax.InPlace(row);
            var p = row.ToArray();
            var top = Enumerable.Range(0, Classes).OrderByDescending(j => p[j]).ThenBy(j => j).Take(Math.Min(topK, Classes))
                .Select(j => new ClassScore(j, _names[j], p[j])).ToArray();
            result[i] = new Prediction(top[0], top);
        }
        return result;
    }

    /// <summary>
    /// Normalises raw pixels — (C, H, W) bytes per sample, any number of samples — into <paramref name="destination"/> with the
    /// checkpoint's normalisation, ready for <c>Run</c>. Thread-safe, allocation-free.
    /// </summary>
    /// <exception cref="InvalidOperationException">The session knows no normalisation.</exception>
    /// <exception cref="ArgumentException"><paramref name="pixels"/> is not a whole number of samples, or the destination is shorter.</exception>
    public void Normalize(ReadOnlySpan<byte> pixels, Span<float> destination)
    {
        var n = Normalization ?? throw new InvalidOperationException($"model '{ModelName}': the session knows no input normalisation (the checkpoint records none); normalise the input yourself");
        if (pixels.Length == 0 || pixels.Length % SampleSize != 0)
            throw new ArgumentException($"{pixels.Length} bytes; expected a positive multiple of {SampleSize} ({InputShape} per sample)", nameof(pixels));
        if (destination.Length < pixels.Length)
            throw new ArgumentException($"holds {destination.Length} floats; expected at least {pixels.Length}", nameof(destination));
        for (int s = 0; s < pixels.Length; s += SampleSize) n.Apply(pixels.Slice(s, SampleSize), destination.Slice(s, SampleSize));
    }

    /// <summary>Checks a call's sizes; returns the sample count.</summary>
    private int Check(int inputLength, int outputLength)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (inputLength == 0 || inputLength % SampleSize != 0)
            throw new ArgumentException($"input holds {inputLength} floats; expected a positive multiple of {SampleSize} ({InputShape} per sample)", "input");
        int rows = inputLength / SampleSize;
        if (rows > MaxBatchSize)
            throw new ArgumentException($"input holds {rows} samples; expected at most MaxBatchSize ({MaxBatchSize}) ({MaxBatchSize * SampleSize} floats)", "input");
        if (outputLength < rows * Classes)
            throw new ArgumentException($"output holds {outputLength} floats; expected at least {rows * Classes} ({rows} samples × {Classes} classes)", "output");
        return rows;
    }

    /// <summary>Runs <paramref name="rows"/> checked samples in a rented context, waiting for a slot.</summary>
    internal void RunDirect(ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        _slots.Wait();
        try { RunInSlot(input, rows, output); }
        finally { _slots.Release(); }
    }

    private void RunInSlot(ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        var context = _pool.Get();
        try
        {
            context.Run(input, rows, output);
        }
        catch
        {
            context.Faulted = true;
            throw;
        }
        finally
        {
            _pool.Return(context);
        }
        if (Options.Output == InferenceOutput.Probabilities)
            for (int i = 0; i < rows; i++) Softmax.InPlace(output.Slice(i * Classes, Classes));
    }

    /// <summary>
    /// Stops the batcher, waits for calls in flight, and frees every context (and the model and backend, when the session loaded
    /// them). Not thread-safe; later calls throw <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _batcher?.Dispose();
        for (int i = 0; i < Options.MaxConcurrency; i++) _slots.Wait();
        (_pool as IDisposable)?.Dispose();
        _slots.Dispose();
        var backend = _model.Backend;
        if (_ownsFolded) _model.Dispose();
        if (!_ownsModel) return;
        if (!_ownsFolded) _model.Dispose();
        backend.Dispose();
    }
}

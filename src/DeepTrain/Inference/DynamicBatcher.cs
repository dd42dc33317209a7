using System.Buffers;
using System.Diagnostics;

namespace DeepTrain.Inference;

/// <summary>
/// Coalesces concurrent requests into one forward pass, as Triton's dynamic batcher: one thread takes the first waiting request,
/// then gathers more, in arrival order, until the batch holds <see cref="MaxBatchSize"/> samples (a request that would overflow it
/// waits for the next batch) or the first request has waited the maximum delay; it runs the batch through the session and hands
/// every caller its own rows. Batches run one after another on this thread; the next one gathers while it computes.
/// </summary>
internal sealed class DynamicBatcher : IDisposable
{
    private sealed class Request(float[] input, int rows, float[] output, long arrived, CancellationToken token)
    {
        public readonly float[] Input = input, Output = output;
        public readonly int Rows = rows;
        public readonly long Arrived = arrived;
        public readonly CancellationToken Token = token;
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly InferenceSession _session;
    private readonly long _delayTicks;
    private readonly Queue<Request> _queue = new();
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _arrivals = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly float[] _batchIn, _batchOut;

    public DynamicBatcher(InferenceSession session, int maxBatchSize, TimeSpan maxDelay)
    {
        (_session, MaxBatchSize) = (session, maxBatchSize);
        _delayTicks = (long)(maxDelay.TotalSeconds * Stopwatch.Frequency);
        _batchIn = new float[maxBatchSize * session.SampleSize];
        _batchOut = new float[maxBatchSize * session.Classes];
        _thread = new Thread(Loop) { IsBackground = true, Name = $"DeepTrain batcher ({session.ModelName})" };
        _thread.Start();
    }

    /// <summary>The largest coalesced batch; larger requests bypass the batcher.</summary>
    public int MaxBatchSize { get; }

    /// <summary>Queues <paramref name="rows"/> checked samples and blocks until their rows are in <paramref name="output"/>.</summary>
    public void Run(ReadOnlySpan<float> input, int rows, Span<float> output)
    {
        var r = Enqueue(input, rows, CancellationToken.None);
        try
        {
            r.Done.Task.GetAwaiter().GetResult();
            r.Output.AsSpan(0, output.Length).CopyTo(output);
        }
        finally { Release(r); }
    }

    /// <summary>Queues <paramref name="rows"/> checked samples; completes when their rows are in <paramref name="output"/>.</summary>
    public async Task RunAsync(ReadOnlyMemory<float> input, int rows, Memory<float> output, CancellationToken token)
    {
        token.ThrowIfCancellationRequested();
        var r = Enqueue(input.Span, rows, token);
        try
        {
            await r.Done.Task.WaitAsync(token).ConfigureAwait(false);
            r.Output.AsSpan(0, output.Length).CopyTo(output.Span);
        }
        finally
        {
            // A caller that stopped waiting leaves its request to the batcher, which skips or finishes it; the arrays go back once it is done.
            if (r.Done.Task.IsCompleted) Release(r);
            else _ = r.Done.Task.ContinueWith(_ => Release(r), TaskScheduler.Default);
        }
    }

    private Request Enqueue(ReadOnlySpan<float> input, int rows, CancellationToken token)
    {
        var r = new Request(ArrayPool<float>.Shared.Rent(input.Length), rows, ArrayPool<float>.Shared.Rent(rows * _session.Classes), Stopwatch.GetTimestamp(), token);
        input.CopyTo(r.Input);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, _session);
            _queue.Enqueue(r);
        }
        _arrivals.Release();
        return r;
    }

    private static void Release(Request r)
    {
        ArrayPool<float>.Shared.Return(r.Input);
        ArrayPool<float>.Shared.Return(r.Output);
    }

    private void Loop()
    {
        var batch = new List<Request>();
        try
        {
            while (true)
            {
                _arrivals.Wait(_stop.Token);
                var first = Take(int.MaxValue)!;
                batch.Add(first);
                int rows = first.Rows;
                long deadline = first.Arrived + _delayTicks;
                while (rows < MaxBatchSize)
                {
                    long left = deadline - Stopwatch.GetTimestamp();
                    if (left <= 0 || !_arrivals.Wait(TimeSpan.FromSeconds(left / (double)Stopwatch.Frequency), _stop.Token)) break;
                    var next = Take(MaxBatchSize - rows);
                    if (next is null) { _arrivals.Release(); break; }   // too large for this batch: it opens the next one
                    batch.Add(next);
                    rows += next.Rows;
                }
                Execute(batch);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            foreach (var r in batch) r.Done.TrySetException(new ObjectDisposedException(nameof(InferenceSession)));
            lock (_lock)
                while (_queue.TryDequeue(out var r)) r.Done.TrySetException(new ObjectDisposedException(nameof(InferenceSession)));
        }
    }

    /// <summary>The oldest request if it has at most <paramref name="room"/> rows; null when it is larger (it stays queued).</summary>
    private Request? Take(int room)
    {
        lock (_lock)
            return _queue.Peek().Rows <= room ? _queue.Dequeue() : null;
    }

    /// <summary>Runs the gathered requests as one batch (those cancelled meanwhile left out) and completes each with its rows.</summary>
    private void Execute(List<Request> batch)
    {
        int s = _session.SampleSize, k = _session.Classes, rows = 0;
        foreach (var r in batch)
        {
            if (r.Token.IsCancellationRequested) continue;
            r.Input.AsSpan(0, r.Rows * s).CopyTo(_batchIn.AsSpan(rows * s));
            rows += r.Rows;
        }
        try
        {
            if (rows > 0) _session.RunDirect(_batchIn.AsSpan(0, rows * s), rows, _batchOut.AsSpan(0, rows * k));
        }
        catch (Exception e)
        {
            foreach (var r in batch) r.Done.TrySetException(e);
            return;
        }
        rows = 0;
        foreach (var r in batch)
        {
            if (r.Token.IsCancellationRequested) { r.Done.TrySetCanceled(r.Token); continue; }
            _batchOut.AsSpan(rows * k, r.Rows * k).CopyTo(r.Output);
            rows += r.Rows;
            r.Done.TrySetResult();
        }
    }

    /// <summary>Stops the thread; requests still queued fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (_lock) _stop.Cancel();
        _thread.Join();
        _stop.Dispose();
        _arrivals.Dispose();
    }
}

using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace DeepTrain.Backends.Cpu;

/// <summary>One parallel loop body: <see cref="Run"/>(start, end) handles the items [start, end).</summary>
/// <remarks>
/// Implemented by small structs that hold the loop's operands as fields, so a call site passes its state
/// without a capturing closure and <see cref="CpuParallel.For{TBody}"/> allocates nothing.
/// </remarks>
internal interface IRangeBody
{
    /// <summary>Processes the items [<paramref name="start"/>, <paramref name="end"/>).</summary>
    void Run(int start, int end);
}

/// <summary>
/// The CPU backend's worker threads: a persistent pool of <see cref="Threads"/> − 1 background threads
/// plus the calling thread. Work is split into at most <see cref="Threads"/> contiguous chunks, so each
/// thread touches one stretch of memory; small jobs run inline. A call allocates nothing.
/// </summary>
/// <remarks>
/// One job runs at a time. Its chunks are claimed from a single 64-bit word (generation, chunks still
/// unclaimed), so a worker that wakes late for an old job can never claim a chunk of a newer one. Idle
/// workers spin for a few tens of microseconds (a training step issues its parallel calls back to back)
/// and then block. A call made from inside a running body, or while another thread's job holds the pool,
/// runs inline on its own thread: nesting cannot deadlock and concurrent callers stay correct.
/// </remarks>
internal static unsafe class CpuParallel
{
    private static int s_threads = Environment.ProcessorCount;

    /// <summary>Threads the CPU backend uses (default: the processor count).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is below 1.</exception>
    public static int Threads
    {
        get => s_threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            s_threads = value;
        }
    }

    /// <summary>
    /// Calls <paramref name="body"/>.Run(start, end) over disjoint ranges covering [0, count), on the pool's
    /// threads and the calling one, and returns when every range is done. Runs inline when
    /// <paramref name="count"/> · <paramref name="costPerItem"/> is below ~32k operations.
    /// </summary>
    /// <remarks>
    /// The body is copied once; every thread runs that copy, so results must go through memory the body
    /// points at, not through its own fields. If a range throws, the other ranges still run and the first
    /// exception is rethrown here.
    /// </remarks>
    public static void For<TBody>(int count, long costPerItem, in TBody body) where TBody : struct, IRangeBody
    {
        if (count <= 0) return;
        int chunks = (int)Math.Min(Math.Min(s_threads, count), Math.Max(1, count * costPerItem / 32768));
        if (chunks <= 1)
        {
            Unsafe.AsRef(in body).Run(0, count);
            return;
        }
        // Inside a body (on a worker, or on the caller while its job runs), or while another thread's job
        // holds the pool: run the same chunks inline, one after another. The chunk boundaries depend only on
        // the thread count, never on contention, so reductions that combine per-chunk partials (convolution
        // weight gradients) round identically however busy the pool was: CPU runs repeat bit for bit.
        if (t_inJob || !s_gate.TryEnter())
        {
            for (int k = 0; k < chunks; k++)
                Unsafe.AsRef(in body).Run((int)((long)count * k / chunks), (int)((long)count * (k + 1) / chunks));
            return;
        }
        // A stack copy: its address stays fixed while the workers read it, and (its address being taken)
        // the JIT reports it live for the whole call, so its managed fields outlive every chunk.
        TBody local = body;
        try
        {
            t_inJob = true;
            EnsureWorkers(chunks - 1);
            Run(Unsafe.AsPointer(ref local), &Invoke<TBody>, count, chunks);
        }
        finally
        {
            t_inJob = false;
            s_gate.Exit();
        }
    }

    /// <summary>
    /// Calls <paramref name="body"/>(start, end) over disjoint ranges covering [0, count); as
    /// <see cref="For{TBody}(int, long, in TBody)"/>, for callers off the hot path (a delegate is a heap object).
    /// </summary>
    public static void For(int count, long costPerItem, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        For(count, costPerItem, new ActionBody(body));
    }

    private readonly struct ActionBody(Action<int, int> body) : IRangeBody
    {
        public void Run(int start, int end) => body(start, end);
    }

    private static void Invoke<TBody>(void* body, int start, int end) where TBody : struct, IRangeBody
        => Unsafe.AsRef<TBody>(body).Run(start, end);

    // ---- the pool ------------------------------------------------------------------------------------

    /// <summary>Spin budget before an idle thread blocks: longer than the gap between a step's parallel calls.</summary>
    private static readonly long s_spinTicks = Stopwatch.Frequency / 20_000;   // 50 µs

    private static readonly Lock s_gate = new();          // one job at a time
    private static readonly object s_wake = new();        // idle workers wait here
    private static readonly object s_done = new();        // the caller waits here for the last chunk
    private static readonly List<Thread> s_workers = [];

    [ThreadStatic] private static bool t_inJob;

    // The current job. Written by the caller before it publishes s_claim, read by workers after they see it.
    private static void* s_body;
    private static delegate*<void*, int, int, void> s_invoke;
    private static int s_count, s_chunks;
    private static long s_claim;            // (generation << 32) | chunks not yet claimed
    private static int s_pending;           // chunks not yet finished
    private static int s_sleepers;          // workers blocked on s_wake
    private static int s_callerWaiting;     // the caller is blocked on s_done
    private static ExceptionDispatchInfo? s_error;

    private static void EnsureWorkers(int wanted)
    {
        // Only the caller holding s_gate gets here, so the list needs no lock of its own.
        while (s_workers.Count < wanted)
        {
            var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"DeepTrain CPU worker {s_workers.Count + 1}" };
            s_workers.Add(t);
            t.Start();
        }
    }

    private static void Run(void* body, delegate*<void*, int, int, void> invoke, int count, int chunks)
    {
        s_body = body; s_invoke = invoke; s_count = count; s_chunks = chunks;
        s_error = null;
        Volatile.Write(ref s_pending, chunks);
        long gen = (Volatile.Read(ref s_claim) >> 32) + 1;
        // The full fence publishes the job fields before the new generation, and orders this write before
        // the read of s_sleepers (a worker increments s_sleepers and then re-reads s_claim: one of us sees the other).
        Interlocked.Exchange(ref s_claim, (gen << 32) | (uint)chunks);
        if (Volatile.Read(ref s_sleepers) > 0)
            lock (s_wake) Monitor.PulseAll(s_wake);

        RunChunks(gen);

        if (Volatile.Read(ref s_pending) != 0)
        {
            long until = Stopwatch.GetTimestamp() + s_spinTicks;
            while (Volatile.Read(ref s_pending) != 0 && Stopwatch.GetTimestamp() < until) Thread.SpinWait(8);
            if (Volatile.Read(ref s_pending) != 0)
                lock (s_done)
                {
                    Interlocked.Exchange(ref s_callerWaiting, 1);
                    while (Volatile.Read(ref s_pending) != 0) Monitor.Wait(s_done);
                    s_callerWaiting = 0;
                }
        }
        s_body = null;
        var error = s_error;
        s_error = null;
        error?.Throw();
    }

    /// <summary>Claims and runs chunks of job <paramref name="gen"/> until none is left.</summary>
    private static void RunChunks(long gen)
    {
        // These reads may see a later job's fields only if job gen is complete; then the claim below fails,
        // because a generation's unclaimed count never rises again. A successful claim proves they are gen's.
        void* body = s_body;
        var invoke = s_invoke;
        int count = s_count, chunks = s_chunks;
        while (true)
        {
            long v = Volatile.Read(ref s_claim);
            int left = (int)(uint)v;
            if (v >> 32 != gen || left == 0) return;
            if (Interlocked.CompareExchange(ref s_claim, v - 1, v) != v) continue;
            int k = chunks - left;
            int start = (int)((long)count * k / chunks), end = (int)((long)count * (k + 1) / chunks);
            try { invoke(body, start, end); }
            catch (Exception e) { Interlocked.CompareExchange(ref s_error, ExceptionDispatchInfo.Capture(e), null); }
            if (Interlocked.Decrement(ref s_pending) == 0 && Volatile.Read(ref s_callerWaiting) != 0)
                lock (s_done) Monitor.Pulse(s_done);
        }
    }

    private static void WorkerLoop()
    {
        t_inJob = true;     // a body that calls For again runs that call inline
        long seen = Volatile.Read(ref s_claim) >> 32;
        while (true)
        {
            long gen;
            long until = Stopwatch.GetTimestamp() + s_spinTicks;
            while ((gen = Volatile.Read(ref s_claim) >> 32) == seen && Stopwatch.GetTimestamp() < until) Thread.SpinWait(8);
            if (gen == seen)
                lock (s_wake)
                {
                    Interlocked.Increment(ref s_sleepers);
                    while ((gen = Volatile.Read(ref s_claim) >> 32) == seen) Monitor.Wait(s_wake);
                    Interlocked.Decrement(ref s_sleepers);
                }
            seen = gen;
            RunChunks(gen);
        }
    }
}

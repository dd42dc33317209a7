namespace DeepTrain.Backends.Cpu;

/// <summary>
/// The CPU backend's worker threads. Work is split into at most <see cref="Threads"/> contiguous
/// chunks, so each thread touches one stretch of memory; small jobs run inline.
/// </summary>
public static class CpuParallel
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
    /// Calls <paramref name="body"/>(start, end) over disjoint ranges covering [0, count). Runs inline
    /// when <paramref name="count"/> · <paramref name="costPerItem"/> is below ~32k operations.
    /// </summary>
    public static void For(int count, long costPerItem, Action<int, int> body)
    {
        if (count <= 0) return;
        int chunks = (int)Math.Min(Math.Min(s_threads, count), Math.Max(1, count * costPerItem / 32768));
        if (chunks <= 1) { body(0, count); return; }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = chunks }, k =>
        {
            int start = (int)((long)count * k / chunks), end = (int)((long)count * (k + 1) / chunks);
            body(start, end);
        });
    }
}

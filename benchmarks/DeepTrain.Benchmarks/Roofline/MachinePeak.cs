using System.Diagnostics;
using System.Runtime.Intrinsics;
using DeepTrain.Backends.Cpu;

namespace DeepTrain.Benchmarks.Roofline;

/// <summary>
/// This machine's ceilings, measured rather than taken from a data sheet: fused multiply-add throughput (independent
/// accumulator chains, no memory traffic), the packed GEMM <see cref="CpuGemm"/> at large square sizes, and a
/// STREAM-style triad a[i] = b[i] + s·c[i] over arrays far larger than the caches. Each figure is the best of
/// <c>repeats</c> timings (7–11: on a shared machine the best catches the quiet moments), all on <c>threads</c>
/// threads started together.
/// </summary>
internal static unsafe class MachinePeak
{
    /// <summary>GFLOP/s of FMAs on <paramref name="threads"/> threads; 512-bit vectors when <paramref name="wide"/>, else 256-bit.</summary>
    public static double Fma(int threads, bool wide, int repeats = 11)
    {
        const long Iterations = 20_000_000;
        int lanes = wide ? Vector512<float>.Count : Vector256<float>.Count;
        double flops = 2.0 * lanes * 10 * Iterations * threads;   // 10 independent FMAs per iteration
        return Best(repeats, () => OnThreads(threads, _ => { float sink = wide ? FmaChains512(Iterations) : FmaChains256(Iterations); GC.KeepAlive(sink); }), flops);
    }

    /// <summary>Ten independent accumulator chains, enough to cover the FMA latency on two pipes.</summary>
    private static float FmaChains512(long n)
    {
        var m = Vector512.Create(0.999999f); var add = Vector512.Create(1e-7f);
        Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, add); a1 = Vector512.FusedMultiplyAdd(a1, m, add);
            a2 = Vector512.FusedMultiplyAdd(a2, m, add); a3 = Vector512.FusedMultiplyAdd(a3, m, add);
            a4 = Vector512.FusedMultiplyAdd(a4, m, add); a5 = Vector512.FusedMultiplyAdd(a5, m, add);
            a6 = Vector512.FusedMultiplyAdd(a6, m, add); a7 = Vector512.FusedMultiplyAdd(a7, m, add);
            a8 = Vector512.FusedMultiplyAdd(a8, m, add); a9 = Vector512.FusedMultiplyAdd(a9, m, add);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9);
    }

    private static float FmaChains256(long n)
    {
        var m = Vector256.Create(0.999999f); var add = Vector256.Create(1e-7f);
        Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, add); a1 = Vector256.FusedMultiplyAdd(a1, m, add);
            a2 = Vector256.FusedMultiplyAdd(a2, m, add); a3 = Vector256.FusedMultiplyAdd(a3, m, add);
            a4 = Vector256.FusedMultiplyAdd(a4, m, add); a5 = Vector256.FusedMultiplyAdd(a5, m, add);
            a6 = Vector256.FusedMultiplyAdd(a6, m, add); a7 = Vector256.FusedMultiplyAdd(a7, m, add);
            a8 = Vector256.FusedMultiplyAdd(a8, m, add); a9 = Vector256.FusedMultiplyAdd(a9, m, add);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9);
    }

    /// <summary>GFLOP/s of <see cref="CpuGemm.Sgemm(int, int, int, float, float*, nint, nint, float*, nint, nint, float, float*, nint, nint)"/>
    /// C = A·B (n×n, row-major), one independent problem per thread, as the convolutions call it (one call per image).</summary>
    public static double Gemm(int n, int threads, int repeats = 7)
    {
        var mats = Enumerable.Range(0, threads).Select(t => (A: Seeded(n * n, t), B: Seeded(n * n, t + 100), C: new float[n * n])).ToArray();
        void One(int t)
        {
            fixed (float* a = mats[t].A, b = mats[t].B, c = mats[t].C)
                CpuGemm.Sgemm(n, n, n, 1f, a, n, 1, b, n, 1, 0f, c, n, 1);
        }
        OnThreads(threads, One);   // warm-up: packing buffers, JIT
        return Best(repeats, () => OnThreads(threads, One), 2.0 * n * n * n * threads);
    }

    /// <summary>GFLOP/s of CpuGemm C (m×n) = A (m×k) · B (k×n), row-major, repeated until about 0.5 GFLOP per thread: the
    /// shape one image of a convolution hands the GEMM (m = output channels, n = output pixels, k = C·R·S).</summary>
    public static double GemmShape(int m, int n, int k, int threads, int repeats = 9)
    {
        var mats = Enumerable.Range(0, threads).Select(t => (A: Seeded(m * k, t), B: Seeded(k * n, t + 100), C: new float[m * n])).ToArray();
        int calls = (int)Math.Max(1, 5e8 / (2.0 * m * n * k));
        void One(int t)
        {
            fixed (float* a = mats[t].A, b = mats[t].B, c = mats[t].C)
                for (int i = 0; i < calls; i++) CpuGemm.Sgemm(m, n, k, 1f, a, k, 1, b, n, 1, 0f, c, n, 1);
        }
        OnThreads(threads, One);
        return Best(repeats, () => OnThreads(threads, One), 2.0 * m * n * k * calls * threads);
    }

    /// <summary>GB/s (10⁹ B/s) of a[i] = b[i] + s·c[i] over <paramref name="floats"/> floats per array, split across
    /// the threads; 12 bytes per element (STREAM's count: the write-allocate read of a is not counted).</summary>
    public static double Triad(int threads, int floats = 1 << 25, int repeats = 9)
    {
        var a = new float[floats]; var b = Seeded(floats, 1); var c = Seeded(floats, 2);
        int chunk = floats / threads;
        void Part(int t)
        {
            fixed (float* pa = a, pb = b, pc = c)
            {
                var s = Vector512.Create(3f);
                int end = t == threads - 1 ? floats : (t + 1) * chunk, i = t * chunk;
                for (; i + 16 <= end; i += 16)
                    Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(pc + i), s, Vector512.Load(pb + i)), pa + i);
                for (; i < end; i++) pa[i] = pb[i] + 3f * pc[i];
            }
        }
        OnThreads(threads, Part);   // first touch
        return Best(repeats, () => OnThreads(threads, Part), 12.0 * floats);
    }

    private static float[] Seeded(int n, int seed)
    {
        var rng = new Random(seed); var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>Runs body(0..threads−1) on that many threads started together; returns when all are done.</summary>
    private static void OnThreads(int threads, Action<int> body)
    {
        var ts = Enumerable.Range(0, threads).Select(t => new Thread(() => body(t), 16 << 20)).ToArray();
        foreach (var t in ts) t.Start();
        foreach (var t in ts) t.Join();
    }

    /// <summary>The best of <paramref name="repeats"/> timings of <paramref name="run"/>, as units (FLOPs or bytes) per ns.</summary>
    private static double Best(int repeats, Action run, double units)
    {
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return units / best / 1e9;
    }
}

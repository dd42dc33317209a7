using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Modeling;
using DeepTrain.Losses;
using DeepTrain.Zoo;
using DeepTrain.Optim;
using DeepTrain.Utils;
using Xunit;

namespace DeepTrain.Tests.Backends;

/// <summary>The CPU worker pool: coverage, exceptions, nesting and concurrent callers.</summary>
public class CpuParallelTests
{
    /// <summary>Marks every index of its range in a shared array, counting repeats.</summary>
    private readonly struct MarkBody(int[] hits) : IRangeBody
    {
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[i]);
        }
    }

    [Fact]
    public void For_CoversEveryIndexExactlyOnce()
    {
        // Counts around every chunk boundary, costs below and above the inline threshold.
        foreach (long cost in new long[] { 1, 1000, 1 << 20 })
            for (int count = 0; count <= 257; count++)
            {
                var hits = new int[count];
                CpuParallel.For(count, cost, new MarkBody(hits));
                for (int i = 0; i < count; i++)
                    Assert.True(hits[i] == 1, $"count {count}, cost {cost}: index {i} ran {hits[i]} times");
            }
    }

    [Fact]
    public void For_ManyCallsInARow_CoverEveryIndex()
    {
        // Back-to-back jobs exercise the generation handoff (workers still spinning from the last job).
        for (int rep = 0; rep < 2000; rep++)
        {
            int count = 1 + rep % 97;
            var hits = new int[count];
            CpuParallel.For(count, 1 << 20, new MarkBody(hits));
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    private readonly struct ThrowingBody(int bad) : IRangeBody
    {
        public void Run(int start, int end)
        {
            if (start <= bad && bad < end) throw new InvalidOperationException($"index {bad}");
        }
    }

    [Fact]
    public void For_PropagatesAnExceptionFromAnyChunk_AndStaysUsable()
    {
        for (int bad = 0; bad < 64; bad += 7)
        {
            var e = Assert.Throws<InvalidOperationException>(() => CpuParallel.For(64, 1 << 20, new ThrowingBody(bad)));
            Assert.Equal($"index {bad}", e.Message);
        }
        var hits = new int[100];
        CpuParallel.For(100, 1 << 20, new MarkBody(hits));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    private readonly struct OffsetMarkBody(int[] hits, int offset) : IRangeBody
    {
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++) Interlocked.Increment(ref hits[offset + i]);
        }
    }

    private readonly struct OuterBody(int[] hits, int inner) : IRangeBody
    {
        public void Run(int start, int end)
        {
            for (int i = start; i < end; i++) CpuParallel.For(inner, 1 << 20, new OffsetMarkBody(hits, i * inner));
        }
    }

    [Fact]
    public void For_NestedCalls_RunInlineAndCoverEveryIndex()
    {
        const int outer = 13, inner = 29;
        var hits = new int[outer * inner];
        CpuParallel.For(outer, 1 << 20, new OuterBody(hits, inner));
        Assert.All(hits, h => Assert.Equal(1, h));
    }

    [Fact]
    public void For_ConcurrentCallersFromSeveralThreads_AreEachCorrect()
    {
        const int callers = 6, reps = 300;
        var failures = new int[1];
        var threads = new Thread[callers];
        for (int t = 0; t < callers; t++)
        {
            int seed = t;
            threads[t] = new Thread(() =>
            {
                for (int rep = 0; rep < reps; rep++)
                {
                    int count = 1 + (seed * 31 + rep) % 113;
                    var hits = new int[count];
                    CpuParallel.For(count, 1 << 20, new MarkBody(hits));
                    foreach (int h in hits) if (h != 1) Interlocked.Increment(ref failures[0]);
                }
            });
            threads[t].Start();
        }
        foreach (var t in threads) t.Join();
        Assert.Equal(0, failures[0]);
    }

    [Fact]
    public void For_ActionOverload_CoversEveryIndex()
    {
        var hits = new int[1000];
        CpuParallel.For(hits.Length, 1 << 20, (s, e) => { for (int i = s; i < e; i++) Interlocked.Increment(ref hits[i]); });
        Assert.All(hits, h => Assert.Equal(1, h));
    }
}

/// <summary>Allocation is counted process-wide, so this runs with no other test beside it.</summary>
[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// Tests that set the process-wide <see cref="CpuBackend.Threads"/>: results that depend on the thread count (the im2col
/// filter gradient's) would change under a test running beside them, so these run with no other test beside them.
/// </summary>
[CollectionDefinition(nameof(ThreadCountCollection), DisableParallelization = true)]
public sealed class ThreadCountCollection;

/// <summary>The design's promise: a steady-state training step allocates nothing.</summary>
[Collection(nameof(AllocationCollection))]
public class TrainingStepAllocationTests
{
    [Fact]
    public void ResNet20TrainingStep_AfterWarmUp_AllocatesNoManagedBytes()
    {
        using var backend = new CpuBackend();
        using var model = new Model(ResNetCifar.Build(20, 1, 10, 28), backend, 1);
        using var plan = model.Compile(8, true, new CrossEntropyLoss());
        using var sgd = new SGD(model.Parameters, 0.01f, 0.9f, 5e-4f);
        var rng = new Rng(3);
        var x = new float[plan.Input.Elements];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextNormal();
        var y = new int[8];
        for (int i = 0; i < y.Length; i++) y[i] = rng.NextInt(10);
        backend.CopyFromHost<float>(x, plan.Input);
        backend.CopyFromHost<int>(y, plan.Target);
        // Warm-up grows every thread's scratch to its largest size (a chunk may land on any thread).
        for (int i = 0; i < 8; i++) { plan.TrainStep(); sgd.Step(); }

        // GC.GetTotalAllocatedBytes counts every thread (the pool's workers too), and so also the test
        // runner's own background work. A step's allocations repeat in every trial, the runner's do not:
        // the smallest of several trials is the step's.
        long least = long.MaxValue;
        for (int trial = 0; trial < 5; trial++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            plan.TrainStep();
            sgd.Step();
            least = Math.Min(least, GC.GetTotalAllocatedBytes(precise: true) - before);
        }
        Assert.Equal(0, least);
    }
}

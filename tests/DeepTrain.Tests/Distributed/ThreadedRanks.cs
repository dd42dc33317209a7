using DeepTrain.Distributed;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// <paramref name="size"/> ranks as threads of this process, each with its own values (unlike
/// <see cref="LoopbackCollectives"/>, where every rank holds the same): the host sum meets at a barrier and adds the
/// ranks' values in rank order, as a deterministic MPI would. Only what sync batch norm and the stop vote use.
/// </summary>
internal sealed class ThreadedRanks(int size)
{
    private readonly Barrier _barrier = new(size);
    private readonly double[][] _slots = new double[size][];

    public ICollectives this[int rank] => new Member(this, rank);

    /// <summary>Runs <paramref name="body"/>(rank) on one thread per rank and rethrows the first failure.</summary>
    public void Run(Action<int> body)
    {
        var errors = new Exception?[size];
        var threads = Enumerable.Range(0, size).Select(r => new Thread(() =>
        {
            try { body(r); }
            catch (Exception e) { errors[r] = e; _barrier.RemoveParticipant(); }   // the others must not wait for it
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (errors.FirstOrDefault(e => e is not null) is { } first) throw new AggregateException($"a rank failed: {first.Message}", first);
    }

    private sealed class Member(ThreadedRanks hub, int rank) : ICollectives
    {
        public int Rank => rank;
        public int Size => hub._slots.Length;

        public void AllReduceSum(Span<double> data)
        {
            hub._slots[rank] = data.ToArray();
            hub._barrier.SignalAndWait();
            for (int i = 0; i < data.Length; i++)
            {
                double s = 0;
                for (int r = 0; r < Size; r++) s += hub._slots[r][i];
                data[i] = s;
            }
            hub._barrier.SignalAndWait();   // no rank overwrites its slot before every rank has read it
        }

        public void Broadcast(Tensor data, int root) => throw new NotSupportedException("ThreadedRanks: host sums only");
        public ICollectiveRequest StartAllReduceSum(Tensor data) => throw new NotSupportedException("ThreadedRanks: host sums only");
        public void AllReduceMax(Tensor data) => throw new NotSupportedException("ThreadedRanks: host sums only");
        public void Dispose() { }
    }
}

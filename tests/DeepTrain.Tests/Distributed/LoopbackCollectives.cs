using DeepTrain.Distributed;
using DeepTrain.Tensors;

namespace DeepTrain.Tests.Distributed;

/// <summary>
/// In-process stand-in for <paramref name="size"/> ranks that all hold this rank's values: a sum multiplies by the size
/// (exact in fp32 for a power of two), a maximum and a broadcast leave the values as they are. Counts the calls.
/// </summary>
internal sealed class LoopbackCollectives(int size) : ICollectives
{
    public int Rank => 0;
    public int Size => size;
    public int Started { get; private set; }
    public int Broadcasts { get; private set; }
    public int Maxima { get; private set; }

    public void Broadcast(Tensor data, int root) => Broadcasts++;

    public ICollectiveRequest StartAllReduceSum(Tensor data)
    {
        Started++;
        var span = data.AsSpan<float>();
        for (int i = 0; i < span.Length; i++) span[i] *= size;
        return new Done();
    }

    public void AllReduceMax(Tensor data) => Maxima++;

    public void AllReduceSum(Span<double> data)
    {
        for (int i = 0; i < data.Length; i++) data[i] *= size;
    }

    public void Dispose() { }

    private sealed class Done : ICollectiveRequest
    {
        public bool Test() => true;
        public void Wait(TimeSpan timeout) { }
        public void Dispose() { }
    }
}

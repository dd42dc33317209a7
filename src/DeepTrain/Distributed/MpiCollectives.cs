using System.Buffers;
using DeepTrain.Interop;
using DeepTrain.Tensors;

namespace DeepTrain.Distributed;

/// <summary>
/// Collectives over MPI on host tensors (the CPU backend's memory): every one non-blocking (<c>MPI_Ibcast</c>,
/// <c>MPI_Iallreduce</c>) and waited on by polling <c>MPI_Test</c>, so that a dead or stuck peer becomes a
/// <see cref="CollectiveTimeoutException"/> naming this rank after <see cref="DistributedOptions.Timeout"/> instead of a
/// hang — the broadcast of the parameters at start included.
/// Open MPI's shared-memory and TCP paths progress a non-blocking collective only inside MPI calls, so the gradient
/// buckets test their requests after every backward layer (<see cref="GradientBuckets"/>).
/// </summary>
internal sealed class MpiCollectives(MpiComm comm, TimeSpan timeout) : ICollectives
{
    public int Rank => comm.Rank;
    public int Size => comm.Size;

    public void Broadcast(Tensor data, int root)
    {
        RequireHost(data, "Broadcast");
        int n = checked((int)data.Elements);
        var request = data.DType == DType.Float32 ? comm.BroadcastAsync(new FixedNativeMemory<float>(data.Pointer, n).Memory, root)
            : data.DType == DType.Int32 ? comm.BroadcastAsync(new FixedNativeMemory<int>(data.Pointer, n).Memory, root)
            : throw new ArgumentException($"Broadcast: {data.DType} tensors are not supported (fp32, int32)", nameof(data));
        using var r = new Request(request, this, $"the broadcast of {n} {(data.DType == DType.Float32 ? "float" : "int")}(s) from rank {root}");
        r.Wait(timeout);
    }

    public ICollectiveRequest StartAllReduceSum(Tensor data)
    {
        RequireHost(data, "AllReduceSum");
        if (data.DType != DType.Float32) throw new ArgumentException($"AllReduceSum: {data.DType} tensor, expected fp32", nameof(data));
        var memory = new FixedNativeMemory<float>(data.Pointer, checked((int)data.Elements)).Memory;
        return new Request(comm.AllReduceAsync(memory, MpiReduceOp.Sum), this, $"the all-reduce of {data.Elements} floats");
    }

    public void AllReduceMax(Tensor data)
    {
        RequireHost(data, "AllReduceMax");
        if (data.DType != DType.Int32) throw new ArgumentException($"AllReduceMax: {data.DType} tensor, expected int32", nameof(data));
        var memory = new FixedNativeMemory<int>(data.Pointer, checked((int)data.Elements)).Memory;
        using var r = new Request(comm.AllReduceAsync(memory, MpiReduceOp.Max), this, $"the maximum of {data.Elements} int(s)");
        r.Wait(timeout);
    }

    public void AllReduceSum(Span<double> data)
    {
        // A pooled copy (sync batch norm sums every step): if the wait times out, MPI may still write into it, so it is
        // then left pinned by its pending request and never returned.
        var copy = ArrayPool<double>.Shared.Rent(data.Length);
        data.CopyTo(copy);
        using (var r = new Request(comm.AllReduceAsync(copy.AsMemory(0, data.Length), MpiReduceOp.Sum), this, $"the sum of {data.Length} double(s)"))
            r.Wait(timeout);
        copy.AsSpan(0, data.Length).CopyTo(data);
        ArrayPool<double>.Shared.Return(copy);
    }

    public void Dispose() { }   // MPI_COMM_WORLD is predefined; ProcessGroup finalises MPI

    private static void RequireHost(Tensor t, string op)
    {
        if (t.Device != Device.Cpu)
            throw new ArgumentException($"{op} over MPI: the tensor is on {t.Device}; MPI collectives here take host (CPU backend) memory, GPU tensors go through NCCL", nameof(t));
    }

    private sealed class Request(MpiRequest request, MpiCollectives owner, string what) : ICollectiveRequest
    {
        public bool Test() => request.Test();
        public void Wait(TimeSpan timeout) => CollectiveWatchdog.Wait(request.Test, timeout, owner.Rank, owner.Size, what);
        // A request still pending at disposal (an error path) must not be abandoned while MPI writes into the buffer.
        public void Dispose() { if (request.IsCompleted) request.Dispose(); }
    }
}

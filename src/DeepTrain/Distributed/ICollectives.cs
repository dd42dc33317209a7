using DeepTrain.Tensors;

namespace DeepTrain.Distributed;

/// <summary>
/// The collectives data-parallel training needs, on tensors of one backend: MPI's for host memory
/// (<see cref="MpiCollectives"/>), NCCL's for GPU memory (<see cref="NcclCollectives"/>), and in tests anything that
/// behaves like them. Every rank calls every collective in the same order with the same element counts (the MPI rule).
/// </summary>
internal interface ICollectives : IDisposable
{
    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1.</summary>
    int Rank { get; }

    /// <summary>The number of ranks.</summary>
    int Size { get; }

    /// <summary>Copies <paramref name="data"/> (fp32 or int32) from rank <paramref name="root"/> to every rank.</summary>
    void Broadcast(Tensor data, int root);

    /// <summary>Starts an in-place sum of the fp32 <paramref name="data"/> over all ranks and returns at once; the tensor
    /// must not be touched until the request completes.</summary>
    ICollectiveRequest StartAllReduceSum(Tensor data);

    /// <summary>The in-place maximum of the int32 <paramref name="data"/> over all ranks (found-inf flags).</summary>
    void AllReduceMax(Tensor data);

    /// <summary>The in-place sum of host values over all ranks (evaluation counts: exact in double up to 2^53).</summary>
    void AllReduceSum(Span<double> data);
}

/// <summary>A started collective: <see cref="Test"/> drives progress without blocking; <see cref="Wait"/> blocks.</summary>
internal interface ICollectiveRequest : IDisposable
{
    /// <summary>Whether it has completed; also lets a library without a progress thread (Open MPI's shared-memory path) advance it.</summary>
    bool Test();

    /// <summary>Blocks until it completes, or throws <see cref="CollectiveTimeoutException"/> after <paramref name="timeout"/>.</summary>
    void Wait(TimeSpan timeout);
}

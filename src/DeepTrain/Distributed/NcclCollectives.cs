using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using DeepTrain.Tensors;
using static DeepTrain.Interop.Checks;

namespace DeepTrain.Distributed;

/// <summary>
/// Collectives over NCCL on GPU tensors, bootstrapped over MPI as Horovod does: rank 0 makes the unique id
/// (<c>ncclGetUniqueId</c>), <c>MPI_Bcast</c> hands it to every rank, each joins with <c>ncclCommInitRank</c> on its
/// backend's device (<c>cuda:LocalRank</c>). A gradient bucket's all-reduce runs on a communication stream of its own:
/// it waits for an event recorded on the compute stream when the bucket's gradients are final, and the compute stream
/// waits for its completion event before the optimizer, so the all-reduce overlaps the rest of backward on the device
/// and the host never blocks. Host-side sums (evaluation counts, sync batch norm's statistics, the stop vote) go over MPI, watched by the same timeout.
/// <para>Written against NVIDIA/nccl's <c>src/nccl.h.in</c> and compiled; run only where a GPU and NCCL exist (the
/// device check). The watchdog here is <c>ncclCommGetAsyncError</c> polled at each wait, not a timeout on the device.</para>
/// </summary>
internal sealed unsafe class NcclCollectives : ICollectives
{
    private readonly CudaBackend _backend;
    private readonly MpiComm _mpi;
    private readonly MpiCollectives _host;   // host sums (evaluation counts, sync batch norm, the stop vote) over MPI
    private readonly NcclCommHandle _comm;
    private readonly CudaStream _commStream;
    private readonly Stack<CudaEvent> _events = new();
    private readonly List<CudaEvent> _allEvents = [];

    public NcclCollectives(CudaBackend backend, MpiComm mpi, TimeSpan timeout)
    {
        (_backend, _mpi, _host) = (backend, mpi, new MpiCollectives(mpi, timeout));
        var bytes = new byte[Nccl.NCCL_UNIQUE_ID_BYTES];
        if (mpi.Rank == 0)
        {
            Check(Nccl.ncclGetUniqueId(out var id));
            id.ToArray().CopyTo(bytes, 0);
        }
        // Watched like every blocking collective at start: a rank that never gets here is named after the timeout.
        // ncclCommInitRank below blocks until every rank has joined, but they all passed this broadcast just before.
        using (var request = mpi.BroadcastAsync<byte>(bytes, root: 0))
            CollectiveWatchdog.Wait(request.Test, timeout, mpi.Rank, mpi.Size, "the broadcast of NCCL's unique id from rank 0");
        Check(Cudart.cudaSetDevice(backend.Device.Index));
        Check(Nccl.ncclCommInitRank(out _comm, mpi.Size, ncclUniqueId.FromBytes(bytes), mpi.Rank));
        Check(Cudart.cudaStreamCreateWithFlags(out _commStream, Cudart.cudaStreamNonBlocking));
    }

    public int Rank => _mpi.Rank;
    public int Size => _mpi.Size;

    public void Broadcast(Tensor data, int root)
    {
        var type = data.DType == DType.Float32 ? ncclDataType_t.ncclFloat32 : data.DType == DType.Int32 ? ncclDataType_t.ncclInt32
            : throw new ArgumentException($"Broadcast: {data.DType} tensors are not supported (fp32, int32)", nameof(data));
        Check(Nccl.ncclBroadcast((void*)data.Pointer, (void*)data.Pointer, (nuint)data.Elements, type, root, _comm, _backend.Stream));
    }

    public ICollectiveRequest StartAllReduceSum(Tensor data)
    {
        if (data.DType != DType.Float32) throw new ArgumentException($"AllReduceSum: {data.DType} tensor, expected fp32", nameof(data));
        var ready = Rent();
        Check(Cudart.cudaEventRecord(ready, _backend.Stream));
        Check(Cudart.cudaStreamWaitEvent(_commStream, ready, 0));
        Check(Nccl.ncclAllReduce((void*)data.Pointer, (void*)data.Pointer, (nuint)data.Elements, ncclDataType_t.ncclFloat32, ncclRedOp_t.ncclSum, _comm, _commStream));
        var done = Rent();
        Check(Cudart.cudaEventRecord(done, _commStream));
        return new Request(this, ready, done);
    }

    public void AllReduceMax(Tensor data)
    {
        if (data.DType != DType.Int32) throw new ArgumentException($"AllReduceMax: {data.DType} tensor, expected int32", nameof(data));
        // On the compute stream: the flag is written by the unscale before it and read by the optimizer after it.
        Check(Nccl.ncclAllReduce((void*)data.Pointer, (void*)data.Pointer, (nuint)data.Elements, ncclDataType_t.ncclInt32, ncclRedOp_t.ncclMax, _comm, _backend.Stream));
    }

    public void AllReduceSum(Span<double> data) => _host.AllReduceSum(data);

    private CudaEvent Rent()
    {
        if (_events.TryPop(out var e)) return e;
        Check(Cudart.cudaEventCreateWithFlags(out e, Cudart.cudaEventDisableTiming));
        _allEvents.Add(e);
        return e;
    }

    private void CheckAsync()
    {
        Check(Nccl.ncclCommGetAsyncError(_comm, out var async));
        if (async != ncclResult_t.ncclSuccess && async != ncclResult_t.ncclInProgress)
        {
            _comm.MarkForAbort();   // a peer is gone: destroy could hang, abort does not
            Check(async, "ncclCommGetAsyncError");
        }
    }

    public void Dispose()
    {
        _comm.Dispose();
        _commStream.Dispose();
        foreach (var e in _allEvents) e.Dispose();
    }

    private sealed class Request(NcclCollectives owner, CudaEvent ready, CudaEvent done) : ICollectiveRequest
    {
        private bool _waited;
        public bool Test() { owner.CheckAsync(); return _waited; }
        public void Wait(TimeSpan timeout)
        {
            if (_waited) return;
            owner.CheckAsync();
            // The compute stream (the optimizer) waits on the device; the host goes on.
            Check(Cudart.cudaStreamWaitEvent(owner._backend.Stream, done, 0));
            _waited = true;
        }
        public void Dispose()
        {
            owner._events.Push(ready);
            owner._events.Push(done);
        }
    }
}

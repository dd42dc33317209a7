using System.Diagnostics.CodeAnalysis;
using static DeepTrain.Interop.Checks;
using static DeepTrain.Interop.Mpi;

namespace DeepTrain.Interop;

/// <summary>The reductions the trainer needs: sums of gradients and counts, maxima of flags.</summary>
public enum MpiReduceOp
{
    /// <summary><c>MPI_SUM</c>.</summary>
    Sum,
    /// <summary><c>MPI_MAX</c> (e.g. a found-inf flag: any rank's 1 wins).</summary>
    Max,
}

/// <summary>
/// A communicator with its rank facts and the collectives DeepTrain uses. Every collective must be called by every rank
/// of the communicator, in the same order, with the same counts; buffers are spans over managed or native memory
/// (<c>float</c>, <c>double</c>, <c>int</c>, <c>byte</c>). The communicator is predefined (<c>MPI_COMM_WORLD</c>), so
/// nothing is freed; it is valid until <see cref="MpiRuntime.Dispose"/>.
/// </summary>
public sealed unsafe class MpiComm
{
    private MpiComm(MPI_Comm handle, int rank, int size, int localRank, int localSize)
        => (Handle, Rank, Size, LocalRank, LocalSize) = (handle, rank, size, localRank, localSize);

    /// <summary>The native communicator.</summary>
    internal MPI_Comm Handle { get; }
    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1.</summary>
    public int Rank { get; }
    /// <summary>The number of processes.</summary>
    public int Size { get; }
    /// <summary>This process's rank among the processes on its node (picks <c>cuda:LocalRank</c>).</summary>
    public int LocalRank { get; }
    /// <summary>The number of processes on this node.</summary>
    public int LocalSize { get; }

    /// <summary>Reads rank and size, and the local rank from a node-local split (collective).</summary>
    /// <remarks>
    /// The local rank comes from <c>MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)</c>, not from <c>OMPI_COMM_WORLD_LOCAL_RANK</c>:
    /// the split is standard MPI-3 and right under every launcher (mpirun, Slurm's srun, a hostfile across machines),
    /// while the variable exists only under Open MPI's own mpirun. It costs one collective, once, at initialisation.
    /// </remarks>
    internal static MpiComm Create(MPI_Comm comm)
    {
        Check(MPI_Comm_rank(comm, out int rank));
        Check(MPI_Comm_size(comm, out int size));
        Check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MpiHandles.MPI_INFO_NULL, out MpiCommHandle node));
        using (node)
        {
            Check(MPI_Comm_rank(node.Comm, out int localRank));
            Check(MPI_Comm_size(node.Comm, out int localSize));
            return new MpiComm(comm, rank, size, localRank, localSize);
        }
    }

    /// <summary>Blocks until every rank has called it (<c>MPI_Barrier</c>).</summary>
    /// <exception cref="MpiException">The call failed.</exception>
    public void Barrier() => Check(MPI_Barrier(Handle));

    /// <summary>Copies <paramref name="data"/> from rank <paramref name="root"/> to every rank (<c>MPI_Bcast</c>).</summary>
    /// <typeparam name="T"><c>float</c>, <c>double</c>, <c>int</c> or <c>byte</c>.</typeparam>
    /// <param name="data">The root's values; overwritten on the other ranks. The same length on every rank.</param>
    /// <param name="root">The rank that sends.</param>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> has no MPI datatype here.</exception>
    /// <exception cref="MpiException">The call failed (e.g. <c>MPI_ERR_ROOT</c> for a root outside the job).</exception>
    public void Broadcast<T>(Span<T> data, int root) where T : unmanaged
    {
        var type = Datatype<T>();
        fixed (T* p = data) Check(MPI_Bcast(p, data.Length, type, root, Handle));
    }

    /// <summary>Starts copying <paramref name="data"/> from rank <paramref name="root"/> to every rank (<c>MPI_Ibcast</c>) and
    /// returns at once; <paramref name="data"/> is pinned until the request completes. Waiting on it by polling
    /// <see cref="MpiRequest.Test"/> lets a caller give up on a rank that never arrives, which a blocking
    /// <see cref="Broadcast{T}"/> cannot.</summary>
    /// <typeparam name="T"><c>float</c>, <c>double</c>, <c>int</c> or <c>byte</c>.</typeparam>
    /// <param name="data">The root's values; overwritten on the other ranks once complete. The same length on every rank.</param>
    /// <param name="root">The rank that sends.</param>
    /// <returns>The request: test or wait on it, and dispose it.</returns>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> has no MPI datatype here.</exception>
    /// <exception cref="MpiException">The call failed (e.g. <c>MPI_ERR_ROOT</c>).</exception>
    public MpiRequest BroadcastAsync<T>(Memory<T> data, int root) where T : unmanaged
    {
        var type = Datatype<T>();
        var pin = data.Pin();
        try
        {
            Check(MPI_Ibcast(pin.Pointer, data.Length, type, root, Handle, out MPI_Request request));
            return new MpiRequest(request, pin);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <summary>Replaces <paramref name="data"/> on every rank by its reduction over all ranks (<c>MPI_Allreduce</c>, in place).</summary>
    /// <typeparam name="T"><c>float</c>, <c>double</c> or <c>int</c>.</typeparam>
    /// <param name="data">This rank's values in, the reduction out. The same length on every rank.</param>
    /// <param name="op">The reduction.</param>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> has no MPI datatype here.</exception>
    /// <exception cref="MpiException">The call failed.</exception>
    public void AllReduce<T>(Span<T> data, MpiReduceOp op) where T : unmanaged
    {
        var type = Datatype<T>();
        fixed (T* p = data) Check(MPI_Allreduce((void*)MPI_IN_PLACE, p, data.Length, type, Op(op), Handle));
    }

    /// <summary>Sums <paramref name="data"/> over all ranks, in place. The summation order is the library's: results may
    /// differ from a sequential sum in the last bits, but are identical on every rank.</summary>
    /// <param name="data">This rank's values in, the sum out.</param>
    /// <exception cref="MpiException">The call failed.</exception>
    public void AllReduceSum(Span<float> data) => AllReduce(data, MpiReduceOp.Sum);

    /// <summary>Starts an in-place all-reduce (<c>MPI_Iallreduce</c>) and returns at once; <paramref name="data"/> is
    /// pinned until the request completes. Do not read or write it before then.</summary>
    /// <typeparam name="T"><c>float</c>, <c>double</c> or <c>int</c>.</typeparam>
    /// <param name="data">This rank's values in, the reduction out once complete.</param>
    /// <param name="op">The reduction.</param>
    /// <returns>The request: test or wait on it, and dispose it.</returns>
    /// <exception cref="ArgumentException"><typeparamref name="T"/> has no MPI datatype here.</exception>
    /// <exception cref="MpiException">The call failed.</exception>
    public MpiRequest AllReduceAsync<T>(Memory<T> data, MpiReduceOp op) where T : unmanaged
    {
        var type = Datatype<T>();
        var pin = data.Pin();
        try
        {
            Check(MPI_Iallreduce((void*)MPI_IN_PLACE, pin.Pointer, data.Length, type, Op(op), Handle, out MPI_Request request));
            return new MpiRequest(request, pin);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <summary><see cref="AllReduceAsync{T}"/> with <see cref="MpiReduceOp.Sum"/> on floats.</summary>
    /// <param name="data">This rank's values in, the sum out once complete.</param>
    /// <returns>The request.</returns>
    /// <exception cref="MpiException">The call failed.</exception>
    public MpiRequest AllReduceSumAsync(Memory<float> data) => AllReduceAsync(data, MpiReduceOp.Sum);

    /// <summary>
    /// Ends the whole job: writes <c>rank R of N aborts the job: message</c> to standard error, then calls <c>MPI_Abort</c>,
    /// which makes the launcher kill every rank and exit non-zero (Open MPI's mpirun also names the rank and the code).
    /// Use it when one rank cannot go on, so the others do not wait forever in a collective.
    /// </summary>
    /// <param name="errorCode">The exit status for the job (non-zero).</param>
    /// <param name="message">Why, for the log.</param>
    [DoesNotReturn]
    public void Abort(int errorCode, string message)
    {
        Console.Error.WriteLine($"rank {Rank} of {Size} aborts the job: {message}");
        Console.Error.Flush();
        _ = MPI_Abort(Handle, errorCode);
        Environment.Exit(errorCode);   // only if MPI_Abort returned, which it must not
        throw new InvalidOperationException("unreachable");
    }

    private static MPI_Datatype Datatype<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? MpiHandles.MPI_FLOAT
        : typeof(T) == typeof(int) ? MpiHandles.MPI_INT
        : typeof(T) == typeof(double) ? MpiHandles.MPI_DOUBLE
        : typeof(T) == typeof(byte) ? MpiHandles.MPI_BYTE
        : throw new ArgumentException($"{typeof(T).Name} has no MPI datatype here (float, double, int, byte)", nameof(T));

    private static MPI_Op Op(MpiReduceOp op) => op switch
    {
        MpiReduceOp.Sum => MpiHandles.MPI_SUM,
        MpiReduceOp.Max => MpiHandles.MPI_MAX,
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, "Sum or Max"),
    };
}

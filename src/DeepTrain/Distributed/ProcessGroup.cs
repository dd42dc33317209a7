using System.Diagnostics.CodeAnalysis;
using DeepTrain.Backends;
using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using DeepTrain.Tensors;

namespace DeepTrain.Distributed;

/// <summary>
/// The ranks of a data-parallel job (PyTorch's <c>torch.distributed</c> process group) over MPI: rank, size, local rank,
/// and the collectives a <see cref="Training.TrainingRun"/> uses — MPI's for the CPU backend, NCCL's (bootstrapped over
/// MPI) for GPUs. Give it to <see cref="Training.TrainingRun"/> (or <see cref="Training.Trainer.Distribute(ProcessGroup)"/>) and run
/// the program under <c>mpirun -n N</c> or <c>srun</c>; rank 0 (<see cref="IsMain"/>) alone writes checkpoints.
/// <code>
/// using var group = ProcessGroup.FromLaunch();            // null in a plain run: MPI is not even loaded
/// using var backend = BackendFactory.Create(group?.DeviceFor(Device.Cuda(0)) ?? Device.Cuda(0));
/// using var run = new TrainingRun(graph, train, test, backend, options, group);
/// </code>
/// One per process: MPI is initialised once and finalised by <see cref="Dispose"/> (collective: every rank disposes).
/// </summary>
public sealed class ProcessGroup : IDisposable
{
    private readonly MpiRuntime _mpi;
    private ICollectives? _collectives;
    private IBackend? _collectivesBackend;

    private ProcessGroup(MpiRuntime mpi, DistributedOptions options)
        => (_mpi, Options) = (mpi, options);

    /// <summary>
    /// The group of this process's launch: null when the environment shows no launcher with more than one rank (a plain
    /// run stays exactly as it was, without loading MPI); otherwise MPI is initialised and the group returned.
    /// </summary>
    /// <param name="options">Bucket size, overlap, timeout and failure handling; null: the defaults.</param>
    /// <exception cref="DllNotFoundException">Launched by mpirun/srun but no Open MPI library loads; the message holds the search trace.</exception>
    /// <exception cref="MpiException">MPI could not initialise.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public static ProcessGroup? FromLaunch(DistributedOptions? options = null)
        => LaunchEnvironment.Detect() is null ? null : InitializeMpi(options);

    /// <summary>Initialises MPI and returns the group of <c>MPI_COMM_WORLD</c> (a process not started by a launcher is a group of one).</summary>
    /// <param name="options">Bucket size, overlap, timeout and failure handling; null: the defaults.</param>
    /// <exception cref="DllNotFoundException">No Open MPI library loads; the message holds the search trace.</exception>
    /// <exception cref="MpiException">MPI could not initialise.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public static ProcessGroup InitializeMpi(DistributedOptions? options = null)
    {
        options ??= new DistributedOptions();
        options.Validate();
        return new ProcessGroup(MpiRuntime.Initialize(MpiThreadLevel.MPI_THREAD_SERIALIZED), options);
    }

    /// <summary>This process's rank, 0 to <see cref="Size"/> - 1.</summary>
    public int Rank => _mpi.World.Rank;
    /// <summary>The number of ranks.</summary>
    public int Size => _mpi.World.Size;
    /// <summary>This process's rank on its machine (from MPI's node-local split), which picks its GPU.</summary>
    public int LocalRank => _mpi.World.LocalRank;
    /// <summary>The number of ranks on this machine.</summary>
    public int LocalSize => _mpi.World.LocalSize;
    /// <summary>Whether this is rank 0, the one that prints and writes.</summary>
    public bool IsMain => Rank == 0;
    /// <summary>The options this group was made with.</summary>
    public DistributedOptions Options { get; }

    /// <summary>The device this rank should train on: <c>cuda:LocalRank</c> when <paramref name="requested"/> is a GPU (one
    /// rank per GPU), the CPU otherwise.</summary>
    /// <param name="requested">What the user asked for.</param>
    /// <returns>The device.</returns>
    public Device DeviceFor(Device requested) => requested.Kind == DeviceKind.Cuda ? Device.Cuda(LocalRank) : requested;

    /// <summary>Writes <c>rank R of N aborts the job: message</c> to standard error and ends every rank (<c>MPI_Abort</c>).</summary>
    /// <param name="message">The cause.</param>
    /// <param name="exitCode">The job's exit status (non-zero).</param>
    [DoesNotReturn]
    public void Abort(string message, int exitCode = 1) => _mpi.World.Abort(exitCode, message);

    /// <summary>The collectives for tensors of <paramref name="backend"/>: MPI for the CPU backend, NCCL for a CUDA backend
    /// (made once; one backend per group).</summary>
    internal ICollectives CollectivesFor(IBackend backend)
    {
        if (_collectives is not null)
            return ReferenceEquals(backend, _collectivesBackend) ? _collectives
                : throw new InvalidOperationException("ProcessGroup: collectives were made for another backend; use one backend per group");
        _collectives = backend switch
        {
            CudaBackend cuda => new NcclCollectives(cuda, _mpi.World, Options.Timeout),
            _ when backend.Device.Kind == DeviceKind.Cpu => new MpiCollectives(_mpi.World, Options.Timeout),
            _ => throw new NotSupportedException($"ProcessGroup: no collectives for {backend.Device}"),
        };
        _collectivesBackend = backend;
        return _collectives;
    }

    /// <summary>Finalises MPI (collective: every rank must dispose its group).</summary>
    /// <exception cref="MpiException">MPI_Finalize failed.</exception>
    public void Dispose()
    {
        _collectives?.Dispose();
        _collectives = null;
        _mpi.Dispose();
    }
}

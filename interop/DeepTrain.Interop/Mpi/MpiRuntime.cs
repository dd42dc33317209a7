using static DeepTrain.Interop.Checks;
using static DeepTrain.Interop.Mpi;

namespace DeepTrain.Interop;

/// <summary>
/// MPI in this process: initialised once by <see cref="Initialize"/>, finalised once by <see cref="Dispose"/>. MPI allows
/// exactly one init/finalize pair per process, so there is one instance at most, and none after disposal.
/// <para>Errors: initialisation sets <c>MPI_ERRORS_RETURN</c> on <c>MPI_COMM_WORLD</c>, so a failing call returns its
/// code and surfaces as an <see cref="MpiException"/> (the library's default handler would abort the whole job from
/// inside the call).</para>
/// <code>
/// using var mpi = MpiRuntime.Initialize();          // under mpirun -n N
/// var world = mpi.World;                            // Rank, Size, LocalRank
/// world.AllReduceSum(gradients);                    // in place, every rank gets the sum
/// </code>
/// Thread safety: calls from several threads need <see cref="MpiThreadLevel.MPI_THREAD_SERIALIZED"/> (one at a time,
/// the caller's job) or <see cref="MpiThreadLevel.MPI_THREAD_MULTIPLE"/>.
/// </summary>
public sealed class MpiRuntime : IDisposable
{
    private static readonly Lock Gate = new();
    private static MpiRuntime? _current;
    private readonly bool _owner;
    private bool _disposed;

    private MpiRuntime(MpiThreadLevel provided, bool owner, MpiComm world)
        => (ThreadLevel, _owner, World) = (provided, owner, world);

    /// <summary>The thread level the library provides (at least the one asked for).</summary>
    public MpiThreadLevel ThreadLevel { get; }

    /// <summary>All processes of the job (<c>MPI_COMM_WORLD</c>), with this process's rank and local rank.</summary>
    public MpiComm World { get; }

    /// <summary>The library's version text, e.g. <c>Open MPI v4.1.4, package: Debian OpenMPI, ...</c>.</summary>
    public static string LibraryVersion => Mpi.LibraryVersion();

    /// <summary>Whether an Open MPI library loads here (it says nothing about being launched by mpirun).</summary>
    /// <param name="reason">Where it loaded from, or why nothing did (with every attempt).</param>
    /// <returns>Whether it loads.</returns>
    public static bool IsAvailable(out string reason) => NativeLibraryResolver.TryLoad(Libraries.Mpi, out reason);

    /// <summary>
    /// Initialises MPI (<c>MPI_Init_thread</c>) with at least <paramref name="required"/>, or attaches to an MPI that other
    /// code in this process initialised (that code then owns finalisation). Either way it sets <c>MPI_ERRORS_RETURN</c> on
    /// <c>MPI_COMM_WORLD</c>, which an attached owner should know. A process not started by mpirun/srun becomes a job of
    /// one rank (Open MPI's singleton mode).
    /// </summary>
    /// <param name="required">The thread level needed.</param>
    /// <returns>The process's runtime; the same instance on a second call.</returns>
    /// <exception cref="DllNotFoundException">No Open MPI library loads; the message holds the search trace.</exception>
    /// <exception cref="InvalidOperationException">MPI was already finalised in this process, or provides less than <paramref name="required"/>.</exception>
    /// <exception cref="MpiException">An MPI call failed.</exception>
    public static MpiRuntime Initialize(MpiThreadLevel required = MpiThreadLevel.MPI_THREAD_SERIALIZED)
    {
        lock (Gate)
        {
            if (_current is { _disposed: false }) return _current;
            NativeLibraryResolver.Load(Libraries.Mpi);
            Check(MPI_Finalized(out int finalized));
            if (finalized != 0) throw new InvalidOperationException("MPI was finalised in this process; MPI cannot be initialised twice");
            Check(MPI_Initialized(out int initialized));
            MpiThreadLevel provided;
            unsafe
            {
                if (initialized == 0) Check(MPI_Init_thread(null, null, required, out provided));
                else Check(MPI_Query_thread(out provided));
            }
            var world = MpiHandles.MPI_COMM_WORLD;
            Check(MPI_Comm_set_errhandler(world, MpiHandles.MPI_ERRORS_RETURN));
            if (provided < required)
            {
                if (initialized == 0) Check(MPI_Finalize());
                throw new InvalidOperationException($"MPI provides {provided}, {required} was required ({Mpi.LibraryVersion()})");
            }
            _current = new MpiRuntime(provided, owner: initialized == 0, MpiComm.Create(world));
            return _current;
        }
    }

    /// <summary>Finalises MPI (<c>MPI_Finalize</c>, collective: every rank must call it) if this runtime initialised it.
    /// Pending requests must be completed first. A second call does nothing.</summary>
    /// <exception cref="MpiException">MPI_Finalize failed.</exception>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (!_owner) return;
            Check(MPI_Finalized(out int finalized));
            if (finalized == 0) Check(MPI_Finalize());
        }
    }
}

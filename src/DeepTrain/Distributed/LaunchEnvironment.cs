using System.Globalization;

namespace DeepTrain.Distributed;

/// <summary>
/// Whether this process was started as one of several ranks, read from the launcher's environment only, so that a plain
/// run never loads MPI. Open MPI's mpirun sets <c>OMPI_COMM_WORLD_SIZE/RANK/LOCAL_RANK</c>; MPICH's Hydra and Slurm's
/// PMI set <c>PMI_SIZE/PMI_RANK</c>; PMIx launchers <c>PMIX_RANK</c> (with Open MPI's variables); Slurm's srun sets
/// <c>SLURM_NTASKS/SLURM_PROCID/SLURM_LOCALID</c> inside a job step (<c>SLURM_STEP_ID</c>), which an sbatch script's own
/// shell lacks. One rank (size 1) counts as not launched: it trains exactly as a plain run.
/// </summary>
/// <param name="Launcher">Which variables said so, for messages.</param>
/// <param name="Size">The number of ranks the launcher started.</param>
/// <param name="Rank">This process's rank, as the launcher numbers it.</param>
/// <param name="LocalRank">The launcher's local rank, when it gives one (MPI's node-local split is authoritative).</param>
internal sealed record LaunchEnvironment(string Launcher, int Size, int Rank, int? LocalRank)
{
    /// <summary>The launch this process is part of, or null for a plain (or single-rank) run.</summary>
    public static LaunchEnvironment? Detect() => Detect(name => Environment.GetEnvironmentVariable(name));

    /// <summary><see cref="Detect()"/> over any variable source (tests).</summary>
    public static LaunchEnvironment? Detect(Func<string, string?> env)
    {
        int? Int(string name) => int.TryParse(env(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;
        LaunchEnvironment? found = null;
        if (Int("OMPI_COMM_WORLD_SIZE") is int os && Int("OMPI_COMM_WORLD_RANK") is int or)
            found = new("Open MPI (OMPI_COMM_WORLD_*)", os, or, Int("OMPI_COMM_WORLD_LOCAL_RANK"));
        else if (Int("PMI_SIZE") is int ps && Int("PMI_RANK") is int pr)
            found = new("PMI (PMI_SIZE, PMI_RANK)", ps, pr, Int("MPI_LOCALRANKID") ?? Int("SLURM_LOCALID"));
        else if ((env("SLURM_STEP_ID") ?? env("SLURM_STEPID")) is not null && Int("SLURM_NTASKS") is int ss && Int("SLURM_PROCID") is int sr)
            found = new("Slurm srun (SLURM_NTASKS, SLURM_PROCID)", ss, sr, Int("SLURM_LOCALID"));
        return found is { Size: > 1 } ? found : null;
    }
}

using DeepTrain.Distributed;
using Xunit;

namespace DeepTrain.Tests.Distributed;

/// <summary>Launch detection reads only the environment, so a plain run never loads MPI.</summary>
public sealed class LaunchEnvironmentTests
{
    private static LaunchEnvironment? Detect(params (string Name, string Value)[] vars)
        => LaunchEnvironment.Detect(name => vars.FirstOrDefault(v => v.Name == name).Value);

    [Fact]
    public void PlainRun_IsNotALaunch() => Assert.Null(Detect());

    [Fact]
    public void OpenMpiMpirun_GivesSizeRankAndLocalRank()
        => Assert.Equal(new LaunchEnvironment("Open MPI (OMPI_COMM_WORLD_*)", 4, 3, 1),
            Detect(("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_LOCAL_RANK", "1")));

    [Fact]
    public void SingleRank_StaysAPlainRun() => Assert.Null(Detect(("OMPI_COMM_WORLD_SIZE", "1"), ("OMPI_COMM_WORLD_RANK", "0")));

    [Fact]
    public void SlurmSrunStep_IsALaunch_ButTheBatchScriptIsNot()
    {
        (string, string)[] job = [("SLURM_NTASKS", "8"), ("SLURM_PROCID", "5"), ("SLURM_LOCALID", "1")];
        Assert.Null(Detect(job));
        Assert.Equal(new LaunchEnvironment("Slurm srun (SLURM_NTASKS, SLURM_PROCID)", 8, 5, 1), Detect([.. job, ("SLURM_STEP_ID", "0")]));
    }

    [Fact]
    public void Pmi_IsALaunch() => Assert.Equal(2, Detect(("PMI_SIZE", "2"), ("PMI_RANK", "1"))?.Size);
}

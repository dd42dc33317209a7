using System.Diagnostics;

namespace DeepTrain.Interop.Tests;

/// <summary>Finds Open MPI's tools and runs processes with a hard time limit, for the MPI tests.</summary>
internal static class MpiTools
{
    /// <summary>Why the MPI tests cannot run here, or null when mpirun, mpicc and libmpi.so.40 are all present.</summary>
    public static string? SkipReason { get; } = FindSkipReason();

    private static string? FindSkipReason()
    {
        string install = "./build.sh test installs Debian's openmpi-bin and libopenmpi-dev when run as root with apt-get";
        if (!OperatingSystem.IsLinux()) return "the MPI bindings are for Open MPI on Linux";
        if (FindOnPath("mpirun") is null) return "mpirun is not on PATH: " + install;
        if (FindOnPath("mpicc") is null) return "mpicc is not on PATH: " + install;
        if (!MpiRuntime.IsAvailable(out string reason)) return "libmpi.so.40 does not load: " + reason;
        return null;
    }

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>
    /// <c>mpirun -n 2</c> on this machine only: shared memory between the ranks (<c>btl self,vader</c>, with vader's
    /// single-copy mechanism off, since containers often forbid the ptrace-based one), the launcher's own channel on the
    /// loopback interface, no core binding (two ranks may share a core), and permission to run as root.
    /// </summary>
    public static (int ExitCode, string StdOut, string StdErr, TimeSpan Elapsed, bool TimedOut) MpiRun(int ranks, string program, IEnumerable<string> args, TimeSpan limit)
        => Run(FindOnPath("mpirun")!, MpiRunArguments(ranks, program, args), MpiRunEnvironment(), limit);

    /// <summary>mpirun's arguments for <see cref="MpiRun"/>: the settings above, then the program and its arguments.</summary>
    public static List<string> MpiRunArguments(int ranks, string program, IEnumerable<string> args)
    {
        var all = new List<string>
        {
            "-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none",
            "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none", "--mca", "oob_tcp_if_include", "lo",
            program,
        };
        all.AddRange(args);
        return all;
    }

    /// <summary>The environment <see cref="MpiRun"/> adds: permission to run as root, and a plain terminal.</summary>
    public static Dictionary<string, string> MpiRunEnvironment()
        => new() { ["OMPI_ALLOW_RUN_AS_ROOT"] = "1", ["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1", ["TERM"] = "dumb" };

    public static (int ExitCode, string StdOut, string StdErr, TimeSpan Elapsed, bool TimedOut) Run(string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        bool exited = p.WaitForExit(limit);
        if (!exited) { p.Kill(entireProcessTree: true); p.WaitForExit(); }
        watch.Stop();
        return (exited ? p.ExitCode : -1, stdout.Result, stderr.Result, watch.Elapsed, !exited);
    }
}

using System.Diagnostics;
using System.Text;

namespace DeepTrain.Package.Tests;

/// <summary>One finished child process: its exit code and its stdout and stderr interleaved as they came.</summary>
public sealed record ProcessResult(string Command, int ExitCode, string Output)
{
    /// <summary>Fails the test with the command and its whole output unless it exited 0.</summary>
    public ProcessResult AssertSucceeded()
    {
        Assert.True(ExitCode == 0, $"'{Command}' exited {ExitCode}:\n{Output}");
        return this;
    }
}

/// <summary>
/// Runs dotnet (and the tools it installs) as a user would, in a clean environment: no MSBuild variables inherited
/// from a parent build, no build servers left behind (they would keep the output pipes open), its own NuGet
/// packages folder so nothing comes from a previous run's cache.
/// </summary>
public static class Dotnet
{
    /// <summary>The longest any one command may take; the whole round trip takes well under it.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>The dotnet host running these tests' SDK commands.</summary>
    public static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } p && File.Exists(p) ? p : "dotnet";

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/> in <paramref name="workDir"/>.</summary>
    /// <param name="nugetPackages">The NuGet global packages folder for this command (NUGET_PACKAGES).</param>
    public static ProcessResult Run(string file, IEnumerable<string> args, string workDir, string? nugetPackages = null)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        foreach (string key in psi.Environment.Keys.ToList())
            if (key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || key.StartsWith("DEEPTRAIN_", StringComparison.Ordinal)
                || key is "DOTNET_HOST_PATH" or "NUGET_PACKAGES")
                psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        psi.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["UseSharedCompilation"] = "false";
        if (nugetPackages is not null) psi.Environment["NUGET_PACKAGES"] = nugetPackages;

        string command = $"{Path.GetFileName(file)} {string.Join(' ', psi.ArgumentList)}";
        var output = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (output) Assert.Fail($"'{command}' did not finish in {Timeout.TotalMinutes} minutes:\n{output}");
        }
        process.WaitForExit();   // drains the asynchronous readers
        lock (output) return new ProcessResult(command, process.ExitCode, output.ToString());
    }

    /// <summary>Runs the dotnet host (<c>dotnet build</c>, <c>dotnet tool install</c>, ...).</summary>
    public static ProcessResult Sdk(string workDir, string? nugetPackages, params string[] args) => Run(Host, args, workDir, nugetPackages);
}

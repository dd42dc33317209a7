using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace DeepTrain.Tests.Bundle;

/// <summary>
/// bundle/device-check.sh, the one budgeted GPU run, on a stub bundle: the real script, trx_summary.py, env.sh and
/// benchmarks/gpu_vs_pytorch.sh (copied beside the tests), with stand-ins for the apps, the launcher, the PyTorch
/// reference and compute-sanitizer. What is checked is the script's own logic: every stage reaches a verdict with its
/// reason, the budget skips what it cannot hold, a stage over its cap is cut off and the rest still run, and what it
/// leaves in OUT_DIR fits the device tool (at most 8 plain files of at most 16 MiB, plain names, no folders).
/// The real bundle's end-to-end run is `./build.sh device-pack` then `bash bundle/device-check.sh` (README).
/// </summary>
[Trait("Category", Tooling)]
public sealed partial class DeviceCheckScriptTests : IDisposable
{
    /// <summary>The trait of tests about the project's own scripts; the device check leaves them out (CI runs them).</summary>
    public const string Tooling = "Tooling";

    private readonly string _root = Directory.CreateTempSubdirectory("dt-device-check-").FullName;
    private string Bundle => Path.Combine(_root, "bundle");
    private string Out => Path.Combine(_root, "out");

    public DeviceCheckScriptTests()
    {
        if (OperatingSystem.IsWindows()) return;
        string src = Path.Combine(AppContext.BaseDirectory, "device-check");
        Directory.CreateDirectory(Path.Combine(Bundle, "benchmarks", "reference"));
        foreach (string f in (string[])["device-check.sh", "trx_summary.py", "env.sh"]) File.Copy(Path.Combine(src, f), Path.Combine(Bundle, f));
        File.Copy(Path.Combine(src, "gpu_vs_pytorch.sh"), Path.Combine(Bundle, "benchmarks", "gpu_vs_pytorch.sh"));
        File.WriteAllText(Path.Combine(Bundle, "BUNDLE-INFO"), "commit stub\n");
        Script("deeptrain", """
            case "$1" in
              info) echo "DeepTrain stub"; echo "backends:"; echo "  cuda     probe: stub machine has no GPU"; exit 0 ;;
              *) echo "error: CUDA unavailable: stub machine has no GPU" >&2; exit 1 ;;
            esac
            """);
        // A test runner stand-in: writes a TRX with one passed and one skipped case; hangs when STUB_HANG names its class filter.
        const string runner = """
            trx=""; prev=""; classes=""
            for a in "$@"; do [ "$prev" = -trx ] && trx=$a; [ "$prev" = -class ] && classes="$classes $a"; prev=$a; done
            case "$classes" in *"${STUB_HANG:-none}"*) sleep 60 ;; esac
            cat >"$trx" <<'TRX'
            <?xml version="1.0" encoding="utf-8"?>
            <TestRun xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
              <Results>
                <UnitTestResult testName="Stub.Passes" outcome="Passed" />
                <UnitTestResult testName="Stub.NeedsGpu" outcome="NotExecuted"><Output><StdOut>no usable GPU: stub</StdOut></Output></UnitTestResult>
              </Results>
              <ResultSummary outcome="Completed"><Counters total="2" executed="1" passed="1" failed="0" notExecuted="1" /></ResultSummary>
            </TestRun>
            TRX
            """;
        Script("apps/DeepTrain.Tests/DeepTrain.Tests", runner);
        Script("apps/DeepTrain.Interop.Tests/DeepTrain.Interop.Tests", runner);
        Script("apps/InferenceBench/InferenceBench", "echo \"error: CUDA unavailable: stub machine has no GPU\" >&2; exit 1");
        Script("benchmarks/reference/pytorch_gpu_train.py", "import sys\nsys.exit('error: stub torch sees no CUDA device')", python: true);
        Script("benchmarks/reference/pytorch_fused_adamw.py", "import sys\nsys.exit('error: stub torch sees no CUDA device')", python: true);
        Script("stub-bin/compute-sanitizer", """
            shift 6   # --tool memcheck --error-exitcode N --target-processes all
            "$@"; rc=$?
            echo "========= ERROR SUMMARY: 0 errors"; exit $rc
            """);
        Directory.CreateDirectory(Path.Combine(_root, "data", "fashion-mnist"));
        File.WriteAllText(Path.Combine(_root, "data", "fashion-mnist", "train-images-idx3-ubyte.gz"), "");
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private void Script(string relative, string body, bool python = false)
    {
        string path = Path.Combine(Bundle, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, (python ? "#!/usr/bin/env python3\n" : "#!/usr/bin/env bash\n") + body.Replace("\r\n", "\n") + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private (int Code, string Summary) Run(params (string Name, string Value)[] env)
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("device-check.sh is a bash script for the Linux GPU machine");
        var psi = new ProcessStartInfo("bash", [Path.Combine(Bundle, "device-check.sh"), Out])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["PATH"] = Path.Combine(Bundle, "stub-bin") + ":" + Environment.GetEnvironmentVariable("PATH");
        psi.Environment["DEVICE_CHECK_WORK"] = Path.Combine(_root, "work");
        psi.Environment["DEVICE_CHECK_DATA"] = Path.Combine(_root, "data");
        psi.Environment["DEEPTRAIN_SKIP_PYTHON_SITE"] = "1";
        psi.Environment.Remove("OUT");
        foreach (var (name, value) in env) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "device-check.sh did not finish within 3 minutes on the stub bundle");
        string summary = File.Exists(Path.Combine(Out, "summary.txt")) ? File.ReadAllText(Path.Combine(Out, "summary.txt")) : "";
        Assert.True(summary.Length > 0, $"no summary.txt; stdout:\n{stdout}\nstderr:\n{stderr.Result}");
        return (p.ExitCode, summary);
    }

    /// <summary>The verdict column of one stage's row in summary.txt.</summary>
    private static string Verdict(string summary, string stage)
    {
        var m = Regex.Match(summary, "^" + Regex.Escape(stage) + @" +(\S+) ", RegexOptions.Multiline);
        Assert.True(m.Success, $"summary.txt has no row for stage '{stage}':\n{summary}");
        return m.Groups[1].Value;
    }

    private static readonly string[] Stages =
        ["env", "conformance", "tests", "bench-r50-fp16-nhwc", "bench-r56-fp16-nhwc", "bench-r50-fp32-nchw", "bench-kernels", "memcheck", "acceptance", "inference"];

    [GeneratedRegex(@"^[A-Za-z0-9._-]+$")]
    private static partial Regex PlainName();

    [Fact]
    public void WithoutAGpu_EveryStageRuns_GpuStagesSayWhy_AndTheOutputsFitTheDeviceTool()
    {
        var (code, summary) = Run();
        Assert.Equal(1, code);   // no GPU: not a passing check
        Assert.Equal("ok", Verdict(summary, "env"));
        Assert.Equal("ok", Verdict(summary, "conformance"));
        foreach (string s in Stages.Skip(2)) Assert.Equal("NO-GPU", Verdict(summary, s));
        Assert.Contains("stub machine has no GPU", summary, StringComparison.Ordinal);   // the probe's reason reaches the summary
        Assert.Contains("memcheck ERROR SUMMARY: 0 errors", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("RUNNING NOW", summary, StringComparison.Ordinal);

        var entries = Directory.GetFileSystemEntries(Out);
        Assert.Equal(["environment.txt", "results.md", "results.tar.xz", "summary.txt"], entries.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(entries.Length <= 8);
        foreach (string e in entries)
        {
            Assert.True(File.Exists(e) && !File.GetAttributes(e).HasFlag(FileAttributes.ReparsePoint), $"{e} is not a plain file");
            Assert.Matches(PlainName(), Path.GetFileName(e));
            Assert.InRange(new FileInfo(e).Length, 1, 16L * 1024 * 1024);
        }
    }

    [Fact]
    public void ABudgetTooSmallForAStage_SkipsItWithANote_AndRunsTheRest()
    {
        var (code, summary) = Run(("DEVICE_CHECK_NEED_tests", "100000"), ("DEVICE_CHECK_STAGES", "env conformance tests acceptance"));
        Assert.Equal(1, code);
        Assert.Equal("SKIPPED", Verdict(summary, "tests"));
        Assert.Matches(@"tests +SKIPPED +- +needs about 100000 s, \d+ s of the 480 s budget left", summary);
        Assert.Equal("ok", Verdict(summary, "conformance"));
        Assert.Equal("NO-GPU", Verdict(summary, "acceptance"));   // later stages that fit still ran
    }

    [Fact]
    public void AZeroBudget_SkipsEveryStage_AndStillWritesTheSummary()
    {
        var (code, summary) = Run(("DEVICE_CHECK_BUDGET_S", "0"));
        Assert.Equal(1, code);
        foreach (string s in Stages) Assert.Equal("SKIPPED", Verdict(summary, s));
        Assert.True(File.Exists(Path.Combine(Out, "results.tar.xz")));
    }

    [Fact]
    public void AStageOverItsCap_IsCutOff_AndTheLaterStagesStillRun()
    {
        var (code, summary) = Run(("STUB_HANG", "ConformanceTests"), ("DEVICE_CHECK_CAP_conformance", "2"),
            ("DEVICE_CHECK_STAGES", "env conformance tests"));
        Assert.Equal(1, code);
        Assert.Equal("TIMEOUT", Verdict(summary, "conformance"));
        Assert.Equal("NO-GPU", Verdict(summary, "tests"));
        Assert.DoesNotContain("bench-", summary.Split("\ntests:")[0], StringComparison.Ordinal);   // only the stages asked for
    }

    [Fact]
    public void AnUnknownStageOrBudget_IsAUsageError_NamingIt()
    {
        var (code, stderr) = RunExpectingUsageError(("DEVICE_CHECK_STAGES", "env gpu-party"));
        Assert.Equal(2, code);
        Assert.Contains("unknown stage 'gpu-party'", stderr, StringComparison.Ordinal);
        (code, stderr) = RunExpectingUsageError(("DEVICE_CHECK_BUDGET_S", "8m"));
        Assert.Equal(2, code);
        Assert.Contains("DEVICE_CHECK_BUDGET_S='8m' is not a whole number of seconds", stderr, StringComparison.Ordinal);
    }

    private (int Code, string Stderr) RunExpectingUsageError(params (string Name, string Value)[] env)
    {
        if (OperatingSystem.IsWindows()) Assert.Skip("device-check.sh is a bash script for the Linux GPU machine");
        var psi = new ProcessStartInfo("bash", [Path.Combine(Bundle, "device-check.sh"), Out]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var (name, value) in env) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stderr);
    }
}

using DeepTrain.Tests.Checkpoints;
using Xunit;

namespace DeepTrain.Tests.Fuzz;

/// <summary>
/// Thousands of seeded mutations per file format, each read by the real reader: only the format's own
/// exception (naming the mutated file) or a successful read may come out, with allocations bounded by the
/// file's size. CI runs <see cref="DefaultIterations"/> per format (a few seconds);
/// <c>benchmarks/fuzz_readers.sh</c> sets <c>DEEPTRAIN_FUZZ_ITERATIONS</c> (and <c>DEEPTRAIN_FUZZ_SEED</c>) for longer runs.
/// Every test writes its counts to the test output, and to standard output when the variable is set.
/// </summary>
public sealed class ReaderFuzzTests : IDisposable
{
    /// <summary>Mutations per format in CI.</summary>
    public const int DefaultIterations = 2000;

    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static int Iterations => int.TryParse(Environment.GetEnvironmentVariable("DEEPTRAIN_FUZZ_ITERATIONS"), out int n) && n > 0 ? n : DefaultIterations;
    private static int Seed => int.TryParse(Environment.GetEnvironmentVariable("DEEPTRAIN_FUZZ_SEED"), out int s) ? s : 13;

    private ReaderFuzzer Fuzzer => new(_dir.Path, Seed);

    [Fact] public void Safetensors_OnlyCleanErrors() => Check(Fuzzer.Safetensors(Iterations));
    [Fact] public void IdxRaw_OnlyCleanErrors() => Check(Fuzzer.Idx(Iterations, gzip: false));
    [Fact] public void IdxGzip_OnlyCleanErrors() => Check(Fuzzer.Idx(Iterations, gzip: true));
    [Fact] public void Cifar10_OnlyCleanErrors() => Check(Fuzzer.Cifar(Iterations));

    private static void Check(ReaderFuzzer.Counts c)
    {
        string report = c.ToString();
        TestContext.Current.SendDiagnosticMessage(report);
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        if (Environment.GetEnvironmentVariable("DEEPTRAIN_FUZZ_ITERATIONS") is not null) Console.WriteLine($"fuzz {report} (seed {Seed})");
        Assert.True(c.Other == 0 && c.OverAllocated == 0 && c.Slow == 0,
            $"{report}\n{string.Join("\n", c.Findings)}");
        // Guards the fuzzer itself: mutations that never broke a file would prove nothing. (A CIFAR-10 file has
        // no header, so a pixel mutation leaves it valid: a quarter, not a half.)
        Assert.True(c.CleanErrors > c.Tried / 4, $"at least a quarter of the mutations should break the file: {report}");
    }
}

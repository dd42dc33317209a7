using BenchmarkDotNet.Running;

namespace DeepTrain.Benchmarks;

/// <summary>Entry point: BenchmarkDotNet micro-benchmarks, or an end-to-end run by name.</summary>
public static class Program
{
    /// <summary>Runs the benchmark selected on the command line.</summary>
    public static int Main(string[] args)
    {
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}

using BenchmarkDotNet.Running;

namespace DeepTrain.Benchmarks;

/// <summary>Entry point: BenchmarkDotNet micro-benchmarks, or <c>roofline …</c> (<see cref="Roofline.RooflineCommand"/>).</summary>
public static class Program
{
    /// <summary>Runs the benchmark selected on the command line.</summary>
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "roofline") return Roofline.RooflineCommand.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}

using System.CommandLine;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;

namespace DeepTrain.Cli.Commands;

/// <summary><c>deeptrain info</c>: runtime, CPU features and the backends available.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "Show the runtime, CPU features and available backends");
        cmd.SetAction(_ => CliErrors.Run(Run));
        return cmd;
    }

    private static int Run()
    {
        Console.WriteLine($"DeepTrain {typeof(IBackend).Assembly.GetName().Version}");
        Console.WriteLine($"runtime:   {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription} ({RuntimeInformation.ProcessArchitecture})");
        var features = new List<string>();
        if (Avx2.IsSupported) features.Add("AVX2");
        if (Fma.IsSupported) features.Add("FMA");
        if (Avx512F.IsSupported) features.Add("AVX-512F");
        if (Vector512.IsHardwareAccelerated) features.Add("Vector512");
        if (AdvSimd.IsSupported) features.Add("AdvSIMD");
        Console.WriteLine($"cpu:       {Environment.ProcessorCount} logical processors; {string.Join(", ", features)}");
        Console.WriteLine("backends:");
        using (var cpu = new CpuBackend()) Console.WriteLine($"  cpu      available: {cpu.Description}");
        var (cuda, reason) = BackendFactory.TryCreate(Tensors.Device.Cuda(0));
        if (cuda is null) Console.WriteLine($"  cuda     unavailable: {reason}");
        else { Console.WriteLine($"  cuda     available: {cuda.Description}"); cuda.Dispose(); }
        return 0;
    }
}

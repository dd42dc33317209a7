using System.CommandLine;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using DeepTrain.Backends;
using DeepTrain.Backends.Cpu;
using DeepTrain.Interop;
using System.Globalization;

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
        var probe = CudaAvailability.Probe();
        var v = probe.Versions;
        Console.WriteLine($"  cuda     probe: {probe.Reason}");
        Console.WriteLine($"           runtime {Version(v.Runtime)} ({v.CudartFile ?? "not loaded"}), driver supports {Version(v.Driver)}, " +
            $"{v.DeviceCount} device(s){(v.ComputeCapability is int cc ? $", device 0 sm_{cc}" : "")}");
        Console.WriteLine($"           cuBLAS {v.CublasFile ?? "not loaded"}; cuDNN {(v.Cudnn is long dnn ? dnn.ToString(CultureInfo.InvariantCulture) : "not loaded")} ({v.CudnnFile ?? "-"})");
        // The set the resolver chose (one CUDA major: CudaLibrarySelection) and each file's major; NVRTC is loaded before
        // cuDNN, but a probe that stopped at the runtime did not get there, so ask for it here.
        NativeLibraryResolver.TryLoad(Libraries.Nvrtc, out _);
        var plan = NativeLibraryResolver.Plan;
        Console.WriteLine($"           set: {plan.Rule}");
        var loadedSet = NativeLibraryResolver.LoadedSet;
        foreach (string lib in CudaLibrarySelection.PlannedLibraries)
        {
            var file = loadedSet.FirstOrDefault(f => f.Library == lib);
            string text = lib == Libraries.Nvrtc ? NativeLibraryResolver.NvrtcState
                : file.Library is null ? "not loaded" : $"{file.Path} ({file.MajorText})";
            Console.WriteLine($"             {lib,-7} {text}");
        }
        foreach (string note in plan.Notes) Console.WriteLine($"             note: {note}");
        if (plan.Error is not null && !probe.Reason.Contains(plan.Error, StringComparison.Ordinal)) Console.WriteLine($"             {plan.Error.ReplaceLineEndings("\n             ")}");
        string? glibc = Glibc.HostVersion();
        string? glibcProblem = Glibc.FloorProblem(glibc);
        Console.WriteLine(glibcProblem is null
            ? $"           glibc {glibc ?? "unknown (not glibc)"} (the kernel library needs {Glibc.KernelLibraryFloor} or newer)"
            : $"           glibc: {glibcProblem}");
        bool kernels = NativeLibraryResolver.TryLoad(Libraries.Kernels, out string kernelsWhy);
        Console.WriteLine(kernels
            ? $"           kernels {NativeLibraryResolver.LoadedFrom(Libraries.Kernels)} (bindings expect ABI {Kernels.AbiVersion})"
            // An old glibc is the whole story: say that rather than the loader's "GLIBC_2.34 not found" lines.
            : glibcProblem is not null ? "           kernels not loaded: the host's glibc is too old (above)"
            : $"           kernels not loaded: {kernelsWhy}");
        int shown = Math.Max(v.DeviceCount, 1);
        for (int i = 0; i < shown; i++)
        {
            var (cuda, reason) = BackendFactory.TryCreate(Tensors.Device.Cuda(i));
            if (cuda is null) Console.WriteLine($"  cuda:{i}   unavailable: {reason}");
            else { Console.WriteLine($"  cuda:{i}   available: {cuda.Description}"); cuda.Dispose(); }
        }
        return 0;
    }

    private static string Version(int? v) => v is int x ? $"{x / 1000}.{x % 1000 / 10}" : "unknown";
}

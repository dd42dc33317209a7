using DeepTrain.Backends.Cpu;
using DeepTrain.Backends.Cuda;
using DeepTrain.Interop;
using DeepTrain.Tensors;

namespace DeepTrain.Backends;

/// <summary>Creates the backend for a device, or says why it cannot.</summary>
public static class BackendFactory
{
    /// <summary>
    /// Creates a backend for <paramref name="device"/>. Never throws for a missing GPU stack:
    /// returns (null, reason) instead, so callers can fall back to the CPU or skip.
    /// </summary>
    public static (IBackend? Backend, string Reason) TryCreate(Device device) => TryCreate(device, null);

    /// <summary>
    /// Creates a backend for <paramref name="device"/>; <paramref name="cudaOptions"/> configures a CUDA backend (its
    /// <see cref="CudaBackendOptions.DeviceIndex"/> is replaced by the device's index). For <c>cuda:N</c> the checks run in
    /// order and the first that fails is the reason: the CUDA probe (runtime, driver, a device, cuBLAS, cuDNN —
    /// <see cref="CudaAvailability.Probe"/>), that device N exists, that DeepTrain's kernel library loads and reports the
    /// ABI version these bindings were written for, and finally that the backend can create its stream and handles.
    /// </summary>
    public static (IBackend? Backend, string Reason) TryCreate(Device device, CudaBackendOptions? cudaOptions)
    {
        if (device.Kind == DeviceKind.Cpu) return (new CpuBackend(), "");
        string? why = CudaProblem(device.Index);
        if (why is not null) return (null, why);
        try
        {
            return (new CudaBackend((cudaOptions ?? new CudaBackendOptions()) with { DeviceIndex = device.Index }), "");
        }
        catch (Exception e) when (e is CudaException or CudnnException or CublasException or DllNotFoundException or EntryPointNotFoundException or ArgumentOutOfRangeException)
        {
            return (null, $"creating the CUDA backend on {device} failed: {e.Message}");
        }
    }

    /// <summary>Why <c>cuda:<paramref name="index"/></c> cannot be used, or null when it can.</summary>
    private static string? CudaProblem(int index)
    {
        var probe = CudaAvailability.Probe();
        if (!probe.IsAvailable) return probe.Reason;
        if (index >= probe.Versions.DeviceCount)
            return $"device cuda:{index} does not exist: {probe.Versions.DeviceCount} CUDA device(s) are visible";
        if (!NativeLibraryResolver.TryLoad(Libraries.Kernels, out string kernelsWhy))
            return "DeepTrain's kernel library (deeptrain_kernels) was not found: " + kernelsWhy + " (build it with native/ CMake, or use a release bundle)";
        int abi;
        try { abi = Kernels.dt_abi_version(); }
        catch (EntryPointNotFoundException) { return $"the kernel library at {NativeLibraryResolver.LoadedFrom(Libraries.Kernels)} has no dt_abi_version export; rebuild native/"; }
        if (abi != Kernels.AbiVersion)
            return $"the kernel library at {NativeLibraryResolver.LoadedFrom(Libraries.Kernels)} has ABI version {abi}, these bindings need {Kernels.AbiVersion}; rebuild native/";
        return null;
    }

    /// <summary>Creates a backend for <paramref name="device"/>.</summary>
    /// <exception cref="InvalidOperationException">The device is unavailable; the message says why.</exception>
    public static IBackend Create(Device device, CudaBackendOptions? cudaOptions = null)
    {
        var (b, reason) = TryCreate(device, cudaOptions);
        return b ?? throw new InvalidOperationException($"device {device} is not available: {reason}");
    }
}

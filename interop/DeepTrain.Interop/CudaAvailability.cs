using System.Globalization;

namespace DeepTrain.Interop;

/// <summary>What the probe found, whether or not CUDA is usable. Versions are CUDA's encodings:
/// runtime and driver 1000·major + 10·minor (11080 = 11.8), cuDNN as <c>cudnnGetVersion</c> returns it.</summary>
/// <param name="Runtime">The CUDA runtime's version, or null when unknown.</param>
/// <param name="Driver">The CUDA version the driver supports; 0 when no driver library is installed; null when unknown.</param>
/// <param name="DeviceCount">Visible devices (0 when the count failed).</param>
/// <param name="ComputeCapability">Device 0's compute capability as 10·major + minor (90 = sm_90), or null.</param>
/// <param name="CudartFile">The runtime library that loaded, or null.</param>
/// <param name="CublasFile">The cuBLAS library that loaded, or null.</param>
/// <param name="Cudnn">cuDNN's version, or null when it did not load.</param>
/// <param name="CudnnFile">The cuDNN library that loaded, or null.</param>
public sealed record CudaVersions(int? Runtime, int? Driver, int DeviceCount, int? ComputeCapability,
    string? CudartFile, string? CublasFile, long? Cudnn, string? CudnnFile)
{
    /// <summary>The CUDA runtime cuBLAS was built with (<c>cublasGetCudartVersion</c>), or null when unknown.</summary>
    public long? CublasCudart { get; init; }

    /// <summary>The CUDA runtime cuDNN was built with (<c>cudnnGetCudartVersion</c>), or null when unknown.</summary>
    public long? CudnnCudart { get; init; }
}

/// <summary>
/// Whether this process can use the GPU backend, and if not, why — in one sentence a user can act on. The probe
/// loads the libraries through <see cref="NativeLibraryResolver"/>, asks the runtime for devices, and never throws.
/// </summary>
/// <param name="IsAvailable">True when the runtime, a driver, a device, cuBLAS and cuDNN are all present.</param>
/// <param name="Reason">What was found, or the first thing missing (with the resolver's trace when a library did not load).</param>
/// <param name="Versions">Everything found along the way.</param>
public sealed record CudaAvailability(bool IsAvailable, string Reason, CudaVersions Versions)
{
    /// <summary>
    /// Where DeepTrain's CUDA kernel library (<c>libdeeptrain_kernels.so</c>) loads from in this process — beside the app in
    /// <c>runtimes/linux-x64/native/</c> when the package carried it — or null when it cannot be loaded (the CPU backend
    /// needs none). Loading it needs no GPU. Never throws.
    /// </summary>
    public static string? KernelLibraryLocation()
    {
        try { return NativeLibraryResolver.TryLoad(Libraries.Kernels, out string where) ? where : null; }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Probes the machine. Safe to call anywhere, any number of times; never throws.</summary>
    /// <returns>The result; <see cref="Reason"/> names the missing piece when <see cref="IsAvailable"/> is false.</returns>
    public static CudaAvailability Probe()
    {
        try { return ProbeCore(); }
        catch (Exception e)
        {
            return new(false, $"the CUDA probe failed: {e.GetType().Name}: {e.Message}", new(null, null, 0, null, null, null, null, null));
        }
    }

    private static CudaAvailability ProbeCore()
    {
        if (!NativeLibraryResolver.TryLoad(Libraries.Cudart, out string cudartWhy))
            return new(false, "the CUDA runtime (libcudart) was not found: " + cudartWhy, new(null, null, 0, null, null, null, null, null));
        string cudartFile = NativeLibraryResolver.LoadedFrom(Libraries.Cudart) ?? "libcudart";

        // CUDA 11.8's cudaRuntimeGetVersion fails with cudaErrorNoDevice when there is no device; the loaded
        // file's full version (libcudart.so.11.8.89) still tells which runtime this is.
        int? runtime = Cudart.cudaRuntimeGetVersion(out int rt) == cudaError_t.cudaSuccess && rt > 0 ? rt : VersionOfLoadedFile("libcudart.so.");
        int? driver = Cudart.cudaDriverGetVersion(out int drv) == cudaError_t.cudaSuccess ? drv : null;
        cudaError_t countStatus = Cudart.cudaGetDeviceCount(out int count);
        if (countStatus != cudaError_t.cudaSuccess) count = 0;
        int? cc = null;
        if (count > 0
            && Cudart.cudaDeviceGetAttribute(out int major, cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor, 0) == cudaError_t.cudaSuccess
            && Cudart.cudaDeviceGetAttribute(out int minor, cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor, 0) == cudaError_t.cudaSuccess)
            cc = 10 * major + minor;

        bool haveCublas = NativeLibraryResolver.TryLoad(Libraries.Cublas, out string cublasWhy);
        bool haveCudnn = NativeLibraryResolver.TryLoad(Libraries.Cudnn, out string cudnnWhy);
        long? cudnnVersion = null, cudnnCudart = null, cublasCudart = null;
        if (haveCudnn)
        {
            try { cudnnVersion = (long)Cudnn.cudnnGetVersion(); }
            catch (EntryPointNotFoundException) { }
            try { cudnnCudart = (long)Cudnn.cudnnGetCudartVersion(); }
            catch (EntryPointNotFoundException) { }
        }
        if (haveCublas)
        {
            try { cublasCudart = (long)Cublas.cublasGetCudartVersion(); }
            catch (EntryPointNotFoundException) { }
        }
        var versions = new CudaVersions(runtime, driver, count, cc, cudartFile,
            haveCublas ? NativeLibraryResolver.LoadedFrom(Libraries.Cublas) : null, cudnnVersion,
            haveCudnn ? NativeLibraryResolver.LoadedFrom(Libraries.Cudnn) : null)
        { CublasCudart = cublasCudart, CudnnCudart = cudnnCudart };

        string loaded = $"{Path.GetFileName(cudartFile)} loaded (runtime {(runtime is int r ? r.ToString(CultureInfo.InvariantCulture) : "version unknown")})";
        if (countStatus != cudaError_t.cudaSuccess)
            return new(false, loaded + ", but " + DeviceProblem(countStatus, driver, runtime), versions);
        if (count == 0)
            return new(false, loaded + ", but cudaGetDeviceCount found no CUDA device" + VisibleDevicesNote(), versions);
        if (!haveCublas)
            return new(false, $"{loaded} with {count} device(s), but cuBLAS was not found: {cublasWhy}", versions);
        if (!haveCudnn)
            return new(false, $"{loaded} with {count} device(s), but cuDNN was not found: {cudnnWhy}", versions);
        string ccText = cc is int c ? $"sm_{c}" : "compute capability unknown";
        return new(true, $"{loaded}, driver supports CUDA {driver}, {count} device(s), device 0 {ccText}; " +
            $"cuBLAS {Path.GetFileName(versions.CublasFile)}; cuDNN {cudnnVersion} ({Path.GetFileName(versions.CudnnFile)}); " +
            (NativeLibraryResolver.LoadedFrom(Libraries.Nvrtc) is string nvrtc ? $"NVRTC {Path.GetFileName(nvrtc)}"
                : "NVRTC not found (cuDNN engines compiled at run time will fail; the others run)")
            + (MajorMismatch(versions) is string mismatch ? "; " + mismatch : ""), versions);
    }

    /// <summary>
    /// A warning when the loaded CUDA runtime, cuBLAS and cuDNN belong to different CUDA major versions, or null when they
    /// agree or a version is unknown. The resolver chooses one major's set before loading (<see cref="CudaLibrarySelection"/>),
    /// but a cuDNN whose build major no dist-info told, or a mix the user allowed, can still disagree: this check, on what the
    /// loaded libraries report, is the final word (cuDNN built for CUDA 12 beside a cuBLAS 13 loads its own cuBLAS 12).
    /// </summary>
    /// <param name="v">The probe's findings.</param>
    /// <returns>One sentence naming each library's CUDA major, or null.</returns>
    public static string? MajorMismatch(CudaVersions v)
    {
        var majors = new List<(string What, long Major)>();
        if (v.Runtime is int rt && rt > 0) majors.Add(($"the runtime {Path.GetFileName(v.CudartFile)}", rt / 1000));
        if (v.CublasCudart is long cb && cb > 0) majors.Add(($"cuBLAS {Path.GetFileName(v.CublasFile)}", cb / 1000));
        if (v.CudnnCudart is long cd && cd > 0) majors.Add(($"cuDNN {Path.GetFileName(v.CudnnFile)}", cd / 1000));
        if (majors.Select(m => m.Major).Distinct().Count() <= 1) return null;
        return "warning: the CUDA libraries come from different CUDA major versions (" +
            string.Join(", ", majors.Select(m => $"{m.What}: CUDA {m.Major}")) +
            $"); install matching ones, or list one CUDA version's library folders in {NativeLibraryResolver.LibDirVariable}";
    }

    private static string DeviceProblem(cudaError_t status, int? driver, int? runtime)
    {
        string call = $"cudaGetDeviceCount returned {Cudart.ErrorName(status)} ({(int)status})";
        if (driver == 0)
            return $"no NVIDIA driver: {call}; the driver library libcuda.so.1 is not installed";
        if (status == cudaError_t.cudaErrorInsufficientDriver)
            return $"the NVIDIA driver is too old: {call}; it supports CUDA {driver}, the runtime is {runtime}";
        if (OperatingSystem.IsLinux() && !File.Exists("/dev/nvidiactl"))
            return $"no NVIDIA driver: {call}; libcuda.so.1 (CUDA {driver}) is installed but the kernel driver is not loaded (/dev/nvidiactl is missing)";
        return $"no usable CUDA device: {call}: {Cudart.ErrorString(status)}{VisibleDevicesNote()}";
    }

    private static string VisibleDevicesNote() =>
        Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is string v ? $" (CUDA_VISIBLE_DEVICES={v})" : "";

    /// <summary>1000·major + 10·minor from the real file name of a loaded library (libcudart.so.11.8.89 → 11080),
    /// read from /proc/self/maps; null elsewhere or when absent.</summary>
    private static int? VersionOfLoadedFile(string prefix)
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int at = line.LastIndexOf('/');
                if (at < 0) continue;
                string file = line[(at + 1)..];
                if (!file.StartsWith(prefix, StringComparison.Ordinal)) continue;
                string[] parts = file[prefix.Length..].Split('.');
                if (parts.Length >= 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int maj) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int min))
                    return 1000 * maj + 10 * min;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }
}

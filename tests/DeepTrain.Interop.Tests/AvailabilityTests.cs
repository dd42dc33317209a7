namespace DeepTrain.Interop.Tests;

/// <summary>The absence path: no GPU, no driver or no cuDNN must give a clear reason, never an exception.</summary>
public sealed class AvailabilityTests(ITestOutputHelper output)
{
    [Fact]
    public void ProbeNeverThrowsAndAlwaysGivesAReason()
    {
        var first = CudaAvailability.Probe();
        output.WriteLine($"available={first.IsAvailable}: {first.Reason}\n{first.Versions}\n{NativeLibraryResolver.TraceText}");
        var second = CudaAvailability.Probe();
        Assert.False(string.IsNullOrWhiteSpace(first.Reason));
        Assert.Equal(first.IsAvailable, second.IsAvailable);
    }

    [Fact]
    public void MajorMismatch_NamesEachLibrarysCudaMajor_OnlyWhenTheyDiffer()
    {
        var v = new CudaVersions(12040, 12060, 1, 90, "/usr/local/cuda/lib64/libcudart.so.12", "/usr/local/cuda/lib64/libcublas.so.13", 90600,
            "/site-packages/nvidia/cudnn/lib/libcudnn.so.9") { CublasCudart = 13000, CudnnCudart = 12060 };
        string? warning = CudaAvailability.MajorMismatch(v);
        Assert.NotNull(warning);
        Assert.Contains("the runtime libcudart.so.12: CUDA 12", warning);
        Assert.Contains("cuBLAS libcublas.so.13: CUDA 13", warning);
        Assert.Contains("cuDNN libcudnn.so.9: CUDA 12", warning);
        Assert.Contains(NativeLibraryResolver.LibDirVariable, warning);

        Assert.Null(CudaAvailability.MajorMismatch(v with { CublasCudart = 12040 }));   // minors may differ
        Assert.Null(CudaAvailability.MajorMismatch(v with { Runtime = 13000, CublasCudart = 13020, CudnnCudart = null }));   // cuDNN's unknown
    }

    [Fact]
    public void WithoutAKernelDriverTheReasonNamesTheDriver()
    {
        if (!OperatingSystem.IsLinux() || File.Exists("/dev/nvidiactl")) Assert.Skip("an NVIDIA kernel driver is loaded on this machine");
        var probe = CudaAvailability.Probe();
        Assert.False(probe.IsAvailable);
        if (probe.Versions.CudartFile is null)
        {
            // No runtime at all (CI without the toolkit): the reason must say so, with what was tried.
            Assert.Contains("CUDA runtime (libcudart) was not found", probe.Reason);
            Assert.Contains("libcudart.so.", probe.Reason);
            return;
        }
        // e.g. "libcudart.so.11.0 loaded (runtime 11080), but no NVIDIA driver: cudaGetDeviceCount returned
        //       cudaErrorNoDevice (100); libcuda.so.1 (CUDA 12020) is installed but the kernel driver is not loaded ..."
        Assert.Contains("libcudart.so.", probe.Reason);
        Assert.Contains("no NVIDIA driver", probe.Reason);
        Assert.Contains("cudaGetDeviceCount returned cudaError", probe.Reason);
        Assert.Equal(0, probe.Versions.DeviceCount);
        Assert.NotNull(probe.Versions.Runtime);
        Assert.True(probe.Versions.Runtime >= 11000, $"runtime {probe.Versions.Runtime}");
    }

    [Fact]
    public void AMissingLibraryGivesTheTraceOfEveryAttempt()
    {
        if (NativeLibraryResolver.TryLoad(Libraries.Cudnn, out string loadedFrom)) Assert.Skip($"cuDNN loads here ({loadedFrom})");
        Assert.False(NativeLibraryResolver.TryLoad(Libraries.Cudnn, out string reason));
        Assert.Contains("libcudnn.so.9", reason);
        Assert.Contains("libcudnn.so.8", reason);
        Assert.Contains("Tried:", reason);
        Assert.Contains(NativeLibraryResolver.LibDirVariable, reason);
        Assert.Contains(NativeLibraryResolver.Trace, a => a.Library == Libraries.Cudnn && !a.Loaded);
        var e = Assert.Throws<DllNotFoundException>(() => NativeLibraryResolver.Load(Libraries.Cudnn));
        Assert.Contains("Tried:", e.Message);
    }

    [Fact]
    public void UnknownLibraryNamesAreRefusedWithoutThrowing()
    {
        Assert.False(NativeLibraryResolver.TryLoad("not-a-cuda-library", out string reason));
        Assert.Contains("not a library this resolver knows", reason);
    }

    [Fact]
    public void TheLibDirVariableIsSearchedFirst()
    {
        // The variable is read when a library is first resolved; here we only check that the trace records the
        // folder order for a library that did not load, or that a loaded library says where it came from.
        if (NativeLibraryResolver.TryLoad(Libraries.Cudart, out string where))
            Assert.Contains("libcudart", where);
        else
            Assert.Contains("libcudart.so.13", where);
    }

    [Fact]
    public void NullHandlesAreInvalidAndOwnNothing()
    {
        Assert.True(CudaStream.Null.IsInvalid);
        Assert.True(CudnnTensorDescriptor.Null.IsInvalid);
        Assert.True(CudnnActivationDescriptor.Null.IsInvalid);
        using var fresh = new CudaEvent();
        Assert.True(fresh.IsInvalid);   // disposing an invalid handle never reaches the native destroy
    }
}

using static DeepTrain.Interop.Checks;

namespace DeepTrain.Interop.Tests;

/// <summary>NCCL where it is absent (this build machine) and where it runs (a GPU machine with NCCL's pip wheel).</summary>
public sealed unsafe class NcclTests
{
    [Fact]
    public void AbsenceIsReportedWithWhereItLookedAndWhatToInstall()
    {
        if (NativeLibraryResolver.TryLoad(Libraries.Nccl, out string loadedFrom)) Assert.Skip($"NCCL loads here ({loadedFrom})");
        var e = Assert.Throws<DllNotFoundException>(() => Nccl.Version());
        Assert.Contains("libnccl.so.2", e.Message, StringComparison.Ordinal);
        Assert.Contains(NativeLibraryResolver.NcclDirVariable, e.Message, StringComparison.Ordinal);
        Assert.Contains("nvidia-nccl-cu12", e.Message, StringComparison.Ordinal);
        // Every folder searched is in the trace, the pip layout's among them when a site-packages folder exists.
        foreach (string? dir in NativeLibraryResolver.DistributedSearch(Libraries.Nccl).Folders.Where(d => d is not null))
            Assert.Contains(dir!, e.Message, StringComparison.Ordinal);
        // A status is still typed, with a fixed text in place of the library's.
        var x = Assert.Throws<NcclException>(() => Check(ncclResult_t.ncclInvalidArgument));
        Assert.Equal(ncclResult_t.ncclInvalidArgument, x.Status);
        Assert.Contains("could not be loaded", x.LibraryMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void PipLayoutFolderIsSearched()
    {
        string site = Directory.CreateTempSubdirectory("dt-site-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(site, "nvidia", "nccl", "lib"));
            string? before = Environment.GetEnvironmentVariable(NativeLibraryResolver.PythonSiteVariable);
            Environment.SetEnvironmentVariable(NativeLibraryResolver.PythonSiteVariable, site);
            try
            {
                Assert.Contains(Path.Combine(site, "nvidia", "nccl", "lib"), NativeLibraryResolver.DistributedSearch(Libraries.Nccl).Folders);
            }
            finally { Environment.SetEnvironmentVariable(NativeLibraryResolver.PythonSiteVariable, before); }
        }
        finally { Directory.Delete(site, recursive: true); }
    }

    [Fact]
    public void OneRankCommunicatorAllReducesOnTheGpu()
    {
        var cuda = CudaAvailability.Probe();
        if (!cuda.IsAvailable) Assert.Skip($"no usable GPU: {cuda.Reason}");
        if (!NativeLibraryResolver.TryLoad(Libraries.Nccl, out string why)) Assert.Skip($"NCCL is not installed here (pip install nvidia-nccl-cu12): {why}");
        Assert.True(Nccl.Version() >= 20000, $"NCCL version code {Nccl.Version()}");
        Check(Cudart.cudaSetDevice(0));
        Check(Nccl.ncclGetUniqueId(out ncclUniqueId id));
        Check(Nccl.ncclCommInitRank(out NcclCommHandle comm, 1, id, 0));
        using var owned = comm;
        const int n = 1000;
        var host = Enumerable.Range(0, n).Select(i => i + 0.5f).ToArray();
        void* dev;
        Check(Cudart.cudaMalloc(&dev, n * sizeof(float)));
        try
        {
            fixed (float* h = host) Check(Cudart.cudaMemcpy(dev, h, n * sizeof(float), cudaMemcpyKind.cudaMemcpyHostToDevice));
            Check(Nccl.ncclGroupStart());
            Check(Nccl.ncclAllReduce(dev, dev, n, ncclDataType_t.ncclFloat32, ncclRedOp_t.ncclSum, comm, CudaStream.Null));
            Check(Nccl.ncclBroadcast(dev, dev, n, ncclDataType_t.ncclFloat32, 0, comm, CudaStream.Null));
            Check(Nccl.ncclGroupEnd());
            Check(Cudart.cudaDeviceSynchronize());
            Check(Nccl.ncclCommGetAsyncError(comm, out ncclResult_t async));
            Assert.Equal(ncclResult_t.ncclSuccess, async);
            var back = new float[n];
            fixed (float* b = back) Check(Cudart.cudaMemcpy(b, dev, n * sizeof(float), cudaMemcpyKind.cudaMemcpyDeviceToHost));
            Assert.Equal(host, back);   // one rank: the sum is the input
        }
        finally { Check(Cudart.cudaFree(dev)); }
    }
}

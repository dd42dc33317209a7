namespace DeepTrain.Interop.Tests;

/// <summary>
/// The resolver's choice of one CUDA major's set (<see cref="CudaLibrarySelection"/>), on fake pip trees: empty files named
/// like the real wheels' in a temporary folder. Nothing is loaded; the plan alone is checked.
/// </summary>
public sealed class ResolverSelectionTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("dt-resolver-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    // ---- fake trees ---------------------------------------------------------------------------------

    private string Touch(string relative)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, []);
        return path;
    }

    /// <summary>PyTorch's CUDA 12 wheels: one folder per component, cuDNN 9 built for CUDA 12.</summary>
    private string PipCuda12(string site = "site12")
    {
        Touch($"{site}/nvidia/cuda_runtime/lib/libcudart.so.12");
        Touch($"{site}/nvidia/cublas/lib/libcublas.so.12");
        Touch($"{site}/nvidia/cublas/lib/libcublasLt.so.12");
        Touch($"{site}/nvidia/cuda_nvrtc/lib/libnvrtc.so.12");
        Touch($"{site}/nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.6");
        Touch($"{site}/nvidia/cudnn/lib/libcudnn.so.9");
        Touch($"{site}/nvidia/cudnn/lib/libcudnn_graph.so.9");
        Directory.CreateDirectory(Path.Combine(_root, site, "nvidia_cudnn_cu12-9.5.1.17.dist-info"));
        return Path.Combine(_root, site);
    }

    /// <summary>CUDA 13's wheel layout: the toolkit's libraries in nvidia/cu13/lib, cuDNN in nvidia/cudnn/lib.</summary>
    private string PipCuda13(string site = "site13", bool cudnnDistInfo = true)
    {
        Touch($"{site}/nvidia/cu13/lib/libcudart.so.13");
        Touch($"{site}/nvidia/cu13/lib/libcublas.so.13");
        Touch($"{site}/nvidia/cu13/lib/libcublasLt.so.13");
        Touch($"{site}/nvidia/cu13/lib/libnvrtc.so.13");
        Touch($"{site}/nvidia/cu13/lib/libnvrtc-builtins.so.13.0");
        Touch($"{site}/nvidia/cudnn/lib/libcudnn.so.9");
        if (cudnnDistInfo) Directory.CreateDirectory(Path.Combine(_root, site, "nvidia_cudnn_cu13-9.13.0.50.dist-info"));
        return Path.Combine(_root, site);
    }

    private static CudaLibraryPlan Plan(IEnumerable<string> forced, IEnumerable<string> sites, bool allowMixed = false, IEnumerable<string>? toolkits = null) =>
        CudaLibrarySelection.Select(CudaLibrarySelection.Scan(forced, toolkits ?? [], sites, windows: false), allowMixed, windows: false);

    /// <summary>The files of the plan's listed folders (system-loader attempts left out) for one library.</summary>
    private static string[] Listed(CudaLibraryPlan plan, string library) =>
        plan.Attempts[library].Where(a => a.Folder is not null).Select(a => a.Path).ToArray();

    private string At(string relative) => Path.Combine(_root, relative);

    // ---- the choice ---------------------------------------------------------------------------------

    [Fact]
    public void Cuda12PipTree_ChoosesItsOwnFourLibraries()
    {
        var plan = Plan([], [PipCuda12()]);
        Assert.Null(plan.Error);
        Assert.Equal(12, plan.CudaMajor);
        Assert.Equal([At("site12/nvidia/cuda_runtime/lib/libcudart.so.12")], Listed(plan, Libraries.Cudart));
        Assert.Equal([At("site12/nvidia/cublas/lib/libcublas.so.12")], Listed(plan, Libraries.Cublas));
        Assert.Equal("libcublasLt.so.12", plan.Attempts[Libraries.Cublas].First(a => a.Folder is not null).NeedFirst);
        Assert.Equal([At("site12/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")], Listed(plan, Libraries.Nvrtc));
        Assert.Equal(["libnvrtc-builtins.so.12.6"], plan.Attempts[Libraries.Nvrtc].First(a => a.Folder is not null).Companions);
        var cudnn = plan.Attempts[Libraries.Cudnn].Single(a => a.Folder is not null);
        Assert.Equal(At("site12/nvidia/cudnn/lib/libcudnn.so.9"), cudnn.Path);
        Assert.Equal(12, cudnn.CudaMajor);
        Assert.Contains("nvidia_cudnn_cu12-9.5.1.17.dist-info", cudnn.MajorSource);
    }

    [Fact]
    public void Cuda13WheelLayout_TakesEverythingFromCu13AndCuDnnFromItsWheel()
    {
        var plan = Plan([], [PipCuda13()]);
        Assert.Null(plan.Error);
        Assert.Equal(13, plan.CudaMajor);
        Assert.Equal([At("site13/nvidia/cu13/lib/libcudart.so.13")], Listed(plan, Libraries.Cudart));
        Assert.Equal([At("site13/nvidia/cu13/lib/libcublas.so.13")], Listed(plan, Libraries.Cublas));
        Assert.Equal([At("site13/nvidia/cu13/lib/libnvrtc.so.13")], Listed(plan, Libraries.Nvrtc));
        Assert.Equal(["libnvrtc-builtins.so.13.0"], plan.Attempts[Libraries.Nvrtc].First(a => a.Folder is not null).Companions);
        Assert.Equal([At("site13/nvidia/cudnn/lib/libcudnn.so.9")], Listed(plan, Libraries.Cudnn));
        Assert.Equal(13, plan.Attempts[Libraries.Cudnn].First(a => a.Folder is not null).CudaMajor);
    }

    [Theory]
    [InlineData(true, 13)]
    [InlineData(false, 12)]
    public void TwoSitesWithCompleteSets_TheFirstInSearchOrderIsTaken_WhollyFromOneMajor(bool cuda13First, int expected)
    {
        string s12 = PipCuda12(), s13 = PipCuda13();
        var plan = Plan([], cuda13First ? [s13, s12] : [s12, s13]);
        Assert.Null(plan.Error);
        Assert.Equal(expected, plan.CudaMajor);
        foreach (string lib in (string[])[Libraries.Cudart, Libraries.Cublas, Libraries.Nvrtc])
            Assert.All(plan.Attempts[lib], a => Assert.Equal(expected, a.CudaMajor));
        // Each site's cuDNN is built for its own major (its dist-info): the other one is not in the set.
        Assert.Equal([At($"site{expected}/nvidia/cudnn/lib/libcudnn.so.9")], Listed(plan, Libraries.Cudnn));
        // The system loader is asked for the chosen major's names only.
        Assert.All(plan.Attempts[Libraries.Cudart].Where(a => a.Folder is null), a => Assert.Equal($"libcudart.so.{expected}", a.File));
    }

    [Fact]
    public void BothMajorsInOneSite_WithACuDnnOfUnknownMajor_TheNewestIsTaken()
    {
        PipCuda12("one");
        PipCuda13("one", cudnnDistInfo: false);
        Directory.Delete(At("one/nvidia_cudnn_cu12-9.5.1.17.dist-info"));
        var plan = Plan([], [At("one")]);
        Assert.Null(plan.Error);
        Assert.Equal(13, plan.CudaMajor);
        Assert.Equal([At("one/nvidia/cu13/lib/libcudart.so.13")], Listed(plan, Libraries.Cudart));
        Assert.Equal([At("one/nvidia/cu13/lib/libnvrtc.so.13")], Listed(plan, Libraries.Nvrtc));
    }

    [Fact]
    public void BothMajorsPresent_ButOnlyCuda12HasCuDnn_TheCuda12SetIsTaken()
    {
        string s12 = PipCuda12();
        // CUDA 13's toolkit wheels without a cuDNN of their own (e.g. brought by another package).
        Touch("other/nvidia/cu13/lib/libcudart.so.13");
        Touch("other/nvidia/cu13/lib/libcublas.so.13");
        Touch("other/nvidia/cu13/lib/libcublasLt.so.13");
        var plan = Plan([], [At("other"), s12]);
        Assert.Null(plan.Error);
        Assert.Equal(12, plan.CudaMajor);
        Assert.Equal([At("site12/nvidia/cuda_runtime/lib/libcudart.so.12")], Listed(plan, Libraries.Cudart));
        Assert.Equal([At("site12/nvidia/cublas/lib/libcublas.so.12")], Listed(plan, Libraries.Cublas));
    }

    [Fact]
    public void ACuda13CuDnnBesideCuda12Runtime_IsAnErrorNamingEachFileAndMajor()
    {
        Touch("mixed/nvidia/cuda_runtime/lib/libcudart.so.12");
        Touch("mixed/nvidia/cublas/lib/libcublas.so.12");
        Touch("mixed/nvidia/cublas/lib/libcublasLt.so.12");
        Touch("mixed/nvidia/cuda_nvrtc/lib/libnvrtc.so.12");
        Touch("mixed/nvidia/cudnn/lib/libcudnn.so.9");
        Directory.CreateDirectory(At("mixed/nvidia_cudnn_cu13-9.13.0.50.dist-info"));
        var plan = Plan([], [At("mixed")]);
        Assert.NotNull(plan.Error);
        string e = plan.Error;
        Assert.Contains($"{At("mixed/nvidia/cuda_runtime/lib/libcudart.so.12")} (CUDA 12", e);
        Assert.Contains($"{At("mixed/nvidia/cublas/lib/libcublas.so.12")} (CUDA 12", e);
        Assert.Contains($"{At("mixed/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")} (CUDA 12", e);
        Assert.Contains($"{At("mixed/nvidia/cudnn/lib/libcudnn.so.9")} (CUDA 13", e);
        Assert.Contains("nvidia_cudnn_cu13-9.13.0.50.dist-info", e);
        Assert.Contains(CudaLibrarySelection.AllowMixedVariable + "=1", e);
        Assert.Contains(NativeLibraryResolver.LibDirVariable, e);
    }

    [Fact]
    public void AMixedSet_IsLoadedWhenTheUserForcesIt()
    {
        Touch("mixed/nvidia/cuda_runtime/lib/libcudart.so.12");
        Touch("mixed/nvidia/cublas/lib/libcublas.so.12");
        Touch("mixed/nvidia/cublas/lib/libcublasLt.so.12");
        Touch("mixed/nvidia/cudnn/lib/libcudnn.so.9");
        Directory.CreateDirectory(At("mixed/nvidia_cudnn_cu13-9.13.0.50.dist-info"));
        var plan = Plan([], [At("mixed")], allowMixed: true);
        Assert.Null(plan.Error);
        Assert.Equal(12, plan.CudaMajor);
        Assert.Equal([At("mixed/nvidia/cudnn/lib/libcudnn.so.9")], Listed(plan, Libraries.Cudnn));
        Assert.Contains(plan.Notes, n => n.Contains(CudaLibrarySelection.AllowMixedVariable) && n.Contains("CUDA 13"));
    }

    [Fact]
    public void ACuDnnWithoutDistInfo_IsAcceptedForAnyMajor_AndSaysItsMajorIsUnknown()
    {
        var plan = Plan([], [PipCuda13(cudnnDistInfo: false)]);
        Assert.Null(plan.Error);
        var cudnn = plan.Attempts[Libraries.Cudnn].Single(a => a.Folder is not null);
        Assert.Null(cudnn.CudaMajor);
        Assert.Contains("cudnnGetCudartVersion", cudnn.MajorSource);
    }

    [Fact]
    public void AForcedFolderComesFirst_AndPinsTheMajor()
    {
        // Both wheel sets are installed; CUDA 13 would win on its own, but the user's folder holds CUDA 12.
        PipCuda13();
        PipCuda12();
        string forced = Path.GetDirectoryName(Touch("forced/libcudart.so.12"))!;
        Touch("forced/libcublas.so.12");
        Touch("forced/libcublasLt.so.12");
        var plan = Plan([forced], [At("site13"), At("site12")]);
        Assert.Null(plan.Error);
        Assert.Equal(12, plan.CudaMajor);
        Assert.Equal(At("forced/libcudart.so.12"), plan.Attempts[Libraries.Cudart][0].Path);
        Assert.Equal(At("forced/libcublas.so.12"), plan.Attempts[Libraries.Cublas][0].Path);
        // What the forced folder lacks comes from elsewhere, in its major.
        Assert.Equal([At("site12/nvidia/cudnn/lib/libcudnn.so.9")], Listed(plan, Libraries.Cudnn));
        Assert.Equal([At("site12/nvidia/cuda_nvrtc/lib/libnvrtc.so.12")], Listed(plan, Libraries.Nvrtc));
        Assert.Contains(NativeLibraryResolver.LibDirVariable, plan.Rule);
    }

    [Fact]
    public void AForcedFolderIsNotExemptFromOneMajor()
    {
        // The user's folder holds a CUDA 13 runtime; the only cuDNN anywhere is built for CUDA 12.
        Touch("forced/libcudart.so.13");
        Touch("forced/libcublas.so.13");
        Touch("forced/libcublasLt.so.13");
        Touch("s/nvidia/cudnn/lib/libcudnn.so.9");
        Directory.CreateDirectory(At("s/nvidia_cudnn_cu12-9.5.1.17.dist-info"));
        var plan = Plan([At("forced")], [At("s")]);
        Assert.Equal(13, plan.CudaMajor);
        Assert.NotNull(plan.Error);
        Assert.Contains($"{At("forced/libcudart.so.13")} (CUDA 13", plan.Error);
        Assert.Contains($"{At("s/nvidia/cudnn/lib/libcudnn.so.9")} (CUDA 12", plan.Error);
    }

    [Fact]
    public void NothingListed_FallsBackToTheSystemLoaderNewestFirst()
    {
        var plan = Plan([], []);
        Assert.Null(plan.Error);
        Assert.Null(plan.CudaMajor);
        Assert.Equal(["libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"], plan.Attempts[Libraries.Cudart].Select(a => a.File));
        Assert.Equal(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"], plan.Attempts[Libraries.Nvrtc].Select(a => a.File));
        Assert.Equal(["libcudnn.so.9", "libcudnn.so.8"], plan.Attempts[Libraries.Cudnn].Select(a => a.File));
    }

    [Fact]
    public void AToolkitFolderIsListedLikeAWheel()
    {
        Touch("cuda/lib64/libcudart.so.12");
        Touch("cuda/lib64/libcublas.so.12");
        Touch("cuda/lib64/libcublasLt.so.12");
        Touch("cuda/lib64/libnvrtc.so.12");
        Touch("cuda/lib64/libnvrtc-builtins.so.12.6");
        Touch("s/nvidia/cudnn/lib/libcudnn.so.9");
        Directory.CreateDirectory(At("s/nvidia_cudnn_cu12-9.5.1.17.dist-info"));
        var plan = Plan([], [At("s")], toolkits: [At("cuda/lib64")]);
        Assert.Null(plan.Error);
        Assert.Equal(12, plan.CudaMajor);
        Assert.Equal([At("cuda/lib64/libnvrtc.so.12")], Listed(plan, Libraries.Nvrtc));
        Assert.Equal([At("s/nvidia/cudnn/lib/libcudnn.so.9")], Listed(plan, Libraries.Cudnn));
    }

    // ---- NVRTC --------------------------------------------------------------------------------------

    [Fact]
    public void Nvrtc_IsFoundInTheCuda12Wheel_WithItsBuiltins()
    {
        var plan = Plan([], [PipCuda12()]);
        var n = plan.Attempts[Libraries.Nvrtc].First(a => a.Folder is not null);
        Assert.Equal(At("site12/nvidia/cuda_nvrtc/lib"), n.Folder);
        Assert.Equal(12, n.CudaMajor);
        Assert.Equal(["libnvrtc-builtins.so.12.6"], n.Companions);
    }

    [Fact]
    public void Nvrtc_IsFoundInTheCu13Layout()
    {
        var plan = Plan([], [PipCuda13()]);
        var n = plan.Attempts[Libraries.Nvrtc].First(a => a.Folder is not null);
        Assert.Equal(At("site13/nvidia/cu13/lib"), n.Folder);
        Assert.Equal(["libnvrtc-builtins.so.13.0"], n.Companions);
    }

    [Fact]
    public void Nvrtc_IsFoundInAForcedFolder()
    {
        Touch("forced/libnvrtc.so.12");
        Touch("forced/libnvrtc-builtins.so.12.4");
        var plan = Plan([At("forced")], [PipCuda12()]);
        Assert.Equal(At("forced/libnvrtc.so.12"), plan.Attempts[Libraries.Nvrtc][0].Path);
        Assert.Equal(["libnvrtc-builtins.so.12.4"], plan.Attempts[Libraries.Nvrtc][0].Companions);
    }

    [Fact]
    public void Nvrtc_OfAnotherMajor_IsNotLoaded_AndItsAbsenceIsANoteNotAnError()
    {
        Touch("s/nvidia/cuda_runtime/lib/libcudart.so.12");
        Touch("s/nvidia/cublas/lib/libcublas.so.12");
        Touch("s/nvidia/cublas/lib/libcublasLt.so.12");
        Touch("s/nvidia/cudnn/lib/libcudnn.so.9");
        Touch("s/nvidia/cu13/lib/libnvrtc.so.13");
        Directory.CreateDirectory(At("s/nvidia_cudnn_cu12-9.5.1.17.dist-info"));
        var plan = Plan([], [At("s")]);
        Assert.Null(plan.Error);
        Assert.Equal(12, plan.CudaMajor);
        Assert.Empty(Listed(plan, Libraries.Nvrtc));
        Assert.Contains(plan.Notes, n => n.Contains("NVRTC") && n.Contains(At("s/nvidia/cu13/lib/libnvrtc.so.13")));
    }

    [Fact]
    public void CuDnnMajor_ComesFromTheDistInfoBesideTheNvidiaFolder()
    {
        Assert.Equal(12, CudaLibrarySelection.CudnnCudaMajorOf(["nvidia_cudnn_cu12-9.5.1.17.dist-info", "torch-2.5.1.dist-info"], out string s12));
        Assert.Contains("nvidia_cudnn_cu12-9.5.1.17.dist-info", s12);
        Assert.Equal(13, CudaLibrarySelection.CudnnCudaMajorOf(["nvidia_cudnn_cu13-9.13.0.50.dist-info"], out _));
        Assert.Null(CudaLibrarySelection.CudnnCudaMajorOf(["numpy-2.0.dist-info"], out _));
        // Two cuDNN wheels unpacked into one nvidia/cudnn folder: which one's files remain cannot be told.
        Assert.Null(CudaLibrarySelection.CudnnCudaMajorOf(["nvidia_cudnn_cu12-9.5.1.17.dist-info", "nvidia_cudnn_cu13-9.13.0.50.dist-info"], out string both));
        Assert.Contains("both", both);
    }

    [Theory]
    [InlineData("libcudart.so.12", 12)]
    [InlineData("libcudart.so.11.0", 11)]
    [InlineData("libcublas.so.13", 13)]
    [InlineData("libnvrtc.so.12", 12)]
    [InlineData("libnvrtc.so.11.2", 11)]
    [InlineData("libcudnn.so.9", null)]
    public void CudaMajor_IsReadFromTheFileName(string file, int? major)
    {
        string library = file.StartsWith("libcudart", StringComparison.Ordinal) ? Libraries.Cudart
            : file.StartsWith("libcublas", StringComparison.Ordinal) ? Libraries.Cublas
            : file.StartsWith("libnvrtc", StringComparison.Ordinal) ? Libraries.Nvrtc : Libraries.Cudnn;
        Assert.Equal(major, CudaLibrarySelection.Names(library, windows: false).Single(n => n.File == file).CudaMajor);
    }
}

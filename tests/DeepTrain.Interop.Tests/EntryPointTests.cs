using System.Reflection;
using System.Runtime.InteropServices;

namespace DeepTrain.Interop.Tests;

/// <summary>Every <c>[LibraryImport]</c> the bindings declare names a symbol the loaded library exports.</summary>
public sealed class EntryPointTests
{
    // cuDNN 9 added these; with cuDNN 8 loaded their absence is expected (callers catch EntryPointNotFoundException).
    private static readonly HashSet<string> CudnnNineOnly = ["cudnnGetLastErrorString"];

    internal static IEnumerable<(MethodInfo Method, string Library, string EntryPoint)> Imports() =>
        typeof(Libraries).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Attr: m.GetCustomAttribute<LibraryImportAttribute>()))
            .Where(x => x.Attr is not null)
            .Select(x => (x.Method, x.Attr!.LibraryName, x.Attr.EntryPoint ?? x.Method.Name));

    [Fact]
    public void EveryImportUsesAKnownLibraryName()
    {
        var imports = Imports().ToList();
        Assert.True(imports.Count > 90, $"only {imports.Count} imports found by reflection");
        Assert.All(imports, i => Assert.Contains(i.Library, Libraries.All));
    }

    [Theory]
    [InlineData(Libraries.Cudart)]
    [InlineData(Libraries.Cublas)]
    [InlineData(Libraries.Cudnn)]
    [InlineData(Libraries.Kernels)]
    [InlineData(Libraries.Mpi)]
    [InlineData(Libraries.Nccl)]
    public void EveryEntryPointIsExported(string library)
    {
        if (!NativeLibraryResolver.TryLoad(library, out IntPtr handle, out string reason))
            Assert.Skip($"{library} does not load on this machine, so its exports cannot be checked: {reason}");
        bool cudnn8 = library == Libraries.Cudnn && Cudnn.MajorVersion(Cudnn.cudnnGetVersion()) < 9;
        var missing = Imports()
            .Where(i => i.Library == library)
            .Where(i => !NativeLibrary.TryGetExport(handle, i.EntryPoint, out _))
            .Where(i => !(cudnn8 && CudnnNineOnly.Contains(i.EntryPoint)))
            .Select(i => $"{i.EntryPoint} (declared by {i.Method.DeclaringType!.Name}.{i.Method.Name})")
            .ToList();
        Assert.True(missing.Count == 0,
            $"{NativeLibraryResolver.LoadedFrom(library)} lacks {missing.Count} declared entry point(s):\n  " + string.Join("\n  ", missing));
    }

    [Fact]
    public void CublasHandleApiIsBoundToTheV2Exports()
    {
        // The plain names (cublasCreate, cublasSetStream) are the legacy handle-less API: binding them with the v2
        // signatures corrupts memory without an error. Only exports that have a _v2 form need it.
        string[] mustBeV2 = ["cublasCreate", "cublasDestroy", "cublasSetStream", "cublasSetWorkspace", "cublasGetVersion"];
        var names = Imports().Where(i => i.Library == Libraries.Cublas).Select(i => i.EntryPoint).ToHashSet();
        foreach (string plain in mustBeV2)
        {
            Assert.DoesNotContain(plain, names);
            Assert.Contains(plain + "_v2", names);
        }
    }

    // Frees of objects that have a SafeHandle but no "Destroy" in their name (device memory has no handle: arenas own it).
    private static readonly HashSet<string> HandleFrees = ["cudaFreeHost"];

    [Fact]
    public void DestroyFunctionsAreInternalAndTakeIntPtr()
    {
        var destroys = Imports().Where(i => i.EntryPoint.Contains("Destroy", StringComparison.Ordinal) || HandleFrees.Contains(i.EntryPoint)).ToList();
        Assert.NotEmpty(destroys);
        Assert.Contains(destroys, d => d.EntryPoint == "cudaFreeHost");
        Assert.All(destroys, d =>
        {
            Assert.True(d.Method.IsAssembly, $"{d.EntryPoint} must be internal: only a SafeHandle's ReleaseHandle calls it");
            Assert.Equal(typeof(IntPtr), d.Method.GetParameters()[0].ParameterType);
        });
    }

    [Fact]
    public void PinnedHostAllocationsReturnTheirSafeHandle()
    {
        // Create returns the handle, so pinned memory cannot be allocated without an owner that frees it.
        var allocs = Imports().Where(i => i.EntryPoint is "cudaHostAlloc" or "cudaMallocHost").ToList();
        Assert.Equal(2, allocs.Count);
        Assert.All(allocs, a => Assert.Equal(typeof(CudaHostMemory).MakeByRefType(), a.Method.GetParameters()[0].ParameterType));
    }

    [Fact]
    public void GraphInstantiateUsesTheVersionStableEntryPoint()
    {
        var names = Imports().Select(i => i.EntryPoint).ToHashSet();
        Assert.Contains("cudaGraphInstantiateWithFlags", names);
        Assert.DoesNotContain("cudaGraphInstantiate", names);
    }
}

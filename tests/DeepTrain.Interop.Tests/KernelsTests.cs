using System.Text.RegularExpressions;

namespace DeepTrain.Interop.Tests;

/// <summary>The kernel library's bindings against its own C header and the built library.</summary>
public sealed partial class KernelsTests
{
    private static string? Header()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string h = Path.Combine(d.FullName, "native", "include", "deeptrain_kernels.h");
            if (File.Exists(h)) return h;
        }
        return null;
    }

    [GeneratedRegex(@"DT_EXPORT\s+int32_t\s+(dt_\w+)\s*\(")]
    private static partial Regex ExportRegex();

    [Fact]
    public void EveryHeaderExportIsBound_AndTheAbiVersionsAgree()
    {
        string? header = Header();
        if (header is null) Assert.Skip("native/include/deeptrain_kernels.h is not above the test's folder (a bundle has no sources)");
        string text = File.ReadAllText(header);
        var exports = ExportRegex().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
        var bound = EntryPointTests.Imports().Where(i => i.Library == Libraries.Kernels).Select(i => i.EntryPoint).ToHashSet();
        Assert.Empty(exports.Except(bound));
        Assert.Empty(bound.Except(exports));
        var version = Regex.Match(text, @"#define\s+DT_KERNELS_ABI_VERSION\s+(\d+)");
        Assert.Equal(Kernels.AbiVersion, int.Parse(version.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((int)Kernels.dt_half_kind.DT_HALF_BF16, int.Parse(Regex.Match(text, @"#define\s+DT_HALF_BF16\s+(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void BuiltLibrary_ReportsTheSameAbiVersion()
    {
        if (!NativeLibraryResolver.TryLoad(Libraries.Kernels, out string reason))
            Assert.Skip($"the kernel library is not built here (./build.sh native needs nvcc): {reason}");
        // cudart is linked statically: this call needs no driver and no GPU.
        Assert.Equal(Kernels.AbiVersion, Kernels.dt_abi_version());
    }
}

namespace DeepTrain.Package.Tests;

/// <summary>What ./build.sh pack wrote: five packages with the metadata a NuGet user sees, symbols beside them.</summary>
[Trait("Category", "Package")]
public class PackageContentTests
{
    private static PackageFolder Folder => PackageFolder.Shared;

    [Theory]
    [InlineData("DeepTrain.Interop")]
    [InlineData("DeepTrain")]
    [InlineData("DeepTrain.Hosting")]
    [InlineData("DeepTrain.Onnx")]
    [InlineData("DeepTrain.Cli")]
    public void EachPackage_HasItsMetadata_ReadmeAndSymbols(string id)
    {
        string nupkg = Folder.Nupkg(id);
        var entries = PackageFolder.Entries(nupkg);
        Assert.False(string.IsNullOrWhiteSpace(PackageFolder.Metadata(nupkg, "description")?.Value), $"{id}: no description");
        Assert.False(string.IsNullOrWhiteSpace(PackageFolder.Metadata(nupkg, "authors")?.Value), $"{id}: no authors");
        var license = PackageFolder.Metadata(nupkg, "license");
        Assert.True(license is not null && (string?)license.Attribute("type") == "expression" && license.Value == "MIT", $"{id}: license is not the MIT expression");
        Assert.Equal("README.md", PackageFolder.Metadata(nupkg, "readme")?.Value);
        Assert.Contains("README.md", entries);
        Assert.Equal("git", (string?)PackageFolder.Metadata(nupkg, "repository")?.Attribute("type"));
        Assert.True(File.Exists(Path.ChangeExtension(nupkg, ".snupkg")), $"{id}: no symbols package beside {Path.GetFileName(nupkg)}");
        Assert.Equal(Folder.Version("DeepTrain"), Folder.Version(id));   // one version for all, from Directory.Build.props
    }

    [Theory]
    [InlineData("DeepTrain.Interop")]
    [InlineData("DeepTrain")]
    [InlineData("DeepTrain.Hosting")]
    [InlineData("DeepTrain.Onnx")]
    public void Libraries_CarryTheirXmlDocs(string id)
    {
        var entries = PackageFolder.Entries(Folder.Nupkg(id));
        Assert.Contains($"lib/net10.0/{id}.dll", entries);
        Assert.Contains($"lib/net10.0/{id}.xml", entries);
    }

    [Fact]
    public void DeepTrain_DependsOnInterop_OfTheSameVersion()
    {
        var deps = PackageFolder.Metadata(Folder.Nupkg("DeepTrain"), "dependencies")!.Descendants().Where(e => e.Name.LocalName == "dependency").ToArray();
        var interop = Assert.Single(deps, d => (string?)d.Attribute("id") == "DeepTrain.Interop");
        Assert.Equal(Folder.Version("DeepTrain"), (string?)interop.Attribute("version"));   // NuGet's "at least this version"
    }

    [Fact]
    public void Cli_IsADotnetTool_NamedDeeptrain()
    {
        string nupkg = Folder.Nupkg("DeepTrain.Cli");
        var types = PackageFolder.Metadata(nupkg, "packageTypes")?.Elements().Select(e => (string?)e.Attribute("name")).ToArray() ?? [];
        Assert.Contains("DotnetTool", types);
        Assert.Contains("tools/net10.0/any/DotnetToolSettings.xml", PackageFolder.Entries(nupkg));
    }

    /// <summary>With nvcc here (CI installs CUDA 11.8), pack built the kernel library, and both DeepTrain and the tool must carry it.</summary>
    [Fact]
    public void WhereNvccExists_ThePackagesCarryTheKernelLibrary()
    {
        bool nvcc = File.Exists("/usr/bin/nvcc") || File.Exists("/usr/local/cuda/bin/nvcc")
            || (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "nvcc")));
        Assert.SkipUnless(nvcc, "nvcc is not installed: the packages were packed without the kernel library, which is allowed");
        Assert.Contains("runtimes/linux-x64/native/libdeeptrain_kernels.so", PackageFolder.Entries(Folder.Nupkg("DeepTrain")));
        Assert.Contains("tools/net10.0/any/runtimes/linux-x64/native/libdeeptrain_kernels.so", PackageFolder.Entries(Folder.Nupkg("DeepTrain.Cli")));
    }
}

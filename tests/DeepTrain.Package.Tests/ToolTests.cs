namespace DeepTrain.Package.Tests;

/// <summary>The deeptrain command installed from the local package folder as a .NET tool, as the README says.</summary>
[Trait("Category", "Package")]
public class ToolTests (ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deeptrain-tool-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheTool_InstallsFromTheFolder_AndRunsInfo()
    {
        var folder = PackageFolder.Shared;
        string version = folder.Version("DeepTrain.Cli"), tools = Path.Combine(_dir, "tools");
        Dotnet.Sdk(_dir, Path.Combine(_dir, "nuget-packages"),
            "tool", "install", "DeepTrain.Cli", "--tool-path", tools, "--add-source", folder.Path, "--version", version).AssertSucceeded();

        var info = Dotnet.Run(Path.Combine(tools, "deeptrain"), ["info"], _dir).AssertSucceeded();
        output.WriteLine(info.Output);
        Assert.Contains("DeepTrain ", info.Output);
        Assert.Contains("cpu      available", info.Output);
        // The tool carries the kernel library in runtimes/linux-x64/native/ beside its dll, where the resolver looks.
        if (folder.HasKernels)
            Assert.Matches(@"kernels \S*/runtimes/linux-x64/native/libdeeptrain_kernels\.so", info.Output);
    }
}

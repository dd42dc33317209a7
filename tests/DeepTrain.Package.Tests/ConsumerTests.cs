using System.Text.RegularExpressions;

namespace DeepTrain.Package.Tests;

/// <summary>
/// A new console project outside the repository references DeepTrain from the local package folder and runs the
/// README's "Use it from your code" program (Consumer/Program.cs): train an epoch, save, load, predict.
/// </summary>
[Trait("Category", "Package")]
public partial class ConsumerTests (ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("deeptrain-consumer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex(@"^epoch 1: loss (?<loss>[0-9.]+), accuracy [0-9.]+ ?%; image 5 is class (?<label>\d), predicted (?<predicted>\d)$", RegexOptions.Multiline)]
    private static partial Regex ResultLine();

    [Fact]
    public void TheReadmeProgram_BuildsAgainstThePackage_AndTrainsSavesLoadsPredicts()
    {
        var folder = PackageFolder.Shared;
        string version = folder.Version("DeepTrain");
        string app = Path.Combine(_dir, "app"), packages = Path.Combine(_dir, "nuget-packages");
        Directory.CreateDirectory(app);
        // What a user writes: a console project, a NuGet.config adding the local folder to their usual sources.
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="DeepTrain" Version="{version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="deeptrain-local" value="{folder.Path}" />
              </packageSources>
            </configuration>
            """);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "consumer", "Program.cs"), Path.Combine(app, "Program.cs"));
        // Not part of the README program: reports, before it runs, where the app found the kernel library.
        File.WriteAllText(Path.Combine(app, "KernelProbe.cs"), """
            using System.Runtime.CompilerServices;
            using DeepTrain.Interop;

            static class KernelProbe
            {
                [ModuleInitializer]
                internal static void Report() => Console.WriteLine(CudaAvailability.KernelLibraryLocation() is { } where
                    ? $"kernels: {where}" : "kernels: not loaded");
            }
            """);

        Dotnet.Sdk(app, packages, "build", "-c", "Release", "--disable-build-servers", "-nologo", "-v", "quiet").AssertSucceeded();

        // DeepTrain came from the local folder, not from any other source the machine knows.
        string restored = Path.Combine(packages, "deeptrain", version.ToLowerInvariant());
        string metadata = File.ReadAllText(Path.Combine(restored, ".nupkg.metadata"));
        Assert.Contains(folder.Path.Replace("\\", "\\\\"), metadata);

        string bin = Path.Combine(app, "bin", "Release", "net10.0");
        var run = Dotnet.Run(Dotnet.Host, [Path.Combine(bin, "app.dll")], app).AssertSucceeded();
        output.WriteLine(run.Output);
        var m = ResultLine().Match(run.Output);
        Assert.True(m.Success, $"the program did not print its result line:\n{run.Output}");
        Assert.True(double.Parse(m.Groups["loss"].Value, System.Globalization.CultureInfo.InvariantCulture) < Math.Log(3), $"one epoch did not beat chance (ln 3):\n{run.Output}");
        Assert.Equal(m.Groups["label"].Value, m.Groups["predicted"].Value);   // the bands are far apart: the loaded model gets it right
        Assert.True(File.Exists(Path.Combine(app, "bands.safetensors")), "no checkpoint was written");

        // The package's kernel library lands in runtimes/linux-x64/native/ of the RID-less output, and the resolver finds it there.
        if (folder.HasKernels)
        {
            string so = Path.Combine(bin, "runtimes", "linux-x64", "native", "libdeeptrain_kernels.so");
            Assert.True(File.Exists(so), $"the package's kernel library is not in {Path.GetDirectoryName(so)}");
            Assert.Contains($"kernels: {so}", run.Output);
        }
    }
}

using System.IO.Compression;
using System.Xml.Linq;

// Each test runs dotnet builds on a small machine: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace DeepTrain.Package.Tests;

/// <summary>
/// The local package folder the tests install from: <c>DEEPTRAIN_PACKAGES</c> when set (./build.sh test packs into
/// artifacts/packages first and sets it), otherwise a temporary folder this fixture fills with <c>./build.sh pack</c>
/// from the source tree the tests were built in. Made at first use, so tests that need no packages never pack.
/// </summary>
public sealed class PackageFolder
{
    /// <summary>Names the folder holding the packages, skipping the pack.</summary>
    public const string Variable = "DEEPTRAIN_PACKAGES";

    private static readonly Lazy<PackageFolder> s_shared = new(() => new PackageFolder());

    /// <summary>The one folder of this test run.</summary>
    public static PackageFolder Shared => s_shared.Value;

    private PackageFolder()
    {
        string? given = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(given)) { Path = System.IO.Path.GetFullPath(given); return; }
        string root = RepositoryRoot()
            ?? throw new InvalidOperationException($"{Variable} is not set and no source tree (build.sh) is above {AppContext.BaseDirectory} to pack from");
        string owned = Directory.CreateTempSubdirectory("deeptrain-packages-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(owned, recursive: true); } catch (IOException) { } };
        Path = System.IO.Path.Combine(owned, "packages");
        Dotnet.Run("bash", ["-c", $"PACKAGE_OUT='{Path}' ./build.sh pack"], root).AssertSucceeded();
    }

    /// <summary>The folder, absolute.</summary>
    public string Path { get; }

    /// <summary>The .nupkg of package <paramref name="id"/>; fails the test when the folder has none.</summary>
    public string Nupkg(string id)
    {
        Assert.True(Directory.Exists(Path), $"no package folder {Path}: did ./build.sh pack fail?");
        var hits = Directory.GetFiles(Path, "*.nupkg").Where(f => string.Equals(Id(f), id, StringComparison.OrdinalIgnoreCase)).ToArray();
        Assert.True(hits.Length == 1, $"expected one {id} package in {Path}, found {hits.Length}: {string.Join(", ", Directory.GetFiles(Path).Select(System.IO.Path.GetFileName))}");
        return hits[0];
    }

    /// <summary>The version of package <paramref name="id"/> in the folder.</summary>
    public string Version(string id) => Metadata(Nupkg(id), "version")!.Value;

    /// <summary>The &lt;metadata&gt; of a .nupkg's nuspec.</summary>
    public static XElement Metadata(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/'));
        using var s = entry.Open();
        var root = XDocument.Load(s).Root!;
        return root.Element(root.Name.Namespace + "metadata")!;
    }

    /// <summary>One element of a .nupkg's nuspec metadata (id, version, license, readme, repository, ...), or null.</summary>
    public static XElement? Metadata(string nupkg, string element)
    {
        var m = Metadata(nupkg);
        return m.Element(m.Name.Namespace + element);
    }

    /// <summary>Whether the tree that packed also built the kernel library, so the packages must carry it.</summary>
    public bool HasKernels => Entries(Nupkg("DeepTrain")).Contains("runtimes/linux-x64/native/libdeeptrain_kernels.so");

    /// <summary>Every file name in a .nupkg.</summary>
    public static IReadOnlyList<string> Entries(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        return zip.Entries.Select(e => e.FullName).ToArray();
    }

    private static string Id(string nupkg) => Metadata(nupkg, "id")!.Value;

    private static string? RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(System.IO.Path.Combine(d.FullName, "build.sh")) && File.Exists(System.IO.Path.Combine(d.FullName, "DeepTrain.sln"))) return d.FullName;
        return null;
    }
}

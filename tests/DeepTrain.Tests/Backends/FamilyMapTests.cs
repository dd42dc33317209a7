using System.Text.RegularExpressions;
using DeepTrain.Tests.Infrastructure;
using Xunit;

namespace DeepTrain.Tests.Backends;

/// <summary>
/// The family map (docs/architecture.md): every <c>IBackend</c> section is a family, and each of its operations is
/// implemented in <c>CpuBackend.&lt;Family&gt;.cs</c> and <c>CudaBackend.&lt;Family&gt;.cs</c>; the CPU kernel files and the
/// CUDA kernel files carry family names too, so an operation's CPU twin, CUDA call and kernel are found by one name.
/// </summary>
public partial class FamilyMapTests
{
    /// <summary>Files beside the families: precision support, the SIMD loops, the ABI version.</summary>
    private static readonly string[] CpuExtras = ["Precision"], CudaExtras = ["Precision"], KernelExtras = ["Vectorized"], NativeExtras = ["version"];

    private static string Root => RepoPaths.Root;
    private static string Backends => Path.Combine(Root, "src", "DeepTrain", "Backends");

    private static Dictionary<string, List<string>> Sections()
    {
        var sections = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (string line in File.ReadLines(Path.Combine(Backends, "IBackend.cs")))
        {
            if (SectionHeader().Match(line) is { Success: true } h) sections[h.Groups[1].Value] = current = [];
            else if (current is not null && Member().Match(line) is { Success: true } m) current.Add(m.Groups[1].Value);
        }
        return sections;
    }

    [Fact]
    public void IBackend_IsDividedIntoFamilies_EachWithOperations()
    {
        var sections = Sections();
        Assert.True(sections.Count >= 10, $"expected the family sections of IBackend, found {sections.Count}");
        Assert.All(sections, s => Assert.NotEmpty(s.Value));
    }

    [Theory]
    [InlineData("Cpu", "CpuBackend")]
    [InlineData("Cuda", "CudaBackend")]
    public void EveryOperation_IsImplementedInItsFamilysFile(string folder, string type)
    {
        foreach (var (family, ops) in Sections())
        {
            string file = Path.Combine(Backends, folder, $"{type}.{family}.cs");
            Assert.True(File.Exists(file), $"family {family} has no {type}.{family}.cs");
            string text = File.ReadAllText(file);
            foreach (string op in ops)
                Assert.True(Regex.IsMatch(text, $@"public [^=;(]*\b{op}\("), $"{type}.{family}.cs does not implement IBackend.{op} (family {family})");
        }
    }

    [Theory]
    [InlineData("Cpu", "CpuBackend")]
    [InlineData("Cuda", "CudaBackend")]
    [InlineData("Cpu", "CpuKernels")]
    public void EveryPartialFile_IsNamedForAFamily(string folder, string type)
    {
        var allowed = Sections().Keys.Concat(type == "CpuKernels" ? KernelExtras : folder == "Cpu" ? CpuExtras : CudaExtras).ToHashSet();
        foreach (string f in Directory.EnumerateFiles(Path.Combine(Backends, folder), $"{type}.*.cs"))
        {
            string family = Path.GetFileNameWithoutExtension(f)[(type.Length + 1)..];
            Assert.True(allowed.Contains(family), $"{Path.GetFileName(f)}: '{family}' is not a family of IBackend (nor one of {string.Join(", ", allowed)})");
        }
    }

    [Fact]
    public void EveryKernelFile_IsNamedForAFamily()
    {
        var allowed = Sections().Keys.Select(Snake).Concat(NativeExtras).ToHashSet();
        foreach (string f in Directory.EnumerateFiles(Path.Combine(Root, "native", "src"), "*.cu"))
        {
            string name = Path.GetFileNameWithoutExtension(f);
            Assert.True(allowed.Contains(name), $"native/src/{name}.cu is not named for a family (expected one of {string.Join(", ", allowed)})");
        }
    }

    [Theory]
    [InlineData("LossScale", "loss_scale")]
    [InlineData("Elementwise", "elementwise")]
    public void Snake_SplitsPascalCaseWords(string family, string expected) => Assert.Equal(expected, Snake(family));

    private static string Snake(string family) => Words().Replace(family, "$1_$2").ToLowerInvariant();


    [GeneratedRegex(@"^\s+// ---- (\w+)\b")]
    private static partial Regex SectionHeader();

    [GeneratedRegex(@"^    [A-Za-z][\w<>?,\[\] ]* (\w+)\(")]
    private static partial Regex Member();

    [GeneratedRegex("([a-z])([A-Z])")]
    private static partial Regex Words();
}

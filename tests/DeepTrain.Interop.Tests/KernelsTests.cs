using System.Text.RegularExpressions;

namespace DeepTrain.Interop.Tests;

/// <summary>The kernel library's bindings against its own C header and the built library.</summary>
public sealed partial class KernelsTests
{
    /// <summary>Names the source tree when the tests run from a bundle (bundle/device-check.sh sets it from the tree it came in).</summary>
    internal const string SourceDirVariable = "DEEPTRAIN_SOURCE_DIR";

    /// <summary>The kernel library's header: in <c>DEEPTRAIN_SOURCE_DIR</c>, else in a folder above the test's own.</summary>
    internal static string? Header()
    {
        const string relative = "native/include/deeptrain_kernels.h";
        if (Environment.GetEnvironmentVariable(SourceDirVariable) is { Length: > 0 } src && File.Exists(Path.Combine(src, relative)))
            return Path.Combine(src, relative);
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string h = Path.Combine(d.FullName, relative);
            if (File.Exists(h)) return h;
        }
        return null;
    }

    internal const string NoHeader = "native/include/deeptrain_kernels.h is neither in DEEPTRAIN_SOURCE_DIR nor above the test's folder (a bundle has no sources)";

    [GeneratedRegex(@"DT_EXPORT\s+int32_t\s+(dt_\w+)\s*\(")]
    private static partial Regex ExportRegex();

    /// <summary>The export declarations (<c>DT_EXPORT int32_t dt_…(</c>) of the header's text.</summary>
    internal static MatchCollection Exports(string headerText) => ExportRegex().Matches(headerText);

    [Fact]
    public void EveryHeaderExportIsBound_AndTheAbiVersionsAgree()
    {
        string? header = Header();
        if (header is null) Assert.Skip(NoHeader);
        string text = File.ReadAllText(header);
        var exports = ExportRegex().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
        var bound = EntryPointTests.Imports().Where(i => i.Library == Libraries.Kernels).Select(i => i.EntryPoint).ToHashSet();
        Assert.Empty(exports.Except(bound));
        Assert.Empty(bound.Except(exports));
        var version = Regex.Match(text, @"#define\s+DT_KERNELS_ABI_VERSION\s+(\d+)");
        Assert.Equal(Kernels.AbiVersion, int.Parse(version.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal((int)Kernels.dt_half_kind.DT_HALF_BF16, int.Parse(Regex.Match(text, @"#define\s+DT_HALF_BF16\s+(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"DT_EXPORT\s+int32_t\s+(dt_\w+)\s*\(([^)]*)\)\s*;", RegexOptions.Singleline)]
    private static partial Regex DeclarationRegex();

    [GeneratedRegex(@"/\*.*?\*/", RegexOptions.Singleline)]
    private static partial Regex CommentRegex();

    /// <summary>The managed type a C parameter type binds to: int32_t → int, int64_t → long, uint64_t → ulong, T* → T*, cudaStream_t → IntPtr.</summary>
    private static Type ManagedType(string cType)
    {
        string t = cType.Replace("const", " ", StringComparison.Ordinal);
        int stars = t.Count(ch => ch == '*');
        string name = t.Replace("*", " ", StringComparison.Ordinal).Trim();
        Type type = name switch
        {
            "float" => typeof(float),
            "double" => typeof(double),
            "int32_t" => typeof(int),
            "int64_t" => typeof(long),
            "uint64_t" => typeof(ulong),
            "void" => typeof(void),
            "cudaStream_t" => typeof(IntPtr),
            _ => throw new InvalidOperationException($"the test does not know the C type '{cType}'"),
        };
        for (int i = 0; i < stars; i++) type = type.MakePointerType();
        return type;
    }

    [Fact]
    public void EveryImport_HasTheHeadersParameters_InOrder_WithTheSameNamesAndBlittableTypes()
    {
        string? header = Header();
        if (header is null) Assert.Skip(NoHeader);
        string text = CommentRegex().Replace(File.ReadAllText(header), " ");
        var imports = EntryPointTests.Imports().Where(i => i.Library == Libraries.Kernels).ToDictionary(i => i.EntryPoint, i => i.Method);
        var problems = new List<string>();
        int checkedExports = 0;
        foreach (Match m in DeclarationRegex().Matches(text))
        {
            string name = m.Groups[1].Value;
            if (!imports.TryGetValue(name, out var method)) { problems.Add($"{name}: not bound"); continue; }
            checkedExports++;
            var cParams = m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Where(p => p != "void")
                .Select(p =>
                {
                    var id = Regex.Match(p, @"(\w+)\s*$");
                    return (Type: p[..id.Index], Name: id.Groups[1].Value);
                })
                .ToList();
            var managed = method.GetParameters();
            if (method.ReturnType != typeof(int)) problems.Add($"{name}: returns {method.ReturnType.Name}, expected int (int32_t)");
            if (managed.Length != cParams.Count)
            {
                problems.Add($"{name}: {managed.Length} managed parameters, the header has {cParams.Count}");
                continue;
            }
            for (int i = 0; i < managed.Length; i++)
            {
                Type expected = ManagedType(cParams[i].Type);
                if (managed[i].ParameterType != expected)
                    problems.Add($"{name}: parameter {i} '{managed[i].Name}' is {managed[i].ParameterType}, the header's '{cParams[i].Type.Trim()} {cParams[i].Name}' binds to {expected}");
                if (managed[i].Name != cParams[i].Name)
                    problems.Add($"{name}: parameter {i} is named '{managed[i].Name}', the header says '{cParams[i].Name}'");
            }
        }
        Assert.True(checkedExports >= 30, $"only {checkedExports} declarations parsed from {header}");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void DTypeAndActivationCodes_MatchTheHeader()
    {
        string? header = Header();
        if (header is null) Assert.Skip(NoHeader);
        string text = File.ReadAllText(header);
        int Define(string name)
        {
            var m = Regex.Match(text, @"#define\s+" + name + @"\s+(\d+)");
            Assert.True(m.Success, $"{name} is not defined in {header}");
            return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        Assert.Equal(Kernels.DT_F32, Define("DT_F32"));
        Assert.Equal(Kernels.DT_F16, Define("DT_F16"));
        Assert.Equal(Kernels.DT_BF16, Define("DT_BF16"));
        foreach (var kind in Enum.GetValues<Kernels.dt_activation_kind>())
            Assert.Equal((int)kind, Define(kind.ToString()));
        Assert.Equal(4, Enum.GetValues<Kernels.dt_activation_kind>().Length);
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

using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace DeepTrain.Interop.Tests;

/// <summary>
/// The NCCL bindings against the real nccl.h, where one is installed: NVIDIA's pip wheel (site-packages
/// <c>nvidia/nccl/include</c>, which the GPU machine's PyTorch brings), <c>$CUDA_PATH/include</c>,
/// <c>/usr/local/cuda/include</c> or <c>/usr/include</c>. Every enum member, the unique-id size and every bound
/// prototype are compared with the C#. Debian ships no NCCL, so here the tests skip saying so; the bindings were written
/// from NVIDIA/nccl's src/nccl.h.in (commit 5d3ab08b69754cb863ab1bf6e3fb6f7612bb725b), and the device check's
/// conformance stage runs these tests on the GPU machine. The bf16 branch of ncclDataType_t is the one taken: every
/// CUDA 11+ build defines <c>__CUDA_BF16_TYPES_EXIST__</c>.
/// </summary>
public sealed partial class NcclHeaderTests
{
    /// <summary>Folders that may hold nccl.h, in search order.</summary>
    internal static IEnumerable<string> IncludeDirs()
    {
        foreach (string site in NativeLibraryResolver.PythonSitePackages()) yield return Path.Combine(site, "nvidia", "nccl", "include");
        if (Environment.GetEnvironmentVariable("CUDA_PATH") is { Length: > 0 } p) yield return Path.Combine(p, "include");
        yield return "/usr/local/cuda/include";
        yield return "/usr/include";
    }

    private static readonly Lazy<string?> Text = new(() =>
    {
        string? path = IncludeDirs().Select(d => Path.Combine(d, "nccl.h")).FirstOrDefault(File.Exists);
        if (path is null) return null;
        string text = Regex.Replace(File.ReadAllText(path), @"/\*.*?\*/", "", RegexOptions.Singleline);
        // Keep the first branch of each #if ... #else ... #endif.
        return Regex.Replace(text, @"#if[^\n]*\n(.*?)#else[^\n]*\n.*?#endif[^\n]*\n", "$1", RegexOptions.Singleline);
    });

    private static string Header()
    {
        if (Text.Value is null)
            Assert.Skip("nccl.h was not found (searched " + string.Join(", ", IncludeDirs()) + "): NCCL's values are checked where its header is installed, e.g. a GPU machine's pip package site-packages/nvidia/nccl/include");
        return Text.Value;
    }

    [GeneratedRegex(@"typedef\s+enum\s*\{(?<body>[^}]*)\}\s*(?<name>\w+)\s*;", RegexOptions.Singleline)]
    private static partial Regex EnumDecl();

    [GeneratedRegex(@"(?:ncclResult_t|const\s+char\s*\*)\s+(?<name>nccl\w+)\s*\((?<params>[^)]*)\)\s*;", RegexOptions.Singleline)]
    private static partial Regex Prototype();

    /// <summary>The bound enums' members as nccl.h declares them (other enums, with members such as INT_MAX, are not read).</summary>
    private static Dictionary<string, Dictionary<string, long>> HeaderEnums()
    {
        var enums = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        foreach (Match m in EnumDecl().Matches(Header()))
        {
            if (m.Groups["name"].Value is not (nameof(ncclResult_t) or nameof(ncclRedOp_t) or nameof(ncclDataType_t))) continue;
            var members = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (string item in m.Groups["body"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var (name, expr) = (item[..item.IndexOf('=')].Trim(), item[(item.IndexOf('=') + 1)..].Trim());
                members[name] = Evaluate(expr);
            }
            enums[m.Groups["name"].Value] = members;
        }
        return enums;
    }

    /// <summary>A decimal or hex literal, or ncclMaxRedOp's <c>0x7fffffff&gt;&gt;(32-8*sizeof(enum))</c> with a 4-byte enum.</summary>
    private static long Evaluate(string expr)
    {
        var shift = Regex.Match(expr, @"^0x([0-9a-fA-F]+)\s*>>\s*\(32-8\*sizeof\(\w+\)\)$");
        if (shift.Success) return long.Parse(shift.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) >> (32 - 8 * sizeof(int));
        return expr.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.Parse(expr[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            : long.Parse(expr, CultureInfo.InvariantCulture);
    }

    [Theory]
    [InlineData(typeof(ncclResult_t))]
    [InlineData(typeof(ncclRedOp_t))]
    [InlineData(typeof(ncclDataType_t))]
    public void EnumMatchesTheHeader(Type csharp)
    {
        var header = HeaderEnums();
        Assert.True(header.TryGetValue(csharp.Name, out var c), $"{csharp.Name} is not declared in nccl.h");
        var mine = csharp.GetFields(BindingFlags.Public | BindingFlags.Static)
            .ToDictionary(f => f.Name, f => Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture), StringComparer.Ordinal);
        // Every member we bind has the header's value. The counts (ncclNum*) grow as NCCL releases add members (newer
        // headers add ncclTimeout and fp8 types), so they and the members a newer header adds are not compared: we
        // never pass them to NCCL, and what we do pass means the same in every 2.x.
        var problems = new List<string>();
        foreach (var (name, m) in mine)
        {
            if (name.StartsWith("ncclNum", StringComparison.Ordinal)) continue;
            if (!c.TryGetValue(name, out long value)) problems.Add($"{name} = {m}: in {csharp.Name}, not in nccl.h");
            else if (m != value) problems.Add($"{name}: C# {m}, nccl.h {value}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        foreach (string name in c.Keys.Except(mine.Keys))
            TestContext.Current.SendDiagnosticMessage($"{csharp.Name}.{name} = {c[name]} is in this nccl.h but not bound (a newer NCCL)");
        Assert.Equal(sizeof(int), Marshal.SizeOf(Enum.GetUnderlyingType(csharp)));
    }

    [Fact]
    public void UniqueIdIsTheHeadersSize()
    {
        var define = Regex.Match(Header(), @"#define\s+NCCL_UNIQUE_ID_BYTES\s+(\d+)");
        Assert.True(define.Success, "NCCL_UNIQUE_ID_BYTES is not in nccl.h");
        int bytes = int.Parse(define.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Contains("typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;", Header(), StringComparison.Ordinal);
        Assert.Equal(Nccl.NCCL_UNIQUE_ID_BYTES, bytes);
        Assert.Equal(bytes, Marshal.SizeOf<ncclUniqueId>());
        var id = ncclUniqueId.FromBytes(Enumerable.Range(0, bytes).Select(i => (byte)(i * 7)).ToArray());
        Assert.Equal(Enumerable.Range(0, bytes).Select(i => (byte)(i * 7)), id.ToArray());
    }

    [Fact]
    public void EveryImportMatchesItsHeaderPrototype()
    {
        var prototypes = Prototype().Matches(Header()).ToDictionary(m => m.Groups["name"].Value, m => m, StringComparer.Ordinal);
        var imports = EntryPointTests.Imports().Where(i => i.Library == Libraries.Nccl).ToList();
        Assert.True(imports.Count >= 10, $"only {imports.Count} NCCL imports found");
        var problems = new List<string>();
        foreach (var (method, _, entry) in imports)
        {
            if (!prototypes.TryGetValue(entry, out var proto)) { problems.Add($"{entry}: no prototype in nccl.h"); continue; }
            bool returnsText = proto.Value.StartsWith("const", StringComparison.Ordinal);
            if (returnsText ? method.ReturnType != typeof(byte*) : method.ReturnType != typeof(ncclResult_t))
                problems.Add($"{entry}: returns {method.ReturnType.Name}, the header {(returnsText ? "const char*" : "ncclResult_t")}");
            string ps = proto.Groups["params"].Value.Trim();
            var c = ps.Length == 0 ? [] : ps.Split(',', StringSplitOptions.TrimEntries)
                .Select(p => Regex.Match(p, @"^(?<type>.*?)\s*(?<name>\w+)$")).Select(m => (Type: Regex.Replace(m.Groups["type"].Value, @"\s+", " ").Trim(), Name: m.Groups["name"].Value)).ToList();
            var managed = method.GetParameters();
            if (managed.Length != c.Count) { problems.Add($"{entry}: {managed.Length} managed parameters, the header has {c.Count}"); continue; }
            for (int i = 0; i < c.Count; i++)
            {
                var (ctype, cname) = c[i];
                Type m = managed[i].ParameterType;
                if (!Fits(ctype, m, entry)) problems.Add($"{entry}: parameter {i} '{managed[i].Name}' is {m.Name}, the header has '{ctype} {cname}'");
                if (managed[i].Name != cname) problems.Add($"{entry}: parameter {i} is named '{managed[i].Name}', the header says '{cname}'");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>The managed type each C parameter kind must bind to.</summary>
    private static bool Fits(string ctype, Type m, string entry) => ctype switch
    {
        "ncclComm_t*" => m.IsByRef && m.GetElementType() == typeof(NcclCommHandle),
        // Destroy and abort take the raw pointer (only the SafeHandle's release calls them); ncclGetLastError ignores it.
        "ncclComm_t" => entry is "ncclCommDestroy" or "ncclCommAbort" or "ncclGetLastError" ? m == typeof(IntPtr) : m == typeof(NcclCommHandle),
        "ncclUniqueId*" => m.IsByRef && m.GetElementType() == typeof(ncclUniqueId),
        "ncclUniqueId" => m == typeof(ncclUniqueId),
        "int *" or "int*" => m.IsByRef && m.GetElementType() == typeof(int),
        "ncclResult_t *" or "ncclResult_t*" => m.IsByRef && m.GetElementType() == typeof(ncclResult_t),
        "int" => m == typeof(int),
        "size_t" => m == typeof(nuint),
        "const void*" or "void*" => m.IsPointer,
        "cudaStream_t" => m == typeof(CudaStream),
        _ when ctype.StartsWith("nccl", StringComparison.Ordinal) && ctype.EndsWith("_t", StringComparison.Ordinal) => m.IsEnum && m.Name == ctype,
        _ => false,
    };
}

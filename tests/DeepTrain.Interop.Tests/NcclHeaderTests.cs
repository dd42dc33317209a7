using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace DeepTrain.Interop.Tests;

/// <summary>
/// The NCCL bindings against nccl.h's text: NCCL is not installed here (Debian does not ship it), so the header excerpt
/// in conformance/nccl.h.excerpt (NVIDIA/nccl src/nccl.h.in, commit 5d3ab08b69754cb863ab1bf6e3fb6f7612bb725b) is parsed
/// and every enum member, the unique-id size and every bound prototype compared with the C#. The bf16 branch of
/// ncclDataType_t is the one taken: every CUDA 11+ build defines <c>__CUDA_BF16_TYPES_EXIST__</c>.
/// </summary>
public sealed partial class NcclHeaderTests
{
    private static readonly Lazy<string> Text = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "conformance", "nccl.h.excerpt");
        Assert.True(File.Exists(path), $"{path} is missing from the test output");
        string text = Regex.Replace(File.ReadAllText(path), @"/\*.*?\*/", "", RegexOptions.Singleline);
        // Keep the first branch of each #if ... #else ... #endif.
        return Regex.Replace(text, @"#if[^\n]*\n(.*?)#else[^\n]*\n.*?#endif[^\n]*\n", "$1", RegexOptions.Singleline);
    });

    [GeneratedRegex(@"typedef\s+enum\s*\{(?<body>[^}]*)\}\s*(?<name>\w+)\s*;", RegexOptions.Singleline)]
    private static partial Regex EnumDecl();

    [GeneratedRegex(@"(?:ncclResult_t|const\s+char\s*\*)\s+(?<name>nccl\w+)\s*\((?<params>[^)]*)\)\s*;", RegexOptions.Singleline)]
    private static partial Regex Prototype();

    private static Dictionary<string, Dictionary<string, long>> HeaderEnums()
    {
        var enums = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        foreach (Match m in EnumDecl().Matches(Text.Value))
        {
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
        Assert.True(header.TryGetValue(csharp.Name, out var c), $"{csharp.Name} is not declared in the header excerpt");
        var mine = csharp.GetFields(BindingFlags.Public | BindingFlags.Static)
            .ToDictionary(f => f.Name, f => Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture), StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var (name, value) in c)
            if (!mine.TryGetValue(name, out long m)) problems.Add($"{name} = {value}: in the header, not in {csharp.Name}");
            else if (m != value) problems.Add($"{name}: C# {m}, header {value}");
        foreach (string name in mine.Keys.Except(c.Keys)) problems.Add($"{name}: in {csharp.Name}, not in the header");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Equal(sizeof(int), Marshal.SizeOf(Enum.GetUnderlyingType(csharp)));
    }

    [Fact]
    public void UniqueIdIsTheHeadersSize()
    {
        var define = Regex.Match(Text.Value, @"#define\s+NCCL_UNIQUE_ID_BYTES\s+(\d+)");
        Assert.True(define.Success, "NCCL_UNIQUE_ID_BYTES is not in the header excerpt");
        int bytes = int.Parse(define.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Contains("typedef struct { char internal[NCCL_UNIQUE_ID_BYTES]; } ncclUniqueId;", Text.Value, StringComparison.Ordinal);
        Assert.Equal(Nccl.NCCL_UNIQUE_ID_BYTES, bytes);
        Assert.Equal(bytes, Marshal.SizeOf<ncclUniqueId>());
        var id = ncclUniqueId.FromBytes(Enumerable.Range(0, bytes).Select(i => (byte)(i * 7)).ToArray());
        Assert.Equal(Enumerable.Range(0, bytes).Select(i => (byte)(i * 7)), id.ToArray());
    }

    [Fact]
    public void EveryImportMatchesItsHeaderPrototype()
    {
        var prototypes = Prototype().Matches(Text.Value).ToDictionary(m => m.Groups["name"].Value, m => m, StringComparer.Ordinal);
        var imports = EntryPointTests.Imports().Where(i => i.Library == Libraries.Nccl).ToList();
        // The excerpt quotes exactly the bound functions: each import has its prototype, each prototype its import.
        Assert.Equal(prototypes.Keys.Order(StringComparer.Ordinal), imports.Select(i => i.EntryPoint).Order(StringComparer.Ordinal));
        var problems = new List<string>();
        foreach (var (method, _, entry) in imports)
        {
            if (!prototypes.TryGetValue(entry, out var proto)) { problems.Add($"{entry}: no prototype in the header excerpt"); continue; }
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

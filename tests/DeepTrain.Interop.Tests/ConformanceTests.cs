using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace DeepTrain.Interop.Tests;

/// <summary>
/// Enum values, #define flags and struct layouts of the bindings against the C compiler's view of the real headers:
/// conformance/cuda_values.c is compiled here with <c>cc</c> and run, and its NAME=value lines are compared by name.
/// Skips, with the reason, when cc or the headers are missing.
/// </summary>
public sealed class ConformanceTests
{
    private static readonly Lazy<HeaderValues> Values = new(HeaderValues.Build);

    [Fact]
    public void CudaRuntimeAndCublasValuesMatchTheHeaders()
    {
        var v = Values.Value;
        if (v.SkipReason is not null) Assert.Skip(v.SkipReason);
        Compare(v, cudnn: false);
    }

    [Fact]
    public void CudnnValuesAndPerfStructsMatchTheHeaders()
    {
        var v = Values.Value;
        if (v.SkipReason is not null) Assert.Skip(v.SkipReason);
        if (!v.HasCudnn) Assert.Skip(v.CudnnNote);
        Compare(v, cudnn: true);
    }

    [Fact]
    public void PerfStructsHaveTheDocumentedLayout()
    {
        // From cudnn_cnn.h (9.6.0): { algo; status; float time; size_t memory; determinism; mathType; int reserved[3]; }
        // = 48 bytes on LP64 with these offsets; checked here without headers, and against them by the test above.
        foreach (var t in new[] { typeof(cudnnConvolutionFwdAlgoPerf_t), typeof(cudnnConvolutionBwdDataAlgoPerf_t), typeof(cudnnConvolutionBwdFilterAlgoPerf_t) })
        {
            Assert.Equal(48, Marshal.SizeOf(t));
            Assert.Equal(new[] { 0, 4, 8, 16, 24, 28, 32 },
                new[] { "algo", "status", "time", "memory", "determinism", "mathType", "reserved" }.Select(f => (int)Marshal.OffsetOf(t, f)));
        }
    }

    private static void Compare(HeaderValues v, bool cudnn)
    {
        var problems = new List<string>();
        int compared = 0;
        foreach (var (name, value) in CSharpValues(cudnn))
        {
            if (!v.Values.TryGetValue(name, out long c)) { problems.Add($"{name}: bound in C# but not printed by cuda_values.c"); continue; }
            compared++;
            if (c != value) problems.Add($"{name}: C# {value}, header {c}");
        }
        foreach (var (cname, size) in v.Sizes)
        {
            Type? t = FindType(cname);
            if (t is null || t.Name.StartsWith("cudnn", StringComparison.Ordinal) != cudnn) continue;
            compared++;
            int mine = t.IsEnum ? Marshal.SizeOf(Enum.GetUnderlyingType(t)) : Marshal.SizeOf(t);
            if (mine != size) problems.Add($"sizeof({cname}): C# {mine}, header {size}");
        }
        foreach (var ((cname, field), offset) in v.Offsets)
        {
            Type? t = FindType(cname);
            if (t is null || t.Name.StartsWith("cudnn", StringComparison.Ordinal) != cudnn) continue;
            compared++;
            long mine = (long)Marshal.OffsetOf(t, field);
            if (mine != offset) problems.Add($"offsetof({cname},{field}): C# {mine}, header {offset}");
        }
        foreach (var (handle, size) in v.Sizes.Where(s => s.Key.EndsWith("_t", StringComparison.Ordinal) && FindType(s.Key) is null))
            if (handle.StartsWith("cudnn", StringComparison.Ordinal) == cudnn && size != IntPtr.Size) problems.Add($"sizeof({handle}) = {size}, a handle is pointer-sized ({IntPtr.Size})");
        Assert.True(compared > (cudnn ? 100 : 200), $"only {compared} values compared");
        Assert.True(problems.Count == 0, $"{problems.Count} mismatch(es) against {v.Header}:\n  " + string.Join("\n  ", problems));
    }

    private static Type? FindType(string cname)
    {
        string name = cname.StartsWith("enum ", StringComparison.Ordinal) ? cname[5..] : cname;
        return typeof(Libraries).Assembly.GetTypes().FirstOrDefault(t => t.Name == name && (t.IsEnum || t.IsValueType));
    }

    private static bool IsCudaSide(Type t) =>
        !t.Name.StartsWith("Mpi", StringComparison.Ordinal) && !t.Name.StartsWith("nccl", StringComparison.Ordinal);

    /// <summary>Every enum member and public const of the bindings, by C name.</summary>
    private static IEnumerable<(string Name, long Value)> CSharpValues(bool cudnn)
    {
        foreach (var t in typeof(Libraries).Assembly.GetTypes().Where(t => t.IsEnum && !t.IsNested))   // public or internal: the bindings keep most C enums internal
        {
            if (!IsCudaSide(t)) continue;   // MPI's and NCCL's are checked by MpiConformanceTests and NcclHeaderTests
            if (t.Name.StartsWith("cudnn", StringComparison.Ordinal) != cudnn) continue;
            foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Static))
                yield return (f.Name, Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture));
        }
        if (cudnn) yield break;
        foreach (var f in typeof(Cudart).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
            yield return (f.Name, Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture));
    }

    /// <summary>The compiled program's output, or why it could not be produced.</summary>
    private sealed class HeaderValues
    {
        public string? SkipReason { get; private init; }
        public bool HasCudnn { get; private init; }
        public string CudnnNote { get; private init; } = "";
        public string Header { get; private init; } = "";
        public Dictionary<string, long> Values { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, long> Sizes { get; } = new(StringComparer.Ordinal);
        public Dictionary<(string, string), long> Offsets { get; } = [];

        public static HeaderValues Build()
        {
            string source = Path.Combine(AppContext.BaseDirectory, "conformance", "cuda_values.c");
            if (!File.Exists(source)) return new() { SkipReason = $"{source} is missing from the test output" };
            string? cc = FindOnPath("cc") ?? FindOnPath("gcc") ?? FindOnPath("clang");
            if (cc is null) return new() { SkipReason = "no C compiler (cc, gcc or clang) on PATH: cannot compile conformance/cuda_values.c" };
            string? cudaInclude = CudaIncludeDirs().FirstOrDefault(d => File.Exists(Path.Combine(d, "cuda_runtime_api.h")) && File.Exists(Path.Combine(d, "cublas_api.h")));
            if (cudaInclude is null)
                return new() { SkipReason = "the CUDA headers (cuda_runtime_api.h and cublas_api.h) were not found in " + string.Join(", ", CudaIncludeDirs()) + "; on Debian: apt-get install nvidia-cuda-toolkit" };
            string? cudnnInclude = CudnnIncludeDirs().FirstOrDefault(d => File.Exists(Path.Combine(d, "cudnn.h")));

            string dir = Directory.CreateTempSubdirectory("dt-conformance-").FullName;
            try
            {
                string exe = Path.Combine(dir, "cuda_values");
                var args = new List<string> { "-I" + cudaInclude };
                if (cudnnInclude is not null)
                {
                    args.AddRange(["-DDT_WITH_CUDNN", "-I" + cudnnInclude]);
                    // cudnn.h includes cuda_runtime_api.h; a pip layout keeps it in nvidia/cuda_runtime/include.
                    string pipRuntime = Path.GetFullPath(Path.Combine(cudnnInclude, "..", "..", "cuda_runtime", "include"));
                    if (Directory.Exists(pipRuntime)) args.Add("-I" + pipRuntime);
                }
                args.AddRange([source, "-o", exe]);
                var (rc, output) = Run(cc, args);
                // A compile failure with the headers present is a real failure, not a skip.
                if (rc != 0) throw new InvalidOperationException($"{cc} {string.Join(' ', args)} failed ({rc}):\n{output}");
                (rc, output) = Run(exe, []);
                if (rc != 0) throw new InvalidOperationException($"{exe} exited with {rc}:\n{output}");
                bool hasCudnn = output.Contains("#section=cudnn", StringComparison.Ordinal);
                string note = cudnnInclude is null
                    ? "cudnn.h was not found (searched " + string.Join(", ", CudnnIncludeDirs()) + "): cuDNN values are checked only where its headers are installed, e.g. a GPU machine's pip package site-packages/nvidia/cudnn/include"
                    : output.Split('\n').FirstOrDefault(l => l.StartsWith("#cudnn-skipped=", StringComparison.Ordinal))?[15..] ?? "no cuDNN section printed";
                var v = new HeaderValues { Header = cudaInclude + (cudnnInclude is null ? "" : " and " + cudnnInclude), HasCudnn = hasCudnn, CudnnNote = note };
                v.Parse(output);
                return v;
            }
            finally
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
        }

        private void Parse(string output)
        {
            foreach (string raw in output.Split('\n'))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                int eq = line.LastIndexOf('=');
                string key = line[..eq];
                long value = long.Parse(line[(eq + 1)..], CultureInfo.InvariantCulture);
                if (key.StartsWith("sizeof(", StringComparison.Ordinal)) Sizes[key[7..^1]] = value;
                else if (key.StartsWith("offsetof(", StringComparison.Ordinal))
                {
                    string[] parts = key[9..^1].Split(',');
                    Offsets[(parts[0], parts[1].Trim())] = value;
                }
                else Values[key] = value;
            }
        }
    }

    internal static IEnumerable<string> CudaIncludeDirs()
    {
        if (Environment.GetEnvironmentVariable("CUDA_PATH") is { Length: > 0 } p) yield return Path.Combine(p, "include");
        yield return "/usr/local/cuda/include";
        yield return "/usr/include";
        foreach (string site in NativeLibraryResolver.PythonSitePackages())
        {
            yield return Path.Combine(site, "nvidia", "cu13", "include");
            yield return Path.Combine(site, "nvidia", "cuda_runtime", "include");
        }
    }

    internal static IEnumerable<string> CudnnIncludeDirs()
    {
        foreach (string site in NativeLibraryResolver.PythonSitePackages()) yield return Path.Combine(site, "nvidia", "cudnn", "include");
        if (Environment.GetEnvironmentVariable("CUDA_PATH") is { Length: > 0 } p) yield return Path.Combine(p, "include");
        yield return "/usr/local/cuda/include";
        yield return "/usr/include";
        yield return "/usr/include/x86_64-linux-gnu";
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static (int ExitCode, string Output) Run(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }
}

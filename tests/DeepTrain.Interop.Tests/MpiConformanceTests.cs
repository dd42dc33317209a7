using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace DeepTrain.Interop.Tests;

/// <summary>
/// The MPI bindings against the installed Open MPI: conformance/mpi_values.c is compiled with mpicc against mpi.h and
/// run, and every value it prints is compared by name with the C# — the error classes and thread levels, the constants,
/// <c>MPI_Status</c>'s size and field offsets, the handle types' size, and the exported global behind each predefined
/// handle (found by <c>dladdr</c> of the macro's value), which is what <see cref="MpiHandles"/> looks up.
/// </summary>
public sealed class MpiConformanceTests
{
    private static readonly Lazy<Dictionary<string, string>> Values = new(Build);

    private static Dictionary<string, string> Header()
    {
        if (MpiTools.SkipReason is string why) Assert.Skip(why);
        return Values.Value;
    }

    [Fact]
    public void MpiConstantsMatchTheHeader()
    {
        var h = Header();
        var problems = new List<string>();
        var mine = new List<(string Name, long Value)>();
        foreach (var t in (Type[])[typeof(MpiError), typeof(MpiThreadLevel)])
            foreach (var f in t.GetFields(BindingFlags.Public | BindingFlags.Static))
                mine.Add((f.Name, Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture)));
        foreach (var f in typeof(Mpi).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
            mine.Add((f.Name, Convert.ToInt64(f.GetRawConstantValue(), CultureInfo.InvariantCulture)));
        foreach (var (name, value) in mine)
        {
            if (!h.TryGetValue(name, out string? c)) problems.Add($"{name}: bound in C# but not printed by mpi_values.c");
            else if (long.Parse(c, CultureInfo.InvariantCulture) != value) problems.Add($"{name}: C# {value}, mpi.h {c}");
        }
        Assert.True(mine.Count > 60, $"only {mine.Count} values compared");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void MpiStatusAndHandleSizesMatchTheHeader()
    {
        var h = Header();
        Assert.Equal(h["sizeof(MPI_Status)"], Marshal.SizeOf<MPI_Status>().ToString(CultureInfo.InvariantCulture));
        foreach (string field in (string[])["MPI_SOURCE", "MPI_TAG", "MPI_ERROR", "_cancelled", "_ucount"])
            Assert.Equal(h[$"offsetof(MPI_Status,{field})"], Marshal.OffsetOf<MPI_Status>(field).ToString());
        foreach (var t in (Type[])[typeof(MPI_Comm), typeof(MPI_Datatype), typeof(MPI_Op), typeof(MPI_Errhandler), typeof(MPI_Info), typeof(MPI_Request)])
            Assert.Equal(h[$"sizeof({t.Name})"], Marshal.SizeOf(t).ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void PredefinedHandlesAreTheExportedGlobalsBehindTheMacros()
    {
        var h = Header();
        var problems = new List<string>();
        foreach (var (name, symbol) in MpiHandles.Symbols)
        {
            if (!h.TryGetValue($"symbol({name})", out string? c)) problems.Add($"{name}: not printed by mpi_values.c");
            else if (c != symbol) problems.Add($"{name}: C# looks up {symbol}, mpi.h's macro is the address of {c}");
            else if (MpiHandles.Address(name) == IntPtr.Zero) problems.Add($"{name}: {symbol} resolved to zero");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        // The struct properties read the same addresses.
        Assert.Equal(MpiHandles.Address("MPI_COMM_WORLD"), MpiHandles.MPI_COMM_WORLD.Value);
        Assert.Equal(MpiHandles.Address("MPI_FLOAT"), MpiHandles.MPI_FLOAT.Value);
        Assert.Equal(MpiHandles.Address("MPI_SUM"), MpiHandles.MPI_SUM.Value);
    }

    [Fact]
    public void LibraryVersionWorksAndErrorsAreTypedWithoutInit()
    {
        if (MpiTools.SkipReason is string why) Assert.Skip(why);
        // MPI_Get_library_version may be called before MPI_Init (MPI-3.1 8.1.1); MPI_Error_string may not, and Open MPI 4
        // aborts the process if it is, so a status seen outside init/finalize is typed without the library's text.
        // This process never initialises MPI; the library's own messages are asserted in the two-rank run.
        Assert.StartsWith("Open MPI v", MpiRuntime.LibraryVersion, StringComparison.Ordinal);
        Assert.False(Mpi.IsActive());
        Assert.Equal("MPI_ERR_COMM", Mpi.ErrorName((int)MpiError.MPI_ERR_COMM));
        var e = Assert.Throws<MpiException>(() => Checks.Check((MpiError)(int)MpiError.MPI_ERR_COUNT));
        Assert.Equal(MpiError.MPI_ERR_COUNT, e.Error);
        Assert.Equal("MPI_ERR_COUNT", e.ErrorName);
        Assert.Contains("(MpiError)(int)MpiError.MPI_ERR_COUNT", e.Call, StringComparison.Ordinal);
        Assert.Contains("only between MPI_Init and MPI_Finalize", e.LibraryMessage, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Build()
    {
        string source = Path.Combine(AppContext.BaseDirectory, "conformance", "mpi_values.c");
        Assert.True(File.Exists(source), $"{source} is missing from the test output");
        string dir = Directory.CreateTempSubdirectory("dt-mpi-conformance-").FullName;
        try
        {
            string exe = Path.Combine(dir, "mpi_values");
            var limit = TimeSpan.FromSeconds(60);
            var cc = MpiTools.Run(MpiTools.FindOnPath("mpicc")!, [source, "-o", exe, "-ldl"], null, limit);
            // mpicc and mpi.h are present (SkipReason is null): a failure to compile is a real failure.
            Assert.True(cc.ExitCode == 0, $"mpicc {source} failed ({cc.ExitCode}):\n{cc.StdOut}\n{cc.StdErr}");
            var run = MpiTools.Run(exe, [], null, limit);
            Assert.True(run.ExitCode == 0, $"{exe} exited with {run.ExitCode} (a handle macro that is not an exported global?):\n{run.StdOut}\n{run.StdErr}");
            return run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}

using System.Runtime.InteropServices;
using System.Text;

namespace DeepTrain.Interop;

// Open MPI and NCCL: each one library with one ABI-versioned file name, found on its own (not part of the CUDA set's
// one-major plan: libmpi has nothing to do with CUDA, and libnccl.so.2's name carries no CUDA major). Same rules as the
// rest of the resolver: every attempt goes into the trace, the outcome is cached, nothing throws.
internal static partial class NativeLibraryResolver
{
    /// <summary>Names folders (a path list) searched first for <c>libmpi.so.40</c>.</summary>
    public const string MpiDirVariable = "DEEPTRAIN_MPI_DIR";

    /// <summary>Names folders (a path list) searched first for <c>libnccl.so.2</c>.</summary>
    public const string NcclDirVariable = "DEEPTRAIN_NCCL_DIR";

    /// <summary>
    /// The file tried for <paramref name="library"/> (<see cref="Libraries.Mpi"/> or <see cref="Libraries.Nccl"/>) and the
    /// folders searched, in order; <c>null</c> stands for the system loader's own search.
    /// <para>MPI: <c>libmpi.so.40</c>, the soname of Open MPI 3.0 to 5.x (MPICH's <c>libmpi.so.12</c> is not tried: its
    /// handles are integers, not the exported globals these bindings resolve). Folders: <c>DEEPTRAIN_MPI_DIR</c>, the
    /// system loader (Debian's <c>openmpi-bin</c> puts it in the ld cache), <c>$OPAL_PREFIX/lib</c>, <c>$MPI_HOME/lib</c>,
    /// then the distributions' Open MPI folders.</para>
    /// <para>NCCL: <c>libnccl.so.2</c>. Folders: <c>DEEPTRAIN_NCCL_DIR</c>, the system loader, the CUDA toolkit's
    /// <c>lib64</c>, then NVIDIA's pip wheel folder <c>nvidia/nccl/lib</c> in every site-packages folder found.</para>
    /// </summary>
    /// <param name="library">The logical name.</param>
    /// <returns>The file name and the folders.</returns>
    public static (string File, IReadOnlyList<string?> Folders) DistributedSearch(string library)
    {
        var folders = new List<string?>();
        if (library == Libraries.Mpi)
        {
            folders.AddRange(PathList(Environment.GetEnvironmentVariable(MpiDirVariable)));
            folders.Add(null);
            foreach (string var in (string[])["OPAL_PREFIX", "MPI_HOME", "MPI_ROOT"])
                if (Environment.GetEnvironmentVariable(var) is { Length: > 0 } root) folders.Add(Path.Combine(root, "lib"));
            folders.AddRange(["/usr/lib/x86_64-linux-gnu/openmpi/lib", "/usr/lib/aarch64-linux-gnu/openmpi/lib", "/usr/lib64/openmpi/lib", "/opt/openmpi/lib", "/usr/local/lib"]);
            return ("libmpi.so.40", folders.Distinct().ToArray());
        }
        folders.AddRange(PathList(Environment.GetEnvironmentVariable(NcclDirVariable)));
        folders.Add(null);
        foreach (string var in (string[])["CUDA_PATH", "CUDA_HOME"])
            if (Environment.GetEnvironmentVariable(var) is { Length: > 0 } root) folders.Add(Path.Combine(root, "lib64"));
        folders.Add("/usr/local/cuda/lib64");
        foreach (string site in PythonSitePackages()) folders.Add(Path.Combine(site, "nvidia", "nccl", "lib"));
        return ("libnccl.so.2", folders.Distinct().ToArray());
    }

    private static bool TryLoadDistributed(string library, out IntPtr handle, out string reason)
    {
        handle = IntPtr.Zero;
        string what = library == Libraries.Mpi ? "Open MPI" : "NCCL 2";
        if (!OperatingSystem.IsLinux())
        {
            // Open MPI dropped Windows long ago (MS-MPI's handles are integers), and NCCL is Linux-only.
            reason = $"{what} is bound on Linux only";
            Note(library, "(platform)", false, reason);
            Failed[library] = reason;
            return false;
        }
        int first = Attempts.Count;
        var (file, folders) = DistributedSearch(library);
        foreach (string? dir in folders)
        {
            if (dir is not null && !Directory.Exists(dir)) { Note(library, dir, false, "folder not present"); continue; }
            if (!TryOne(library, dir, file, out handle)) continue;
            string where = dir is null ? file : Path.Combine(dir, file);
            // A libmpi.so.40 that lacks Open MPI's predefined globals cannot be driven by these bindings: say so now
            // rather than fail later on the first handle.
            if (library == Libraries.Mpi && !NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _))
            {
                Note(library, where, false, "loaded, but does not export ompi_mpi_comm_world: not Open MPI");
                handle = IntPtr.Zero;
                continue;
            }
            Loaded[library] = (handle, where);
            reason = where;
            return true;
        }
        var sb = new StringBuilder();
        sb.Append("no ").Append(library).Append(" library could be loaded (").Append(file).Append(", ").Append(what).Append("). Tried:\n");
        for (int i = first; i < Attempts.Count; i++) sb.Append("  ").Append(Attempts[i].ToString()).Append('\n');
        sb.Append(library == Libraries.Mpi
            ? $"Install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or set {MpiDirVariable} to the folder holding libmpi.so.40."
            : $"Install NCCL (pip install nvidia-nccl-cu12, or NVIDIA's libnccl2 package) or set {NcclDirVariable} to the folder holding libnccl.so.2.");
        reason = sb.ToString();
        Failed[library] = reason;
        return false;
    }
}

using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace DeepTrain.Interop;

/// <summary>One attempt the resolver made to find a native library, kept for error messages.</summary>
/// <param name="Library">The logical name (<see cref="Libraries.Cudart"/>, ...).</param>
/// <param name="Candidate">The file or folder tried; a bare file name means "the system loader's search".</param>
/// <param name="Loaded">Whether this attempt produced a handle.</param>
/// <param name="Detail">What happened: "loaded", "not present", or the loader's own error text.</param>
public readonly record struct LoadAttempt(string Library, string Candidate, bool Loaded, string Detail)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Library}: {Candidate}: {Detail}";
}

/// <summary>
/// Maps the logical library names of <see cref="Libraries"/> to files on this machine. Probe order, first hit wins:
/// <list type="number">
/// <item>every folder named by <c>DEEPTRAIN_CUDA_LIB_DIR</c> (a path list);</item>
/// <item>the system loader's own search (<c>LD_LIBRARY_PATH</c>, the ld cache, <c>PATH</c> on Windows);</item>
/// <item><c>$CUDA_PATH/lib64</c>, <c>$CUDA_HOME/lib64</c>, <c>/usr/local/cuda/lib64</c>;</item>
/// <item>NVIDIA's pip wheels in every Python site-packages folder found (<c>DEEPTRAIN_PYTHON_SITE</c> first, then
/// <c>VIRTUAL_ENV</c>, <c>CONDA_PREFIX</c>, <c>PYTHONPATH</c> and the usual prefixes): <c>nvidia/cuda_runtime/lib</c>,
/// <c>nvidia/cublas/lib</c>, <c>nvidia/cudnn/lib</c>, and CUDA 13's <c>nvidia/cu13/lib</c>.</item>
/// </list>
/// In each folder the newest major version is tried first (CUDA 13, 12, 11; cuDNN 9, 8). cuBLAS is loaded only after
/// <c>libcublasLt</c> of the same number loaded from the same place. When cuDNN 9 is loaded from a folder, every
/// <c>libcudnn*.so.9</c> beside it is pre-loaded, because the dispatcher opens its sub-libraries by bare file name.
/// <para>The resolver never throws. Each library is resolved once per process (success or failure is cached), and
/// every attempt is kept in <see cref="Trace"/>. <see cref="Load"/> is the one member that throws, with that trace.</para>
/// </summary>
public static class NativeLibraryResolver
{
    /// <summary>Names a folder (or a path list) searched before anything else.</summary>
    public const string LibDirVariable = "DEEPTRAIN_CUDA_LIB_DIR";

    /// <summary>Names Python site-packages folders (a path list) searched for NVIDIA's pip wheels before any other.</summary>
    public const string PythonSiteVariable = "DEEPTRAIN_PYTHON_SITE";

    private static readonly Lock Gate = new();
    private static readonly List<LoadAttempt> Attempts = [];
    private static readonly Dictionary<string, (IntPtr Handle, string Where)> Loaded = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, string> Failed = new(StringComparer.Ordinal);
    private static int _registered;

    /// <summary>Every attempt made so far, in order.</summary>
    public static IReadOnlyList<LoadAttempt> Trace
    {
        get { lock (Gate) return Attempts.ToArray(); }
    }

    /// <summary>The trace as text, one attempt per line.</summary>
    public static string TraceText
    {
        get
        {
            lock (Gate)
            {
                var sb = new StringBuilder();
                foreach (var a in Attempts) sb.Append("  ").Append(a.ToString()).Append('\n');
                return sb.ToString();
            }
        }
    }

    /// <summary>Installs the resolver for <paramref name="assembly"/>; a second call is a no-op.</summary>
    /// <param name="assembly">The assembly whose <c>[LibraryImport]</c>s use the names of <see cref="Libraries"/>.</param>
    public static void Register(Assembly assembly)
    {
        if (Interlocked.Exchange(ref _registered, 1) != 0) return;
        try { NativeLibrary.SetDllImportResolver(assembly, Resolve); }
        catch (InvalidOperationException) { /* a resolver is already set for this assembly: keep it */ }
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath) =>
        TryLoad(libraryName, out IntPtr handle, out _) ? handle : IntPtr.Zero;

    /// <summary>Finds and loads <paramref name="library"/> (a name from <see cref="Libraries"/>).</summary>
    /// <param name="library">The logical name.</param>
    /// <param name="reason">On success, the file and folder that loaded; otherwise why nothing did, with the trace.</param>
    /// <returns>Whether a library is loaded.</returns>
    public static bool TryLoad(string library, out string reason) => TryLoad(library, out _, out reason);

    /// <summary>Finds and loads <paramref name="library"/>, returning the native handle.</summary>
    /// <param name="library">The logical name.</param>
    /// <param name="handle">The handle from the loader, or zero.</param>
    /// <param name="reason">Where it loaded from, or why nothing loaded (with the trace).</param>
    /// <returns>Whether a library is loaded.</returns>
    public static bool TryLoad(string library, out IntPtr handle, out string reason)
    {
        try
        {
            lock (Gate)
            {
                if (Loaded.TryGetValue(library, out var hit)) { handle = hit.Handle; reason = hit.Where; return true; }
                if (Failed.TryGetValue(library, out var why)) { handle = IntPtr.Zero; reason = why; return false; }
                var names = FileNames(library);
                if (names.Count == 0) { handle = IntPtr.Zero; reason = $"'{library}' is not a library this resolver knows"; return false; }
                // cuDNN's sub-libraries need cuBLAS(Lt) and cudart resolvable by file name: load ours first.
                if (library == Libraries.Cudnn) { TryLoadLocked(Libraries.Cudart, out _); TryLoadLocked(Libraries.Cublas, out _); }
                return TryLoadLocked(library, out handle, out reason);
            }
        }
        catch (Exception e)
        {
            // Never throw from a resolver: a broken environment must surface as a clear "not found".
            handle = IntPtr.Zero;
            reason = $"{library}: resolver failed: {e.GetType().Name}: {e.Message}";
            return false;
        }
    }

    /// <summary>Where <paramref name="library"/> was loaded from, or null if it is not loaded.</summary>
    /// <param name="library">The logical name.</param>
    /// <returns>A path, or a bare file name when the system loader found it.</returns>
    public static string? LoadedFrom(string library)
    {
        lock (Gate) return Loaded.TryGetValue(library, out var hit) ? hit.Where : null;
    }

    /// <summary>Loads <paramref name="library"/> or throws with every attempt listed.</summary>
    /// <param name="library">The logical name.</param>
    /// <returns>The native handle.</returns>
    /// <exception cref="DllNotFoundException">Nothing loaded; the message holds the full trace.</exception>
    public static IntPtr Load(string library) =>
        TryLoad(library, out IntPtr handle, out string reason) ? handle : throw new DllNotFoundException(reason);

    private static bool TryLoadLocked(string library, out string reason) => TryLoadLocked(library, out _, out reason);

    private static bool TryLoadLocked(string library, out IntPtr handle, out string reason)
    {
        if (Loaded.TryGetValue(library, out var hit)) { handle = hit.Handle; reason = hit.Where; return true; }
        if (Failed.TryGetValue(library, out var why)) { handle = IntPtr.Zero; reason = why; return false; }
        int first = Attempts.Count;
        var names = FileNames(library);
        foreach (string? dir in Folders(library))
        {
            if (dir is not null && !Directory.Exists(dir)) { Note(library, dir, false, "folder not present"); continue; }
            foreach (var (needFirst, file) in names)
            {
                if (needFirst is not null && !TryOne(library, dir, needFirst, out _)) continue;
                if (!TryOne(library, dir, file, out handle)) continue;
                string where = dir is null ? file : Path.Combine(dir, file);
                if (library == Libraries.Cudnn && dir is not null && file.EndsWith(".so.9", StringComparison.Ordinal))
                    PreloadCudnnSubLibraries(dir);
                Loaded[library] = (handle, where);
                reason = where;
                return true;
            }
        }
        var sb = new StringBuilder();
        sb.Append("no ").Append(library).Append(" library could be loaded (")
          .Append(string.Join(", ", names.Select(n => n.File))).Append("). Tried:\n");
        for (int i = first; i < Attempts.Count; i++) sb.Append("  ").Append(Attempts[i].ToString()).Append('\n');
        sb.Append("Set ").Append(LibDirVariable).Append(" to the folder holding them, or ").Append(PythonSiteVariable)
          .Append(" to a site-packages folder with NVIDIA's pip wheels.");
        reason = sb.ToString();
        Failed[library] = reason;
        handle = IntPtr.Zero;
        return false;
    }

    private static bool TryOne(string library, string? dir, string file, out IntPtr handle)
    {
        handle = IntPtr.Zero;
        string candidate = dir is null ? file : Path.Combine(dir, file);
        if (dir is not null && !File.Exists(candidate)) { Note(library, candidate, false, "not present"); return false; }
        try
        {
            handle = NativeLibrary.Load(candidate);
            Note(library, candidate, true, "loaded");
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or ArgumentException)
        {
            Note(library, candidate, false, FirstLine(e.Message));
            return false;
        }
    }

    private static void Note(string library, string candidate, bool loaded, string detail) =>
        Attempts.Add(new LoadAttempt(library, candidate, loaded, detail));

    private static string FirstLine(string message)
    {
        // .NET wraps the loader's own error (dlerror) in advice about strace and LD_DEBUG; keep the loader's part.
        message = message.Replace(Environment.NewLine, " ").Trim();
        const string marker = "environment variable:";
        int at = message.LastIndexOf(marker, StringComparison.Ordinal);
        if (at >= 0) message = message[(at + marker.Length)..].Trim();
        return message.Length > 400 ? message[..400] + "..." : message;
    }

    // cuDNN 9's dispatcher dlopens libcudnn_graph/_ops/_cnn/_adv/_engines_*/_heuristic by bare name; when it
    // came from a folder the loader does not search (a pip wheel), pre-load them so those opens find them loaded.
    // Their own dependencies on each other decide the order, so retry until a pass makes no progress.
    private static void PreloadCudnnSubLibraries(string dir)
    {
        List<string> pending;
        try
        {
            pending = Directory.EnumerateFiles(dir, "libcudnn_*.so.9")
                .Select(Path.GetFileName).OfType<string>()
                .OrderBy(n => n.StartsWith("libcudnn_graph", StringComparison.Ordinal) ? 0 : 1)
                .ThenBy(n => n, StringComparer.Ordinal).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Note(Libraries.Cudnn, dir, false, "cannot list sub-libraries: " + e.Message);
            return;
        }
        var errors = new Dictionary<string, string>();
        bool progress = true;
        while (pending.Count > 0 && progress)
        {
            progress = false;
            for (int i = pending.Count - 1; i >= 0; i--)
            {
                string path = Path.Combine(dir, pending[i]);
                try { NativeLibrary.Load(path); pending.RemoveAt(i); progress = true; Note(Libraries.Cudnn, path, true, "pre-loaded sub-library"); }
                catch (Exception e) when (e is DllNotFoundException or BadImageFormatException) { errors[pending[i]] = FirstLine(e.Message); }
            }
        }
        foreach (string name in pending) Note(Libraries.Cudnn, Path.Combine(dir, name), false, "sub-library not pre-loaded: " + errors[name]);
    }

    /// <summary>Candidate file names in probe order; each may need another file (cublasLt) loaded first.</summary>
    private static IReadOnlyList<(string? NeedFirst, string File)> FileNames(string library)
    {
        bool win = OperatingSystem.IsWindows();
        return library switch
        {
            Libraries.Cudart => win
                ? [(null, "cudart64_13.dll"), (null, "cudart64_12.dll"), (null, "cudart64_110.dll")]
                : [(null, "libcudart.so.13"), (null, "libcudart.so.12"), (null, "libcudart.so.11.0")],
            Libraries.Cublas => win
                ? [("cublasLt64_13.dll", "cublas64_13.dll"), ("cublasLt64_12.dll", "cublas64_12.dll"), ("cublasLt64_11.dll", "cublas64_11.dll")]
                : [("libcublasLt.so.13", "libcublas.so.13"), ("libcublasLt.so.12", "libcublas.so.12"), ("libcublasLt.so.11", "libcublas.so.11")],
            Libraries.Cudnn => win
                ? [(null, "cudnn64_9.dll"), (null, "cudnn64_8.dll")]
                : [(null, "libcudnn.so.9"), (null, "libcudnn.so.8")],
            Libraries.Kernels => win ? [(null, "deeptrain_kernels.dll")] : [(null, "libdeeptrain_kernels.so")],
            _ => [],
        };
    }

    /// <summary>Folders in probe order; null stands for the system loader's own search.</summary>
    private static IEnumerable<string?> Folders(string library)
    {
        if (library == Libraries.Kernels)
        {
            foreach (string? dir in KernelFolders()) yield return dir;
            yield break;
        }
        foreach (string dir in PathList(Environment.GetEnvironmentVariable(LibDirVariable))) yield return dir;
        yield return null;
        foreach (string var in (string[])["CUDA_PATH", "CUDA_HOME"])
        {
            string? root = Environment.GetEnvironmentVariable(var);
            if (string.IsNullOrEmpty(root)) continue;
            yield return OperatingSystem.IsWindows() ? Path.Combine(root, "bin") : Path.Combine(root, "lib64");
        }
        if (!OperatingSystem.IsWindows()) yield return "/usr/local/cuda/lib64";
        string wheel = library switch { Libraries.Cudart => "cuda_runtime", Libraries.Cublas => "cublas", _ => "cudnn" };
        string libDir = OperatingSystem.IsWindows() ? "bin" : "lib";
        foreach (string site in PythonSitePackages())
        {
            string nvidia = Path.Combine(site, "nvidia");
            yield return Path.Combine(nvidia, wheel, libDir);
            yield return Path.Combine(nvidia, "cu13", libDir);
        }
    }

    /// <summary>Where our own kernel library may be: the variable, beside the app, the app's runtimes/&lt;rid&gt;/native, a bundle's lib/, a source tree's native/build.</summary>
    private static IEnumerable<string?> KernelFolders()
    {
        foreach (string dir in PathList(Environment.GetEnvironmentVariable(KernelsDirVariable))) yield return dir;
        string app = AppContext.BaseDirectory;
        yield return app;
        // An app referencing the DeepTrain package without a RID gets the package's copy in runtimes/<rid>/native/ of its
        // output, which dlopen does not search: the portable RID (linux-x64), then the runtime's own where it differs.
        string os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        string portable = $"{os}-{RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()}";
        yield return Path.Combine(app, "runtimes", portable, "native");
        if (RuntimeInformation.RuntimeIdentifier != portable) yield return Path.Combine(app, "runtimes", RuntimeInformation.RuntimeIdentifier, "native");
        for (var d = new DirectoryInfo(app); d is not null; d = d.Parent)
        {
            string lib = Path.Combine(d.FullName, "lib", OperatingSystem.IsWindows() ? "deeptrain_kernels.dll" : "libdeeptrain_kernels.so");
            if (File.Exists(lib)) { yield return Path.GetDirectoryName(lib); break; }
            string build = Path.Combine(d.FullName, "native", "build");
            if (Directory.Exists(build)) { yield return build; break; }
        }
        yield return null;
    }

    /// <summary>Environment variable naming the folder of <c>libdeeptrain_kernels.so</c>, searched first.</summary>
    public const string KernelsDirVariable = "DEEPTRAIN_KERNELS_DIR";

    /// <summary>
    /// Python site-packages folders that hold an <c>nvidia</c> folder (where NVIDIA's wheels unpack), from
    /// <c>DEEPTRAIN_PYTHON_SITE</c>, <c>VIRTUAL_ENV</c>, <c>CONDA_PREFIX</c>, <c>PYTHONPATH</c> and the usual install prefixes.
    /// </summary>
    /// <returns>Existing folders, each once, in search order.</returns>
    public static IReadOnlyList<string> PythonSitePackages()
    {
        var found = new List<string>();
        void Add(string dir)
        {
            try
            {
                string full = Path.GetFullPath(dir);
                if (!found.Contains(full) && Directory.Exists(Path.Combine(full, "nvidia"))) found.Add(full);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException) { }
        }
        foreach (string d in PathList(Environment.GetEnvironmentVariable(PythonSiteVariable))) Add(d);
        foreach (string d in PathList(Environment.GetEnvironmentVariable("PYTHONPATH"))) Add(d);

        var prefixes = new List<string>();
        foreach (string var in (string[])["VIRTUAL_ENV", "CONDA_PREFIX"])
            if (Environment.GetEnvironmentVariable(var) is { Length: > 0 } p) prefixes.Add(p);
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (OperatingSystem.IsWindows())
        {
            string local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            prefixes.AddRange(Subfolders(Path.Combine(local, "Programs", "Python"), "Python3*"));
            prefixes.AddRange(Subfolders(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData), "Python"), "Python3*"));
            foreach (string p in prefixes) Add(Path.Combine(p, "Lib", "site-packages"));
            return found;
        }
        prefixes.AddRange(["/usr", "/usr/local", "/opt/conda", "/opt/venv", "/venv"]);
        if (home.Length > 0)
        {
            prefixes.AddRange([Path.Combine(home, ".local"), Path.Combine(home, "miniconda3"), Path.Combine(home, "anaconda3"),
                Path.Combine(home, "miniforge3"), Path.Combine(home, ".venv"), Path.Combine(home, "venv")]);
        }
        string pyenv = Environment.GetEnvironmentVariable("PYENV_ROOT") is { Length: > 0 } pr ? pr : Path.Combine(home, ".pyenv");
        prefixes.AddRange(Subfolders(Path.Combine(pyenv, "versions"), "*"));
        prefixes.AddRange(Subfolders("/opt", "*"));
        foreach (string prefix in prefixes)
        {
            foreach (string lib in (string[])["lib", "lib64"])
            {
                foreach (string py in Subfolders(Path.Combine(prefix, lib), "python3*"))
                {
                    Add(Path.Combine(py, "site-packages"));
                    Add(Path.Combine(py, "dist-packages"));
                }
            }
        }
        return found;
    }

    private static IEnumerable<string> Subfolders(string dir, string pattern)
    {
        try { return Directory.Exists(dir) ? Directory.GetDirectories(dir, pattern) : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    private static IEnumerable<string> PathList(string? value) =>
        string.IsNullOrWhiteSpace(value) ? [] : value.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}

using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace DeepTrain.Interop;

/// <summary>One attempt the resolver made to find a native library, kept for error messages.</summary>
/// <param name="Library">The logical name (<see cref="Libraries.Cudart"/>, ...).</param>
/// <param name="Candidate">The file or folder tried; a bare file name means "the system loader's search".</param>
/// <param name="Loaded">Whether this attempt produced a handle.</param>
/// <param name="Detail">What happened: "loaded", "not present", or the loader's own error text.</param>
internal readonly record struct LoadAttempt(string Library, string Candidate, bool Loaded, string Detail)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Library}: {Candidate}: {Detail}";
}

/// <summary>
/// Maps the logical library names of <see cref="Libraries"/> to files on this machine.
/// <para>The CUDA runtime, cuBLAS(Lt), NVRTC and cuDNN are loaded as one set chosen by <see cref="CudaLibrarySelection"/>
/// (see its rules) from, in search order:</para>
/// <list type="number">
/// <item>every folder named by <c>DEEPTRAIN_CUDA_LIB_DIR</c> (a path list), which also pins the set's CUDA major;</item>
/// <item>the system loader's own search (<c>LD_LIBRARY_PATH</c>, the ld cache, <c>PATH</c> on Windows), asked for the
/// chosen major's file names;</item>
/// <item><c>$CUDA_PATH/lib64</c>, <c>$CUDA_HOME/lib64</c>, <c>/usr/local/cuda/lib64</c>;</item>
/// <item>NVIDIA's pip wheels in every Python site-packages folder found (<c>DEEPTRAIN_PYTHON_SITE</c> first, then
/// <c>PYTHONPATH</c>, <c>VIRTUAL_ENV</c>, <c>CONDA_PREFIX</c> and the usual prefixes): <c>nvidia/cuda_runtime/lib</c>,
/// <c>nvidia/cublas/lib</c>, <c>nvidia/cuda_nvrtc/lib</c>, <c>nvidia/cudnn/lib</c>, and CUDA 13's <c>nvidia/cu13/lib</c>.</item>
/// </list>
/// The set is of one CUDA major: majors come from the file names and, for a pip cuDNN, from its
/// <c>nvidia_cudnn_cuNN-*.dist-info</c>; a set that can only be mixed is refused with each file and its major named,
/// unless <c>DEEPTRAIN_CUDA_ALLOW_MIXED=1</c>. cuBLAS is loaded only after <c>libcublasLt</c> of the same number from the
/// same place; NVRTC is loaded with its <c>libnvrtc-builtins</c> before cuDNN (cuDNN 9 dlopens both by file name to compile
/// engines at run time), and its absence is traced, not fatal. When cuDNN 9 is loaded from a folder, every
/// <c>libcudnn*.so.9</c> beside it is pre-loaded, because the dispatcher opens its sub-libraries by bare file name.
/// <para>DeepTrain's kernel library (<see cref="Libraries.Kernels"/>) is searched on its own: <c>DEEPTRAIN_KERNELS_DIR</c>,
/// beside the application, a bundle's <c>lib/</c>, a source tree's <c>native/build</c>, then the system loader.</para>
/// <para>The resolver never throws. The plan is made once, each library is resolved once per process (success or failure
/// is cached), and every attempt is kept in <see cref="Trace"/>. <see cref="Load"/> is the one member that throws, with
/// that trace.</para>
/// </summary>
internal static partial class NativeLibraryResolver
{
    /// <summary>Names a folder (or a path list) searched before anything else.</summary>
    public const string LibDirVariable = "DEEPTRAIN_CUDA_LIB_DIR";

    /// <summary>Names Python site-packages folders (a path list) searched for NVIDIA's pip wheels before any other.</summary>
    public const string PythonSiteVariable = "DEEPTRAIN_PYTHON_SITE";

    private static readonly Lock Gate = new();
    private static readonly List<LoadAttempt> Attempts = [];
    private static readonly Dictionary<string, (IntPtr Handle, string Where)> Loaded = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, string> Failed = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, PlannedFile> LoadedFiles = new(StringComparer.Ordinal);
    private static CudaLibraryPlan? _plan;
    private static int _registered;

    /// <summary>
    /// The set the CUDA libraries are loaded from (made on first use from the environment and the folders found; see
    /// <see cref="CudaLibrarySelection"/>). Never throws: a listing that fails leaves the plan to the system loader.
    /// </summary>
    public static CudaLibraryPlan Plan
    {
        get
        {
            lock (Gate) return EnsurePlan();
        }
    }

    /// <summary>The plan, made on first use; its rule and notes go into the trace once, so a failure's text shows them.</summary>
    private static CudaLibraryPlan EnsurePlan()
    {
        if (_plan is not null) return _plan;
        _plan = MakePlan();
        Note(SelectionTraceName, "(selection)", _plan.Error is null, _plan.Rule);
        foreach (string note in _plan.Notes) Note(SelectionTraceName, "(selection)", true, note);
        if (_plan.Error is not null) Note(SelectionTraceName, "(selection)", false, _plan.Error.ReplaceLineEndings(" "));
        return _plan;
    }

    /// <summary>The <see cref="LoadAttempt.Library"/> of the trace entries that record the set's choice.</summary>
    public const string SelectionTraceName = "cuda set";

    private static CudaLibraryPlan MakePlan()
    {
        try { return MakePlanCore(); }
        catch (Exception e)
        {
            // Never throw from a resolver: an unreadable environment leaves the choice to the system loader.
            var plan = CudaLibrarySelection.Select([new(CudaLibrarySelection.FolderKind.SystemLoader, null, [])], AllowMixed, OperatingSystem.IsWindows());
            return plan with { Notes = [.. plan.Notes, $"listing the candidate folders failed ({e.GetType().Name}: {e.Message}); only the system loader was asked"] };
        }
    }

    private static CudaLibraryPlan MakePlanCore()
    {
        bool win = OperatingSystem.IsWindows();
        var toolkits = new List<string>();
        foreach (string var in (string[])["CUDA_PATH", "CUDA_HOME"])
            if (Environment.GetEnvironmentVariable(var) is { Length: > 0 } root) toolkits.Add(Path.Combine(root, win ? "bin" : "lib64"));
        if (!win) toolkits.Add("/usr/local/cuda/lib64");
        var folders = CudaLibrarySelection.Scan(PathList(Environment.GetEnvironmentVariable(LibDirVariable)), toolkits.Distinct(), PythonSitePackages(), win);
        return CudaLibrarySelection.Select(folders, AllowMixed, win);
    }

    /// <summary>Whether <see cref="CudaLibrarySelection.AllowMixedVariable"/> is set to 1 (or true).</summary>
    public static bool AllowMixed =>
        Environment.GetEnvironmentVariable(CudaLibrarySelection.AllowMixedVariable) is string v && (v.Trim() == "1" || v.Trim().Equals("true", StringComparison.OrdinalIgnoreCase));

    /// <summary>The planned file each CUDA library was loaded from (in load order), with its CUDA major and how it was learnt.</summary>
    public static IReadOnlyList<PlannedFile> LoadedSet
    {
        get
        {
            lock (Gate) return CudaLibrarySelection.PlannedLibraries.Where(LoadedFiles.ContainsKey).Select(l => LoadedFiles[l]).ToArray();
        }
    }

    /// <summary>NVRTC's state in words: the file (and builtins) pre-loaded, or why there is none. Loads nothing.</summary>
    public static string NvrtcState
    {
        get
        {
            lock (Gate)
            {
                if (LoadedFiles.TryGetValue(Libraries.Nvrtc, out var f))
                {
                    var builtins = Attempts.Where(a => a.Library == Libraries.Nvrtc && a.Loaded && a.Detail.StartsWith("pre-loaded builtins", StringComparison.Ordinal))
                        .Select(a => Path.GetFileName(a.Candidate)).ToArray();
                    return $"{f.Path} ({f.MajorText}); builtins {(builtins.Length > 0 ? string.Join(", ", builtins) : "not pre-loaded (NVRTC finds them itself or fails to compile)")}";
                }
                if (Failed.ContainsKey(Libraries.Nvrtc))
                    return "not found (cuDNN's run-time compiled engines will fail): " + string.Join("; ",
                        Attempts.Where(a => a.Library == Libraries.Nvrtc).Select(a => $"{a.Candidate}: {a.Detail}"));
                return "not loaded yet";
            }
        }
    }

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
                if (!Libraries.All.Contains(library)) { handle = IntPtr.Zero; reason = $"'{library}' is not a library this resolver knows"; return false; }
                // cuDNN's sub-libraries need cuBLAS(Lt) and cudart resolvable by file name, and its run-time compiled engines
                // dlopen NVRTC by name: load the set's files first, so those opens find them already loaded.
                if (library == Libraries.Cudnn)
                {
                    TryLoadLocked(Libraries.Cudart, out _);
                    TryLoadLocked(Libraries.Cublas, out _);
                    TryLoadLocked(Libraries.Nvrtc, out _);
                }
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

    /// <summary>What was loaded that bears on a cuDNN sub-library or compilation failure (for <see cref="CudnnFailures.Explain"/>):
    /// the dispatcher, the sub-library pre-loads, the <c>libcudnn*</c> files mapped into the process, NVRTC's state.</summary>
    /// <returns>The state; never throws.</returns>
    public static CudnnFailures.LoadState CudnnLoadState()
    {
        string nvrtc = NvrtcState;
        string? dispatcher;
        LoadAttempt[] subs;
        lock (Gate)
        {
            dispatcher = Loaded.TryGetValue(Libraries.Cudnn, out var hit) ? hit.Where : null;
            subs = Attempts.Where(a => a.Library == Libraries.Cudnn && a.Detail.Contains("sub-librar", StringComparison.Ordinal)).ToArray();
        }
        return new CudnnFailures.LoadState(dispatcher, subs, MappedFiles("libcudnn"), nvrtc);
    }

    /// <summary>Full paths of the mapped files whose name starts with <paramref name="prefix"/> (Linux; empty elsewhere).</summary>
    private static string[] MappedFiles(string prefix)
    {
        if (!OperatingSystem.IsLinux()) return [];
        try
        {
            return File.ReadLines("/proc/self/maps")
                .Select(line => line.IndexOf('/') is int at and >= 0 ? line[at..].Trim() : "")
                .Where(path => path.Length > 0 && Path.GetFileName(path).StartsWith(prefix, StringComparison.Ordinal))
                .Distinct(StringComparer.Ordinal).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
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
        return library switch
        {
            Libraries.Kernels => TryLoadKernels(out handle, out reason),
            Libraries.Mpi or Libraries.Nccl => TryLoadDistributed(library, out handle, out reason),   // NativeLibraryResolver.Distributed.cs
            _ => TryLoadPlanned(library, out handle, out reason),
        };
    }

    /// <summary>Follows the plan's attempts for one of the CUDA libraries; refuses all of them when the plan is a refused mix.</summary>
    private static bool TryLoadPlanned(string library, out IntPtr handle, out string reason)
    {
        handle = IntPtr.Zero;
        var plan = EnsurePlan();
        if (plan.Error is string mixed)
        {
            Note(library, "(selection)", false, "not loaded: the CUDA libraries found form no one-major set");
            reason = mixed;
            Failed[library] = reason;
            return false;
        }
        int first = Attempts.Count;
        var attempts = plan.Attempts.TryGetValue(library, out var a) ? a : [];
        var folderMissingNoted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var planned in attempts)
        {
            string? dir = planned.Folder;
            if (dir is not null && !Directory.Exists(dir))
            {
                if (folderMissingNoted.Add(dir)) Note(library, dir, false, "folder not present");
                continue;
            }
            if (planned.NeedFirst is not null && !TryOne(library, dir, planned.NeedFirst, out _)) continue;
            if (!TryOne(library, dir, planned.File, out handle)) continue;
            if (library == Libraries.Cudnn && dir is not null && planned.File.EndsWith(".so.9", StringComparison.Ordinal))
                PreloadCudnnSubLibraries(dir);
            if (dir is not null)
                foreach (string companion in planned.Companions) PreloadCompanion(library, Path.Combine(dir, companion));
            Loaded[library] = (handle, planned.Path);
            LoadedFiles[library] = planned;
            reason = planned.Path;
            return true;
        }
        var sb = new StringBuilder();
        var names = CudaLibrarySelection.Names(library, OperatingSystem.IsWindows()).Select(n => n.File);
        sb.Append("no ").Append(library).Append(" library could be loaded (").Append(string.Join(", ", names)).Append(')');
        if (plan.CudaMajor is int m)
            sb.Append("; the set is CUDA ").Append(m).Append(" (").Append(plan.Rule).Append("), so only CUDA ").Append(m)
              .Append("'s files were tried");
        sb.Append(". Tried:\n");
        for (int i = first; i < Attempts.Count; i++) sb.Append("  ").Append(Attempts[i].ToString()).Append('\n');
        if (attempts.Count == 0) sb.Append("  (nothing: no candidate file in the plan)\n");
        sb.Append("Set ").Append(LibDirVariable).Append(" to the folder holding them, or ").Append(PythonSiteVariable)
          .Append(" to a site-packages folder with NVIDIA's pip wheels");
        if (plan.CudaMajor is not null && !AllowMixed) sb.Append(", or ").Append(CudaLibrarySelection.AllowMixedVariable).Append("=1 to accept another CUDA major");
        sb.Append('.');
        reason = sb.ToString();
        Failed[library] = reason;
        return false;
    }

    private static bool TryLoadKernels(out IntPtr handle, out string reason)
    {
        int first = Attempts.Count;
        string file = OperatingSystem.IsWindows() ? "deeptrain_kernels.dll" : "libdeeptrain_kernels.so";
        foreach (string? dir in KernelFolders())
        {
            if (dir is not null && !Directory.Exists(dir)) { Note(Libraries.Kernels, dir, false, "folder not present"); continue; }
            if (!TryOne(Libraries.Kernels, dir, file, out handle)) continue;
            string where = dir is null ? file : Path.Combine(dir, file);
            Loaded[Libraries.Kernels] = (handle, where);
            reason = where;
            return true;
        }
        var sb = new StringBuilder();
        sb.Append("no ").Append(Libraries.Kernels).Append(" library could be loaded (").Append(file).Append("). Tried:\n");
        for (int i = first; i < Attempts.Count; i++) sb.Append("  ").Append(Attempts[i].ToString()).Append('\n');
        sb.Append("Set ").Append(KernelsDirVariable).Append(" to the folder holding it.");
        // A kernel library built on a newer distribution fails here with the loader's "GLIBC_2.34 not found": say it in words.
        if (Glibc.KernelLoadHint(sb.ToString(), Glibc.HostVersion()) is string hint) sb.Append(' ').Append(hint);
        reason = sb.ToString();
        Failed[Libraries.Kernels] = reason;
        handle = IntPtr.Zero;
        return false;
    }

    private static void PreloadCompanion(string library, string path)
    {
        try { NativeLibrary.Load(path); Note(library, path, true, "pre-loaded builtins"); }
        catch (Exception e) when (e is DllNotFoundException or BadImageFormatException or ArgumentException)
        {
            Note(library, path, false, "builtins not pre-loaded: " + FirstLine(e.Message));
        }
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

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DeepTrain.Interop;

/// <summary>One folder the selection may take libraries from, with the file names it holds (nothing is opened).</summary>
/// <param name="Kind">Where the folder came from.</param>
/// <param name="Path">The folder; null for <see cref="CudaLibrarySelection.FolderKind.SystemLoader"/>.</param>
/// <param name="Files">The file names in it (empty for the system loader, whose contents cannot be listed).</param>
internal sealed record CudaLibraryFolder(CudaLibrarySelection.FolderKind Kind, string? Path, IReadOnlyList<string> Files)
{
    /// <summary>The CUDA major the cuDNN in this folder was built for, when a pip dist-info says it; null when unknown.</summary>
    public int? CudnnCudaMajor { get; init; }

    /// <summary>How <see cref="CudnnCudaMajor"/> was learnt (the dist-info's name), or why it is unknown.</summary>
    public string CudnnMajorSource { get; init; } = "unknown until loaded (cudnnGetCudartVersion)";

    /// <summary>The folder's place in the search order; the wheel folders of one site-packages share one (a site is one
    /// Python environment, whose wheels belong together).</summary>
    public int Position { get; init; }
}

/// <summary>One file the loader will try, in plan order.</summary>
/// <param name="Library">The logical name (<see cref="Libraries"/>).</param>
/// <param name="Folder">The folder, or null for "ask the system loader by file name".</param>
/// <param name="File">The file name.</param>
/// <param name="CudaMajor">The CUDA major the file belongs to, or null when its name does not tell (cuDNN without a dist-info).</param>
/// <param name="MajorSource">How <paramref name="CudaMajor"/> was learnt: "file name", a dist-info's name, or why it is unknown.</param>
internal readonly record struct PlannedFile(string Library, string? Folder, string File, int? CudaMajor, string MajorSource)
{
    /// <summary>A file of the same folder that must load first (<c>libcublasLt.so.N</c> for <c>libcublas.so.N</c>), or null.</summary>
    public string? NeedFirst { get; init; }

    /// <summary>Files of the same folder pre-loaded after this one (NVRTC's <c>libnvrtc-builtins.so.N.M</c>).</summary>
    public IReadOnlyList<string> Companions { get; init; } = [];

    /// <summary>The folder and file, or the bare file name for the system loader.</summary>
    public string Path => Folder is null ? File : System.IO.Path.Combine(Folder, File);

    /// <summary>"CUDA 12 (file name)" or "CUDA major unknown (...)".</summary>
    public string MajorText => CudaMajor is int m ? $"CUDA {m}, from {MajorSource}" : $"CUDA major {MajorSource}";
}

/// <summary>What the loader will try for each library, all of one CUDA major unless the user allowed a mix.</summary>
/// <param name="CudaMajor">The set's CUDA major, or null when nothing listed told one (the system loader alone decides).</param>
/// <param name="Rule">Why this major: which rule of <see cref="CudaLibrarySelection.Select"/> chose it, in words.</param>
/// <param name="Attempts">Per library (<see cref="Libraries.Cudart"/>, <see cref="Libraries.Cublas"/>, <see cref="Libraries.Nvrtc"/>,
/// <see cref="Libraries.Cudnn"/>), the files to try in order; the first that loads is used.</param>
/// <param name="Error">Set when the listed libraries form no one-major set and no mix was allowed: each file and its CUDA major,
/// and what to do. The loader then loads none of the four.</param>
/// <param name="Notes">Things worth knowing that are not errors (an NVRTC of another major left out, a mix allowed).</param>
internal sealed record CudaLibraryPlan(int? CudaMajor, string Rule, IReadOnlyDictionary<string, IReadOnlyList<PlannedFile>> Attempts,
    string? Error, IReadOnlyList<string> Notes);

/// <summary>
/// Chooses one consistent set of CUDA libraries — the runtime, cuBLAS(Lt), NVRTC and cuDNN — from a listing of candidate
/// folders, without loading anything. <see cref="Scan"/> lists the folders; <see cref="Select"/> is a pure function of
/// that listing, so tests build fake pip trees (empty files named like the real ones) and check the plan.
/// <para>Why: PyTorch's pip wheels put each CUDA component in its own folder (<c>nvidia/cuda_runtime/lib</c>,
/// <c>nvidia/cublas/lib</c>, <c>nvidia/cuda_nvrtc/lib</c>, <c>nvidia/cudnn/lib</c>; CUDA 13: <c>nvidia/cu13/lib</c> plus
/// <c>nvidia/cudnn/lib</c>), and a machine can hold several CUDA majors at once. Taking the newest file of each library
/// wherever it lies can pair a CUDA 13 cuBLAS with a cuDNN built for CUDA 12, whose engines then load CUDA 12's
/// cuBLAS beside it, or never find the NVRTC they compile with.</para>
/// <para>The rules, in order:</para>
/// <list type="number">
/// <item>A CUDA library's major is read from its file name (<c>libcudart.so.12</c>, <c>libcublas.so.13</c>,
/// <c>libnvrtc.so.12</c>, <c>libcudart.so.11.0</c>). cuDNN's name carries only cuDNN's major, so for a pip cuDNN the
/// <c>nvidia_cudnn_cuNN-*.dist-info</c> beside the <c>nvidia</c> folder tells it; elsewhere it is unknown and fits
/// any set. After loading, <c>cudnnGetCudartVersion</c>/<c>cublasGetCudartVersion</c> (<see cref="CudaAvailability"/>)
/// remain the final word.</item>
/// <item>Folders named by <c>DEEPTRAIN_CUDA_LIB_DIR</c> are searched first and pin the major: the newest major of which
/// they hold a complete set, else of the runtime they hold (else cuBLAS, else NVRTC). What they lack is taken from the
/// other places in that major. A forced folder is not exempt from the one-major rule.</item>
/// <item>Otherwise the major is that of a complete set — the runtime, cuBLAS with its cuBLASLt, and a cuDNN built for that
/// major (or of unknown major) — namely the one the search order completes first (a site-packages folder counts as one
/// place: <c>DEEPTRAIN_PYTHON_SITE</c>'s environment wins over another Python's), then one that also has NVRTC, then
/// the newest. When no major is complete, the runtime's major decides (else cuBLAS's, NVRTC's, cuDNN's).</item>
/// <item>Each library's attempts, in search order (forced folders, the system loader, toolkit folders, pip folders), are
/// the listed files of that major; the system loader, which cannot be listed, is asked for that major's file names only.</item>
/// <item>When the runtime, cuBLAS or cuDNN exists only in another major, the set is mixed: <see cref="CudaLibraryPlan.Error"/>
/// names each library's file and major, unless <c>DEEPTRAIN_CUDA_ALLOW_MIXED=1</c>, which appends the other majors' files
/// (and file names for the system loader) after the chosen major's. NVRTC of another major is never loaded (cuDNN opens
/// its own major's <c>libnvrtc.so.N</c> by name), and its absence is a note, not an error: only the engines cuDNN
/// compiles at run time need it.</item>
/// <item>When nothing listed tells a major (no toolkit folder, no wheels: e.g. Debian's packages in the ld cache), every
/// library is asked of every place newest major first, as before; the post-load check is then the only consistency check.</item>
/// </list>
/// </summary>
internal static partial class CudaLibrarySelection
{
    /// <summary>Where a folder of candidate CUDA libraries came from; the order of the members is the search order
    /// (nested: the bindings' top-level enums are C enums, which the conformance tests compare with the headers).</summary>
    public enum FolderKind
    {
        /// <summary>A folder named by <c>DEEPTRAIN_CUDA_LIB_DIR</c>.</summary>
        Forced,
        /// <summary>The system loader's own search (<c>LD_LIBRARY_PATH</c>, the ld cache): it cannot be listed, only asked by file name.</summary>
        SystemLoader,
        /// <summary>A CUDA toolkit's library folder (<c>$CUDA_PATH/lib64</c>, <c>$CUDA_HOME/lib64</c>, <c>/usr/local/cuda/lib64</c>).</summary>
        Toolkit,
        /// <summary>A folder of NVIDIA's pip wheels under a site-packages folder (<c>nvidia/&lt;wheel&gt;/lib</c>).</summary>
        Pip,
    }

    /// <summary>Set to <c>1</c> to load a set whose libraries come from different CUDA majors (at your own risk).</summary>
    public const string AllowMixedVariable = "DEEPTRAIN_CUDA_ALLOW_MIXED";

    /// <summary>The four libraries the plan covers, in load order (cuDNN's engines need the others loaded first).</summary>
    public static IReadOnlyList<string> PlannedLibraries { get; } = [Libraries.Cudart, Libraries.Cublas, Libraries.Nvrtc, Libraries.Cudnn];

    /// <summary>A file name the resolver knows for <paramref name="Library"/>, newest first.</summary>
    /// <param name="Library">The logical name.</param>
    /// <param name="File">The versioned file name.</param>
    /// <param name="CudaMajor">The CUDA major its name carries (null for cuDNN, whose name carries cuDNN's).</param>
    /// <param name="NeedFirst">A file that must load first from the same place (cuBLASLt), or null.</param>
    /// <param name="CompanionPrefix">Files starting with this in the same folder are pre-loaded after it (NVRTC's builtins), or null.</param>
    public readonly record struct KnownName(string Library, string File, int? CudaMajor, string? NeedFirst, string? CompanionPrefix);

    /// <summary>The versioned file names of <paramref name="library"/>, newest major first.</summary>
    /// <param name="library">The logical name.</param>
    /// <param name="windows">Windows' DLL names instead of Linux's.</param>
    /// <returns>The names; empty for a library the selection does not cover.</returns>
    public static IReadOnlyList<KnownName> Names(string library, bool windows) => (library, windows) switch
    {
        (Libraries.Cudart, false) => [new(library, "libcudart.so.13", 13, null, null), new(library, "libcudart.so.12", 12, null, null), new(library, "libcudart.so.11.0", 11, null, null)],
        (Libraries.Cudart, true) => [new(library, "cudart64_13.dll", 13, null, null), new(library, "cudart64_12.dll", 12, null, null), new(library, "cudart64_110.dll", 11, null, null)],
        (Libraries.Cublas, false) => [new(library, "libcublas.so.13", 13, "libcublasLt.so.13", null), new(library, "libcublas.so.12", 12, "libcublasLt.so.12", null),
            new(library, "libcublas.so.11", 11, "libcublasLt.so.11", null)],
        (Libraries.Cublas, true) => [new(library, "cublas64_13.dll", 13, "cublasLt64_13.dll", null), new(library, "cublas64_12.dll", 12, "cublasLt64_12.dll", null),
            new(library, "cublas64_11.dll", 11, "cublasLt64_11.dll", null)],
        // CUDA 11's NVRTC kept the soname libnvrtc.so.11.2 for all of 11.x; 12 and 13 use the bare major.
        (Libraries.Nvrtc, false) => [new(library, "libnvrtc.so.13", 13, null, "libnvrtc-builtins.so.13"), new(library, "libnvrtc.so.12", 12, null, "libnvrtc-builtins.so.12"),
            new(library, "libnvrtc.so.11.2", 11, null, "libnvrtc-builtins.so.11")],
        (Libraries.Nvrtc, true) => [new(library, "nvrtc64_130_0.dll", 13, null, "nvrtc-builtins64_13"), new(library, "nvrtc64_120_0.dll", 12, null, "nvrtc-builtins64_12"),
            new(library, "nvrtc64_112_0.dll", 11, null, "nvrtc-builtins64_11")],
        (Libraries.Cudnn, false) => [new(library, "libcudnn.so.9", null, null, null), new(library, "libcudnn.so.8", null, null, null)],
        (Libraries.Cudnn, true) => [new(library, "cudnn64_9.dll", null, null, null), new(library, "cudnn64_8.dll", null, null, null)],
        _ => [],
    };

    /// <summary>
    /// Lists the candidate folders in search order: <paramref name="forced"/>, the system loader, <paramref name="toolkits"/>,
    /// then for each of <paramref name="sites"/> its wheel folders (<c>nvidia/cuda_runtime</c>, <c>cublas</c>, <c>cuda_nvrtc</c>,
    /// <c>cudnn</c>, <c>cu13</c>, each with <c>lib</c> or on Windows <c>bin</c>). Reads directory listings only; a folder
    /// that does not exist or cannot be read is kept with no files, so the plan's folders still show it.
    /// </summary>
    /// <param name="forced">Folders named by <c>DEEPTRAIN_CUDA_LIB_DIR</c>.</param>
    /// <param name="toolkits">CUDA toolkit library folders.</param>
    /// <param name="sites">Python site-packages folders (each holding an <c>nvidia</c> folder).</param>
    /// <param name="windows">Use Windows' folder names.</param>
    /// <returns>The listing <see cref="Select"/> takes.</returns>
    public static IReadOnlyList<CudaLibraryFolder> Scan(IEnumerable<string> forced, IEnumerable<string> toolkits, IEnumerable<string> sites, bool windows)
    {
        var folders = new List<CudaLibraryFolder>();
        int position = 0;
        foreach (string d in forced) folders.Add(new(CudaLibrarySelection.FolderKind.Forced, d, List(d)) { Position = position++ });
        folders.Add(new(CudaLibrarySelection.FolderKind.SystemLoader, null, []) { Position = position++ });
        foreach (string d in toolkits) folders.Add(new(CudaLibrarySelection.FolderKind.Toolkit, d, List(d)) { Position = position++ });
        string lib = windows ? "bin" : "lib";
        foreach (string site in sites)
        {
            string nvidia = System.IO.Path.Combine(site, "nvidia");
            int? cudnnMajor = CudnnCudaMajorOf(ListDirectories(site), out string source);
            foreach (string wheel in (string[])["cuda_runtime", "cublas", "cuda_nvrtc", "cudnn", "cu13"])
            {
                string d = System.IO.Path.Combine(nvidia, wheel, lib);
                var folder = new CudaLibraryFolder(CudaLibrarySelection.FolderKind.Pip, d, List(d)) { Position = position };
                folders.Add(wheel == "cudnn" ? folder with { CudnnCudaMajor = cudnnMajor, CudnnMajorSource = source } : folder);
            }
            position++;
        }
        return folders;
    }

    /// <summary>
    /// The CUDA major a pip cuDNN was built for, from the <c>nvidia_cudnn_cuNN-*.dist-info</c> folder names beside the
    /// <c>nvidia</c> folder (both cuDNN wheels unpack into the same <c>nvidia/cudnn</c>, so two of them leave it unknown).
    /// </summary>
    /// <param name="siteEntries">Names of the entries of the site-packages folder.</param>
    /// <param name="source">The dist-info that told it, or why the major is unknown.</param>
    /// <returns>The CUDA major, or null.</returns>
    public static int? CudnnCudaMajorOf(IEnumerable<string> siteEntries, out string source)
    {
        var found = siteEntries.Select(e => (Name: e, Match: CudnnDistInfo().Match(e))).Where(x => x.Match.Success).ToList();
        var majors = found.Select(x => int.Parse(x.Match.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().ToList();
        if (majors.Count == 1) { source = found[0].Name; return majors[0]; }
        source = found.Count == 0
            ? "unknown until loaded (no nvidia_cudnn_cuNN dist-info; cudnnGetCudartVersion tells after loading)"
            : $"unknown until loaded (both {string.Join(" and ", found.Select(x => x.Name))} are installed; cudnnGetCudartVersion tells after loading)";
        return null;
    }

    [GeneratedRegex(@"^nvidia_cudnn_cu(\d+)-.*\.dist-info$", RegexOptions.CultureInvariant)]
    private static partial Regex CudnnDistInfo();

    /// <summary>Chooses the plan from a listing (see the class's rules). Pure: reads nothing but its arguments.</summary>
    /// <param name="folders">The folders in search order, as <see cref="Scan"/> lists them.</param>
    /// <param name="allowMixed">Whether the user set <see cref="AllowMixedVariable"/>.</param>
    /// <param name="windows">Use Windows' file names.</param>
    /// <returns>The plan; never null, never throws for any listing.</returns>
    public static CudaLibraryPlan Select(IReadOnlyList<CudaLibraryFolder> folders, bool allowMixed, bool windows)
    {
        var listed = PlannedLibraries.ToDictionary(l => l, l => Listed(l, folders, windows));
        var forcedOnly = listed.ToDictionary(kv => kv.Key, kv => kv.Value.Where(c => c.Kind == CudaLibrarySelection.FolderKind.Forced).ToList());

        int? major;
        string rule;
        if (BestMajor(forcedOnly, requireRuntimeLike: true) is int pinned)
        {
            major = pinned;
            rule = $"CUDA {pinned}: pinned by the folders in {NativeLibraryResolver.LibDirVariable}";
        }
        else if (BestMajor(listed, requireRuntimeLike: false) is int best)
        {
            major = best;
            rule = Complete(listed, best)
                ? $"CUDA {best}: the first complete set (runtime, cuBLAS, cuDNN) in search order"
                : $"CUDA {best}: no major has a complete set in the folders found; the runtime's (else cuBLAS's, NVRTC's, cuDNN's) major decides";
        }
        else
        {
            return Legacy(folders, windows);
        }

        var attempts = new Dictionary<string, IReadOnlyList<PlannedFile>>();
        var notes = new List<string>();
        var mixed = new List<string>();
        foreach (string library in PlannedLibraries)
        {
            var fits = listed[library].Where(c => Fits(c.File, major.Value)).ToList();
            var others = listed[library].Where(c => !Fits(c.File, major.Value)).ToList();
            var list = new List<PlannedFile>();
            bool takeOthers = allowMixed && fits.Count == 0 && library != Libraries.Nvrtc;
            foreach (var folder in folders)
            {
                if (folder.Kind == CudaLibrarySelection.FolderKind.SystemLoader)
                {
                    foreach (var n in Names(library, windows).Where(n => n.CudaMajor is null || n.CudaMajor == major || takeOthers))
                        list.Add(new PlannedFile(library, null, n.File, n.CudaMajor, n.CudaMajor is null ? "unknown until loaded (cudnnGetCudartVersion)" : "file name")
                            { NeedFirst = n.NeedFirst });
                    continue;
                }
                list.AddRange(fits.Where(c => ReferenceEquals(c.Folder, folder)).Select(c => c.File));
            }
            if (others.Count > 0 && fits.Count == 0)
            {
                if (library == Libraries.Nvrtc)
                    notes.Add($"NVRTC for CUDA {major} was not found in the folders listed; {string.Join(", ", others.Select(o => $"{o.File.Path} ({o.File.MajorText})"))} " +
                        $"is not used: cuDNN opens its own CUDA major's NVRTC by name. Engines cuDNN compiles at run time fail without it.");
                else if (takeOthers)
                {
                    list.AddRange(others.Select(o => o.File));
                    notes.Add($"{AllowMixedVariable}=1: {Display(library)} is taken from another CUDA major than the set's CUDA {major}: " +
                        string.Join(", ", others.Select(o => $"{o.File.Path} ({o.File.MajorText})")));
                }
                else mixed.Add(library);
            }
            attempts[library] = list;
        }

        string? error = null;
        if (mixed.Count > 0)
        {
            var sb = new StringBuilder();
            sb.Append("the CUDA libraries found belong to different CUDA major versions, and DeepTrain loads one major's set (")
              .Append(rule).Append("):\n");
            foreach (string library in PlannedLibraries)
            {
                var first = listed[library].OrderBy(c => Fits(c.File, major.Value) ? 0 : 1).Select(c => (PlannedFile?)c.File).FirstOrDefault();
                sb.Append("  ").Append(Display(library)).Append(": ")
                  .Append(first is PlannedFile f ? $"{f.Path} ({f.MajorText})" : "none in the folders listed (the system loader would be asked)")
                  .Append(mixed.Contains(library) ? $"  <- no CUDA {major} build found" : "").Append('\n');
            }
            sb.Append("Install one CUDA major's wheels (e.g. nvidia-cudnn-cu").Append(major).Append(" for cuDNN), name one major's folders in ")
              .Append(NativeLibraryResolver.LibDirVariable).Append(", or set ").Append(AllowMixedVariable).Append("=1 to load this mix anyway.");
            error = sb.ToString();
        }
        return new CudaLibraryPlan(major, rule, attempts, error, notes);
    }

    private static string Display(string library) => library switch
    {
        Libraries.Cudart => "CUDA runtime",
        Libraries.Cublas => "cuBLAS",
        Libraries.Nvrtc => "NVRTC",
        Libraries.Cudnn => "cuDNN",
        _ => library,
    };

    private readonly record struct Listing(CudaLibrarySelection.FolderKind Kind, CudaLibraryFolder Folder, PlannedFile File);

    /// <summary>Every listed (folder, file) of <paramref name="library"/>, folders in search order, newest name first in each.</summary>
    private static List<Listing> Listed(string library, IReadOnlyList<CudaLibraryFolder> folders, bool windows)
    {
        var result = new List<Listing>();
        foreach (var folder in folders)
        {
            if (folder.Kind == CudaLibrarySelection.FolderKind.SystemLoader || folder.Path is null) continue;
            var files = new HashSet<string>(folder.Files, StringComparer.Ordinal);
            foreach (var n in Names(library, windows))
            {
                if (!files.Contains(n.File)) continue;
                if (n.NeedFirst is not null && !files.Contains(n.NeedFirst)) continue;   // cuBLAS without its cuBLASLt cannot load
                int? major = library == Libraries.Cudnn ? folder.CudnnCudaMajor : n.CudaMajor;
                string source = library == Libraries.Cudnn ? folder.CudnnMajorSource : "file name";
                var companions = n.CompanionPrefix is string p
                    ? folder.Files.Where(f => f.StartsWith(p, StringComparison.Ordinal)).OrderByDescending(f => f, StringComparer.Ordinal).ToArray()
                    : [];
                result.Add(new Listing(folder.Kind, folder, new PlannedFile(library, folder.Path, n.File, major, source) { NeedFirst = n.NeedFirst, Companions = companions }));
            }
        }
        return result;
    }

    /// <summary>Whether a file belongs in a CUDA <paramref name="major"/> set (cuDNN of unknown major fits any).</summary>
    private static bool Fits(PlannedFile f, int major) => f.CudaMajor is null || f.CudaMajor == major;

    private static bool Has(Dictionary<string, List<Listing>> listed, string library, int major, bool unknownFits) =>
        listed[library].Any(c => c.File.CudaMajor == major || (unknownFits && c.File.CudaMajor is null));

    private static bool Complete(Dictionary<string, List<Listing>> listed, int major) =>
        Has(listed, Libraries.Cudart, major, false) && Has(listed, Libraries.Cublas, major, false) && Has(listed, Libraries.Cudnn, major, true);

    /// <summary>The search position at which a CUDA <paramref name="major"/> set becomes complete: the latest of the first
    /// positions holding its runtime, its cuBLAS and a cuDNN that fits it.</summary>
    private static int CompletedAt(Dictionary<string, List<Listing>> listed, int major)
    {
        int First(string library, bool unknownFits) => listed[library]
            .Where(c => c.File.CudaMajor == major || (unknownFits && c.File.CudaMajor is null)).Select(c => c.Folder.Position).DefaultIfEmpty(int.MaxValue).Min();
        return Math.Max(First(Libraries.Cudart, false), Math.Max(First(Libraries.Cublas, false), First(Libraries.Cudnn, true)));
    }

    /// <summary>
    /// The complete set that the search order reaches first (ties: one with NVRTC, then the newest); else the first known major of the runtime, cuBLAS,
    /// NVRTC, cuDNN in that order; null when no listed file tells a major. <paramref name="requireRuntimeLike"/> leaves
    /// cuDNN out of the fallback (a forced folder holding only cuDNN pins nothing).
    /// </summary>
    private static int? BestMajor(Dictionary<string, List<Listing>> listed, bool requireRuntimeLike)
    {
        var majors = listed.Values.SelectMany(v => v).Select(c => c.File.CudaMajor).OfType<int>().Distinct().OrderDescending().ToList();
        var complete = majors.Where(m => Complete(listed, m))
            .OrderBy(m => CompletedAt(listed, m))                                   // the first place in search order that completes it
            .ThenBy(m => Has(listed, Libraries.Nvrtc, m, false) ? 0 : 1)             // then one with NVRTC
            .ThenByDescending(m => m)                                               // then the newest
            .ToList();
        if (complete.Count > 0) return complete[0];
        string[] order = requireRuntimeLike ? [Libraries.Cudart, Libraries.Cublas, Libraries.Nvrtc] : [Libraries.Cudart, Libraries.Cublas, Libraries.Nvrtc, Libraries.Cudnn];
        foreach (string library in order)
            if (listed[library].Select(c => c.File.CudaMajor).OfType<int>().FirstOrDefault() is int m and > 0) return m;
        return null;
    }

    /// <summary>Nothing listed tells a major: every place, newest name first, as the resolver always did.</summary>
    private static CudaLibraryPlan Legacy(IReadOnlyList<CudaLibraryFolder> folders, bool windows)
    {
        var attempts = new Dictionary<string, IReadOnlyList<PlannedFile>>();
        foreach (string library in PlannedLibraries)
        {
            var list = new List<PlannedFile>();
            foreach (var folder in folders)
            {
                if (folder.Kind == CudaLibrarySelection.FolderKind.SystemLoader)
                {
                    foreach (var n in Names(library, windows))
                        list.Add(new PlannedFile(library, null, n.File, n.CudaMajor, n.CudaMajor is null ? "unknown until loaded (cudnnGetCudartVersion)" : "file name") { NeedFirst = n.NeedFirst });
                    continue;
                }
                list.AddRange(Listed(library, [folder], windows).Select(c => c.File));
            }
            attempts[library] = list;
        }
        return new CudaLibraryPlan(null, "no CUDA major known before loading: each library's newest file the system loader (or a listed folder) has",
            attempts, null, []);
    }

    private static IReadOnlyList<string> List(string dir)
    {
        try { return Directory.Exists(dir) ? Directory.EnumerateFiles(dir).Select(System.IO.Path.GetFileName).OfType<string>().ToArray() : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return []; }
    }

    private static IEnumerable<string> ListDirectories(string dir)
    {
        try { return Directory.Exists(dir) ? Directory.EnumerateDirectories(dir).Select(System.IO.Path.GetFileName).OfType<string>().ToArray() : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return []; }
    }
}

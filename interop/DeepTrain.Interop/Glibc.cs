using System.Globalization;
using System.Runtime.InteropServices;

namespace DeepTrain.Interop;

/// <summary>
/// The host's GNU C library and the oldest one DeepTrain's kernel library loads on. The kernel library is built with
/// Debian 12's toolchain (glibc 2.36); since glibc 2.34 merged libpthread, libdl and librt into libc, a library built
/// there binds <c>pthread_*</c>, <c>dl*</c>, <c>sem_*</c> and <c>shm_open</c> (used by the statically linked CUDA
/// runtime) to their <c>GLIBC_2.34</c> versions, so an older glibc refuses it with "version `GLIBC_2.34' not found".
/// (<c>objdump -T native/build/libdeeptrain_kernels.so</c> built with CUDA 11.8 on Debian 12: GLIBC_2.2.5 up to
/// GLIBC_2.34, the 2.34 ones exactly those.) The managed code and the CUDA libraries have their own, older floors.
/// </summary>
internal static unsafe class Glibc
{
    /// <summary>The oldest glibc the kernel library loads on (Debian 12, Ubuntu 22.04, RHEL 9 and newer have it).</summary>
    public const string KernelLibraryFloor = "2.34";

    /// <summary>The host's glibc version (<c>gnu_get_libc_version</c>), or null on Windows, macOS, musl or when it cannot be read.</summary>
    /// <returns>A version such as "2.36".</returns>
    public static string? HostVersion()
    {
        if (!OperatingSystem.IsLinux()) return null;
        // Looked up by hand rather than [LibraryImport]: on musl there is no libc.so.6, and that must read as "not glibc",
        // never as an exception.
        if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc)) return null;
        if (!NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out IntPtr fn)) return null;
        byte* text = ((delegate* unmanaged<byte*>)fn)();
        return text is null ? null : Marshal.PtrToStringUTF8((IntPtr)text);
    }

    /// <summary>Whether glibc <paramref name="version"/> is older than <paramref name="floor"/>, comparing the numeric parts
    /// ("2.9" &lt; "2.34" &lt; "2.34.1"); false when either cannot be read, so an odd string never blocks anything.</summary>
    /// <param name="version">A version such as "2.31".</param>
    /// <param name="floor">The oldest acceptable version.</param>
    /// <returns>True only when both parse and <paramref name="version"/> is lower.</returns>
    public static bool IsOlder(string? version, string floor)
    {
        if (Parse(version) is not int[] v || Parse(floor) is not int[] f) return false;
        for (int i = 0; i < Math.Max(v.Length, f.Length); i++)
        {
            int a = i < v.Length ? v[i] : 0, b = i < f.Length ? f[i] : 0;
            if (a != b) return a < b;
        }
        return false;
    }

    private static int[]? Parse(string? version)
    {
        if (string.IsNullOrWhiteSpace(version)) return null;
        // Distributions append their own tags ("2.35-0ubuntu3"): the leading dotted numbers are the version.
        string text = version.Trim();
        string core = new string(text.TakeWhile(c => char.IsAsciiDigit(c) || c == '.').ToArray());
        if (core.Length < text.Length && char.IsAsciiLetterOrDigit(text[core.Length])) return null;   // "2.x" is no version
        core = core.Trim('.');
        if (core.Length == 0) return null;
        var parts = core.Split('.');
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out result[i])) return null;
        return result;
    }

    /// <summary>A sentence saying that the host's glibc is older than the kernel library needs, or null when it is not
    /// (or is unknown).</summary>
    /// <param name="hostVersion">The host's glibc version (<see cref="HostVersion"/>), or null.</param>
    /// <returns>The sentence, or null.</returns>
    public static string? FloorProblem(string? hostVersion) => IsOlder(hostVersion, KernelLibraryFloor)
        ? $"this host's glibc {hostVersion} is older than {KernelLibraryFloor}, which DeepTrain's kernel library (libdeeptrain_kernels.so) needs: " +
          $"the GPU backend cannot run here; use a host with glibc {KernelLibraryFloor} or newer (Debian 12, Ubuntu 22.04, RHEL 9), " +
          "or build native/ on this host (./build.sh native)"
        : null;

    /// <summary>What to add to a failed kernel-library load: the floor in words when the loader's error names a GLIBC
    /// version, or when the host's glibc is known to be too old; null otherwise.</summary>
    /// <param name="loaderError">The resolver's failure text (the loader's errors included).</param>
    /// <param name="hostVersion">The host's glibc version, or null when unknown.</param>
    /// <returns>A sentence, or null.</returns>
    public static string? KernelLoadHint(string loaderError, string? hostVersion)
    {
        if (FloorProblem(hostVersion) is string problem) return char.ToUpperInvariant(problem[0]) + problem[1..] + ".";
        if (!loaderError.Contains("GLIBC_", StringComparison.Ordinal)) return null;
        return $"The loader names a glibc version: DeepTrain's kernel library needs glibc {KernelLibraryFloor} or newer" +
            (hostVersion is null ? "" : $" (this host has {hostVersion})") + "; use a newer host or build native/ on this one (./build.sh native).";
    }
}

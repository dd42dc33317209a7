using System.Runtime.InteropServices;

namespace DeepTrain.Checkpoints;

/// <summary>
/// The file operations a checkpoint commit is made of, one call each, so tests can fail the commit between any
/// two of them (fault injection) and check that resume still sees a consistent set. Internal: a seam, not an API.
/// </summary>
internal interface ICheckpointFileSystem
{
    /// <summary>Creates <paramref name="path"/> (it must not exist), writes it, and syncs its data to the disk.</summary>
    void WriteDurably(string path, Action<Stream> write);
    /// <summary>Renames <paramref name="from"/> over <paramref name="to"/> (atomic on one file system).</summary>
    void Rename(string from, string to);
    /// <summary>Syncs the folder's entries (creations, renames) to the disk.</summary>
    void SyncDirectory(string folder);
    /// <summary>Deletes <paramref name="path"/> if it exists.</summary>
    void Delete(string path);
}

/// <summary>
/// The real disk. Syncs are checked: on Linux <c>fsync</c> is called directly and a failure (EIO, ENOSPC, …) throws,
/// because <see cref="FileStream.Flush(bool)"/> may report success for some failed syncs; a folder is synced through
/// its own descriptor, which is what makes a rename durable.
/// </summary>
internal sealed partial class DiskCheckpointFileSystem : ICheckpointFileSystem
{
    /// <summary>The one instance.</summary>
    public static DiskCheckpointFileSystem Instance { get; } = new();

    public void WriteDurably(string path, Action<Stream> write)
    {
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        write(fs);
        fs.Flush(flushToDisk: !OperatingSystem.IsLinux());
        if (OperatingSystem.IsLinux()) Fsync((int)fs.SafeFileHandle.DangerousGetHandle(), path);
    }

    public void Rename(string from, string to) => File.Move(from, to, overwrite: true);

    public void SyncDirectory(string folder)
    {
        if (!OperatingSystem.IsLinux()) return;   // NTFS makes renames durable with the file's own flush; no folder handle to sync
        int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw SyncFailed(folder, "open", Marshal.GetLastPInvokeError());
        try { Fsync(fd, folder); }
        finally { _ = close(fd); }
    }

    public void Delete(string path) => File.Delete(path);

    private static void Fsync(int fd, string path)
    {
        if (fsync(fd) != 0) throw SyncFailed(path, "fsync", Marshal.GetLastPInvokeError());
    }

    private static IOException SyncFailed(string path, string call, int errno)
        => new($"{call} of '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); the data may not have reached the disk");

    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000, O_CLOEXEC = 0x80000;   // Linux x64 and arm64 values

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}

namespace DeepTrain.Memory;

/// <summary>How much host memory is left, from the runtime and, on Linux, the kernel.</summary>
internal static class HostMemory
{
    /// <summary>
    /// min(GC total available memory minus this process's committed GC heap, /proc/meminfo MemAvailable). The GC
    /// figure honours container limits; MemAvailable is what the whole machine can still give without swapping.
    /// </summary>
    public static long AvailableBytes()
    {
        var gc = GC.GetGCMemoryInfo();
        long available = Math.Max(0, gc.TotalAvailableMemoryBytes - gc.TotalCommittedBytes);
        if (MemAvailable() is { } kernel) available = Math.Min(available, kernel);
        return available;
    }

    /// <summary>MemAvailable from <c>/proc/meminfo</c> in bytes, or null where there is no such file or line.</summary>
    internal static long? MemAvailable()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (!line.StartsWith("MemAvailable:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length >= 2 && long.TryParse(parts[1], out long kib) ? kib * 1024 : null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }
}

using System.Runtime.InteropServices;

namespace DeepTrain.Checkpoints;

/// <summary>
/// Safetensors data is little-endian. On a little-endian host (every platform .NET 10 ships for)
/// these are plain copies; elsewhere every element's bytes are reversed.
/// </summary>
internal static class LittleEndian
{
    /// <summary>The elements as little-endian bytes, in a new array.</summary>
    public static byte[] ToBytes<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (!BitConverter.IsLittleEndian) ReverseEach(bytes, Marshal.SizeOf<T>());
        return bytes;
    }

    /// <summary>Little-endian bytes as elements, in a new array.</summary>
    public static T[] FromBytes<T>(ReadOnlySpan<byte> bytes) where T : unmanaged
    {
        var values = MemoryMarshal.Cast<byte, T>(bytes).ToArray();
        if (!BitConverter.IsLittleEndian) ReverseEach(MemoryMarshal.AsBytes(values.AsSpan()), Marshal.SizeOf<T>());
        return values;
    }

    /// <summary>Makes host-order elements of <paramref name="size"/> bytes little-endian, in place.</summary>
    public static void InPlace(Span<byte> bytes, int size)
    {
        if (!BitConverter.IsLittleEndian) ReverseEach(bytes, size);
    }

    private static void ReverseEach(Span<byte> bytes, int size)
    {
        for (int i = 0; i + size <= bytes.Length; i += size) bytes.Slice(i, size).Reverse();
    }
}

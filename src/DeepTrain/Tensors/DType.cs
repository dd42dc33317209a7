namespace DeepTrain.Tensors;

/// <summary>Element type of a tensor's storage.</summary>
public enum DType : byte
{
    /// <summary>IEEE 754 binary32.</summary>
    Float32,
    /// <summary>IEEE 754 binary16 (<see cref="System.Half"/>); compute happens in fp32.</summary>
    Float16,
    /// <summary>bfloat16: the top 16 bits of a binary32; compute happens in fp32.</summary>
    BFloat16,
    /// <summary>Signed 32-bit integer (class labels, indices).</summary>
    Int32,
}

/// <summary>Sizes and names of <see cref="DType"/> values.</summary>
public static class DTypeInfo
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType t) => t switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.Float16 or DType.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The safetensors name of the type ("F32", "F16", "BF16", "I32").</summary>
    public static string SafetensorsName(this DType t) => t switch
    {
        DType.Float32 => "F32",
        DType.Float16 => "F16",
        DType.BFloat16 => "BF16",
        DType.Int32 => "I32",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };
}

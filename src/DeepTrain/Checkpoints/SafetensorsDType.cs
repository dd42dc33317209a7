using DeepTrain.Tensors;

namespace DeepTrain.Checkpoints;

/// <summary>
/// Element type of a tensor in a safetensors file. Members keep the format's own spellings
/// ("F32", "I64", ...) so that grepping a header finds the C#. It is wider than
/// <see cref="DType"/>: PyTorch stores <c>num_batches_tracked</c> as I64, and other tools write F64 and U8.
/// </summary>
public enum SafetensorsDType : byte
{
    /// <summary>IEEE 754 binary64 (torch.float64).</summary>
    F64,
    /// <summary>IEEE 754 binary32 (torch.float32).</summary>
    F32,
    /// <summary>IEEE 754 binary16 (torch.float16).</summary>
    F16,
    /// <summary>bfloat16 (torch.bfloat16).</summary>
    BF16,
    /// <summary>Signed 64-bit integer (torch.int64, e.g. BatchNorm's <c>num_batches_tracked</c>).</summary>
    I64,
    /// <summary>Signed 32-bit integer (torch.int32).</summary>
    I32,
    /// <summary>Unsigned byte (torch.uint8).</summary>
    U8,
}

/// <summary>Sizes, names and conversions of <see cref="SafetensorsDType"/> values.</summary>
public static class SafetensorsDTypeInfo
{
    /// <summary>Bytes per element.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="t"/> is not a defined member.</exception>
    public static int Size(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.F64 or SafetensorsDType.I64 => 8,
        SafetensorsDType.F32 or SafetensorsDType.I32 => 4,
        SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown safetensors dtype"),
    };

    /// <summary>The name the header uses: "F32", "I64", ...</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="t"/> is not a defined member.</exception>
    public static string Name(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.F64 => "F64",
        SafetensorsDType.F32 => "F32",
        SafetensorsDType.F16 => "F16",
        SafetensorsDType.BF16 => "BF16",
        SafetensorsDType.I64 => "I64",
        SafetensorsDType.I32 => "I32",
        SafetensorsDType.U8 => "U8",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown safetensors dtype"),
    };

    /// <summary>Parses a header dtype name; the match is exact (case-sensitive), as in the format.</summary>
    public static bool TryParse(string name, out SafetensorsDType t)
    {
        switch (name)
        {
            case "F64": t = SafetensorsDType.F64; return true;
            case "F32": t = SafetensorsDType.F32; return true;
            case "F16": t = SafetensorsDType.F16; return true;
            case "BF16": t = SafetensorsDType.BF16; return true;
            case "I64": t = SafetensorsDType.I64; return true;
            case "I32": t = SafetensorsDType.I32; return true;
            case "U8": t = SafetensorsDType.U8; return true;
            default: t = default; return false;
        }
    }

    /// <summary>The file type that stores a tensor of element type <paramref name="t"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="t"/> is not a defined member.</exception>
    public static SafetensorsDType ToSafetensors(this DType t) => t switch
    {
        DType.Float32 => SafetensorsDType.F32,
        DType.Float16 => SafetensorsDType.F16,
        DType.BFloat16 => SafetensorsDType.BF16,
        DType.Int32 => SafetensorsDType.I32,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The tensor element type for a file type, or null when DeepTrain has none (F64, I64, U8).</summary>
    public static DType? ToDType(this SafetensorsDType t) => t switch
    {
        SafetensorsDType.F32 => DType.Float32,
        SafetensorsDType.F16 => DType.Float16,
        SafetensorsDType.BF16 => DType.BFloat16,
        SafetensorsDType.I32 => DType.Int32,
        _ => null,
    };
}

using DeepTrain.Tensors;

namespace DeepTrain.Checkpoints;

/// <summary>
/// One tensor to write to a checkpoint: a name (PyTorch's <c>state_dict</c> key, e.g.
/// <c>layer1.0.bn1.running_mean</c>), a file dtype, a row-major shape and the raw little-endian bytes.
/// The bytes are not copied by the constructor: the caller must not change them until the save returns.
/// </summary>
public sealed class NamedArray
{
    /// <summary>Wraps raw little-endian bytes.</summary>
    /// <param name="name">Tensor name; not empty and not the reserved <c>__metadata__</c>.</param>
    /// <param name="dtype">Element type in the file.</param>
    /// <param name="shape">Row-major shape; the empty shape is a scalar (one element).</param>
    /// <param name="data">Exactly elements × dtype size bytes, little-endian.</param>
    /// <exception cref="ArgumentException">The name is empty or reserved, or the data length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined member.</exception>
    public NamedArray(string name, SafetensorsDType dtype, Shape shape, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
            throw new ArgumentException($"a tensor name is empty ({dtype.Name()} tensor of shape {shape})", nameof(name));
        if (name == Safetensors.MetadataKey)
            throw new ArgumentException($"tensor name '{name}' is reserved for the file's metadata", nameof(name));
        long expected;
        try { expected = checked(shape.Elements * dtype.Size()); }
        catch (OverflowException) { throw new ArgumentException($"tensor '{name}': shape {shape} is too large", nameof(shape)); }
        if (data.Length != expected)
            throw new ArgumentException($"tensor '{name}': {data.Length} bytes of data, but a {dtype.Name()} tensor of shape {shape} needs {expected}", nameof(data));
        Name = name;
        DType = dtype;
        Shape = shape;
        Data = data;
    }

    /// <summary>Wraps raw bytes of a DeepTrain element type.</summary>
    /// <exception cref="ArgumentException">The name is empty or reserved, or the data length does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="dtype"/> is not a defined member.</exception>
    public NamedArray(string name, DType dtype, Shape shape, ReadOnlyMemory<byte> data)
        : this(name, dtype.ToSafetensors(), shape, data) { }

    /// <summary>Tensor name, the key in the header.</summary>
    public string Name { get; }

    /// <summary>Element type in the file.</summary>
    public SafetensorsDType DType { get; }

    /// <summary>Row-major shape; rank 0 is a scalar.</summary>
    public Shape Shape { get; }

    /// <summary>Raw little-endian element bytes.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Copies fp32 values into an F32 tensor. No shape arguments make a scalar.</summary>
    /// <exception cref="ArgumentException">The name is empty or reserved, a dimension is negative, or the value count does not match the shape.</exception>
    public static NamedArray FromFloat32(string name, ReadOnlySpan<float> values, params ReadOnlySpan<int> shape)
        => new(name, SafetensorsDType.F32, ShapeOf(name, shape), LittleEndian.ToBytes(values));

    /// <summary>Copies fp64 values into an F64 tensor. No shape arguments make a scalar.</summary>
    /// <exception cref="ArgumentException">The name is empty or reserved, a dimension is negative, or the value count does not match the shape.</exception>
    public static NamedArray FromFloat64(string name, ReadOnlySpan<double> values, params ReadOnlySpan<int> shape)
        => new(name, SafetensorsDType.F64, ShapeOf(name, shape), LittleEndian.ToBytes(values));

    /// <summary>Copies fp16 values into an F16 tensor. No shape arguments make a scalar.</summary>
    /// <exception cref="ArgumentException">The name is empty or reserved, a dimension is negative, or the value count does not match the shape.</exception>
    public static NamedArray FromFloat16(string name, ReadOnlySpan<Half> values, params ReadOnlySpan<int> shape)
        => new(name, SafetensorsDType.F16, ShapeOf(name, shape), LittleEndian.ToBytes(values));

    /// <summary>Copies int32 values into an I32 tensor. No shape arguments make a scalar.</summary>
    /// <exception cref="ArgumentException">The name is empty or reserved, a dimension is negative, or the value count does not match the shape.</exception>
    public static NamedArray FromInt32(string name, ReadOnlySpan<int> values, params ReadOnlySpan<int> shape)
        => new(name, SafetensorsDType.I32, ShapeOf(name, shape), LittleEndian.ToBytes(values));

    /// <summary>
    /// Copies int64 values into an I64 tensor. No shape arguments make a scalar, which is how PyTorch
    /// stores BatchNorm's <c>num_batches_tracked</c>: <c>FromInt64("bn1.num_batches_tracked", [steps])</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The name is empty or reserved, a dimension is negative, or the value count does not match the shape.</exception>
    public static NamedArray FromInt64(string name, ReadOnlySpan<long> values, params ReadOnlySpan<int> shape)
        => new(name, SafetensorsDType.I64, ShapeOf(name, shape), LittleEndian.ToBytes(values));

    /// <summary>Copies bytes into a U8 tensor. No shape arguments make a scalar.</summary>
    /// <exception cref="ArgumentException">The name is empty or reserved, a dimension is negative, or the value count does not match the shape.</exception>
    public static NamedArray FromUInt8(string name, ReadOnlySpan<byte> values, params ReadOnlySpan<int> shape)
        => new(name, SafetensorsDType.U8, ShapeOf(name, shape), values.ToArray());

    private static Shape ShapeOf(string name, ReadOnlySpan<int> dims)
    {
        foreach (int d in dims)
            if (d < 0) throw new ArgumentException($"tensor '{name}': shape has a negative dimension {d}", nameof(dims));
        return new Shape(dims);
    }

    /// <inheritdoc />
    public override string ToString() => $"'{Name}' {DType.Name()} {Shape}";
}

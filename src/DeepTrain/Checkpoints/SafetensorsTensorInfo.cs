using DeepTrain.Tensors;

namespace DeepTrain.Checkpoints;

/// <summary>One header entry of a loaded safetensors file: name, dtype, shape and where its bytes lie.</summary>
public sealed class SafetensorsTensorInfo
{
    internal SafetensorsTensorInfo(string name, SafetensorsDType dtype, Shape shape, long dataBegin, long dataEnd)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        DataBegin = dataBegin;
        DataEnd = dataEnd;
    }

    /// <summary>Tensor name, the key in the header.</summary>
    public string Name { get; }

    /// <summary>Element type in the file.</summary>
    public SafetensorsDType DType { get; }

    /// <summary>Row-major shape; rank 0 is a scalar.</summary>
    public Shape Shape { get; }

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long Elements => Shape.Elements;

    /// <summary>First byte, relative to the data buffer after the header (<c>data_offsets[0]</c>).</summary>
    public long DataBegin { get; }

    /// <summary>One past the last byte, relative to the data buffer (<c>data_offsets[1]</c>).</summary>
    public long DataEnd { get; }

    /// <summary>Size of the tensor's data in bytes.</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <inheritdoc />
    public override string ToString() => $"'{Name}' {DType.Name()} {Shape} [{DataBegin}, {DataEnd})";
}

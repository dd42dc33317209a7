using System.Buffers.Binary;
using System.Runtime.InteropServices;
using DeepTrain.Onnx.Proto;
using Google.Protobuf;

namespace DeepTrain.Onnx;

/// <summary>
/// Builds one <see cref="GraphProto"/>: nodes in topological order, initializers (weights as little-endian raw_data, as
/// ONNX requires), graph inputs and outputs with a symbolic batch dimension. Every value and node name is unique.
/// </summary>
internal sealed class OnnxGraphWriter(string graphName)
{
    private readonly HashSet<string> _names = [];

    public GraphProto Graph { get; } = new() { Name = graphName };

    /// <summary><paramref name="name"/>, or it with a numeric suffix when taken; reserves the result.</summary>
    public string Unique(string name)
    {
        string candidate = name;
        for (int k = 1; !_names.Add(candidate); k++) candidate = $"{name}_{k}";
        return candidate;
    }

    /// <summary>Appends a node of the default (ai.onnx) domain that writes <paramref name="output"/>.</summary>
    public void Node(string opType, string name, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
    }

    /// <summary>Adds a float32 initializer and returns its (unique) name.</summary>
    public string Float(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        var bytes = new byte[data.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(data).CopyTo(bytes);
        else for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), data[i]);
        return Initializer(name, TensorProto.Types.DataType.Float, bytes, dims);
    }

    /// <summary>Adds an int64 initializer (shapes, pads, slice bounds) and returns its name.</summary>
    public string Int64(string name, ReadOnlySpan<long> data)
    {
        var bytes = new byte[data.Length * sizeof(long)];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), data[i]);
        return Initializer(name, TensorProto.Types.DataType.Int64, bytes, data.Length);
    }

    private string Initializer(string name, TensorProto.Types.DataType type, byte[] bytes, params long[] dims)
    {
        var t = new TensorProto { Name = Unique(name), DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        Graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A float32 tensor value whose first dimension is <paramref name="batchDim"/> and the rest <paramref name="sampleDims"/>.</summary>
    public static ValueInfoProto BatchedFloat(string name, string batchDim, ReadOnlySpan<int> sampleDims, string doc)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batchDim });
        foreach (int d in sampleDims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            DocString = doc,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto String(string name, string value)
        => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
}
